"""``sim soak``: run the soak and print its progress and final table; exit 1 if a check fails."""

from __future__ import annotations

import asyncio
import shutil
import signal
import tempfile
from pathlib import Path

from sim.soak.checks import Verdict
from sim.soak.orchestrator import SoakConfig, SoakError, run_soak
from sim.soak.report import passed, table

DEFAULT_SPEED = 600.0


def hours_for(days: float) -> int:
    """Soak hours for ``days`` simulated days: a warm-up hour, the days, a drain hour."""
    return round(days * 24) + 2


async def _until_stopped(cfg: SoakConfig) -> list[Verdict]:
    """The soak; SIGTERM (or SIGINT, also when started in the background) stops it and its
    processes cleanly."""
    task = asyncio.current_task()
    assert task is not None
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, task.cancel)
    return await run_soak(cfg, say=lambda line: print(line, flush=True))


def main(days: float, speed: float, workdir: Path | None, *, keep: bool) -> int:
    work = workdir or Path(tempfile.mkdtemp(prefix="gw-soak-"))
    cfg = SoakConfig(work, hours_for(days), speed)
    print(
        f"soak: {cfg.house}, {days:g} simulated days at {speed:g}x "
        f"(~{cfg.hours * 3600 / speed / 60:.0f} min), files in {work}",
        flush=True,
    )
    try:
        verdicts = asyncio.run(_until_stopped(cfg))
    except SoakError as e:
        print(f"soak: {e}")
        return 2
    print(table(verdicts))
    ok = passed(verdicts)
    if ok and not keep and workdir is None:
        shutil.rmtree(work, ignore_errors=True)
    return 0 if ok else 1
