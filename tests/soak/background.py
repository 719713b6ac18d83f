"""The shortened soak, started in a thread at the beginning of the test session.

It spends about a real minute mostly waiting on its own processes (mosquitto, ``scada serve``
at 600x, the ATN), which use well under a core between them: run beside the rest of the suite,
it costs the session next to nothing instead of a minute at the end. The test in
``test_soak.py`` collects its verdicts.
"""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

from sim.soak.checks import Verdict
from sim.soak.orchestrator import SoakConfig, run_soak

HOURS = 8  # warm-up, five faults, the SIGKILL, the drain
KILL_EVERY_H = 6  # the kill in the sixth hour of the plan, after one fault of each kind
SPEED = 600.0


class BackgroundSoak:
    """``run_soak`` on an event loop of its own, in a thread; :meth:`result` waits for it."""

    def __init__(self, workdir: Path) -> None:
        self.lines: list[str] = []
        self.wall_s: float | None = None
        self._verdicts: list[Verdict] | None = None
        self._error: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[list[Verdict]] | None = None
        self._config = SoakConfig(workdir, hours=HOURS, speed=SPEED, kill_every_h=KILL_EVERY_H)
        self._thread = threading.Thread(target=self._run, name="background-soak", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        began = time.monotonic()
        try:
            asyncio.run(self._main())
        except BaseException as e:  # handed to the test, which re-raises it
            self._error = e
        finally:
            self.wall_s = time.monotonic() - began

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._task = asyncio.current_task()
        self._verdicts = await run_soak(self._config, say=self.lines.append)

    def result(self, timeout_s: float) -> list[Verdict]:
        """The verdicts, once the soak ended (re-raising what stopped it)."""
        self._thread.join(timeout_s)
        if self._thread.is_alive():
            raise AssertionError(f"the soak did not end within {timeout_s:g} s")
        if self._error is not None:
            raise self._error
        assert self._verdicts is not None
        return self._verdicts

    def stop(self, timeout_s: float = 60.0) -> None:
        """Cancel a soak nobody waits for any more (its clean-up stops its processes)."""
        loop, task = self._loop, self._task
        if self._thread.is_alive() and loop is not None and task is not None:
            loop.call_soon_threadsafe(task.cancel)
        self._thread.join(timeout_s)
