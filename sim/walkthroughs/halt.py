"""Ending a walkthrough run early, on SIGINT or SIGTERM, with a report of where it stopped.

A signal only sets an :class:`asyncio.Event`; the run's waits watch that event beside the clock
and the runtime, so a signal wakes the run at once and it shuts down the usual way (the runtime
stopped, the record closed where it got to) instead of dying mid-write. It is opt-in because
asyncio installs signal handlers from the main thread only, and a caller embedding a run may
want the signals for itself.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable
from datetime import datetime

from scada.clock import LoopClock, sleep_until


class HaltedError(Exception):
    """A stop signal ended the run before its end."""


def catch_stop_signals(halt: asyncio.Event, *, enabled: bool) -> Callable[[], None]:
    """When ``enabled``, let SIGINT and SIGTERM set ``halt`` until the returned function is
    called. Must be called inside the running loop (from the main thread when ``enabled``)."""
    signals = (signal.SIGINT, signal.SIGTERM) if enabled else ()
    loop = asyncio.get_running_loop()
    for sig in signals:
        loop.add_signal_handler(sig, halt.set)

    def release() -> None:
        for sig in signals:
            loop.remove_signal_handler(sig)

    return release


async def wait_until(
    clock: LoopClock, when: datetime, running: asyncio.Task[object], halt: asyncio.Event
) -> bool:
    """Sleep until ``when`` on ``clock``; True if the runtime (``running``) ended on the way.

    Raises:
        HaltedError: ``halt`` was set first, with the runtime still running (a runtime that
            ended is reported as such, not as a stop).
    """
    sleeper = asyncio.ensure_future(sleep_until(clock, when))
    halted = asyncio.ensure_future(halt.wait())
    try:
        await asyncio.wait({sleeper, running, halted}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        sleeper.cancel()
        halted.cancel()
    if halt.is_set() and not running.done():
        raise HaltedError
    return running.done()
