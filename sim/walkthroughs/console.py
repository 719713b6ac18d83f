"""``sim walk``: run a walkthrough on the terminal, narrated, and print its checks.

Exit codes: 0 every check passed, 1 a check failed (or the runtime stopped early), 2 the
walkthrough could not be run (unknown name, a bad file, a bad option).
"""

from __future__ import annotations

import logging
import sys
from contextlib import nullcontext
from typing import TextIO

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from sim.walkthroughs.load import (
    UnknownWalkthroughError,
    WalkthroughError,
    available,
    find_walkthrough,
    load_walkthrough,
    walkthroughs_dir,
)
from sim.walkthroughs.runner import Options, WalkReport, prepare, run
from sim.walkthroughs.spec import format_duration

OK, FAILED, UNUSABLE = 0, 1, 2


def main(
    name: str | None,
    *,
    house: str | None = None,
    speed: float | None = None,
    list_only: bool = False,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    """Run walkthrough ``name`` (or list them); returns the exit code."""
    out = out or sys.stdout
    err = err or sys.stderr
    if list_only:
        print_list(out)
        return OK
    if name is None:
        print("which walkthrough? sim walk NAME; the walkthroughs are:", file=err)
        print_list(err)
        return UNUSABLE
    if speed is not None and speed <= 0:
        print(f"--speed must be positive, not {speed:g}", file=err)
        return UNUSABLE
    try:
        path = find_walkthrough(name)
        wt = load_walkthrough(path)
        prepare(wt, file=str(path), options=Options(house=house))
    except UnknownWalkthroughError as e:
        print(e, file=err)
        return UNUSABLE
    except WalkthroughError as e:
        print(f"walkthrough {name} cannot run:\n{e}", file=err)
        return UNUSABLE
    logging.basicConfig(level=logging.ERROR, stream=err)
    pace = "as fast as possible" if speed is None else f"at {speed:g}x real time"
    print(f"walkthrough {name}: {wt.description.strip()}", file=out)
    print(
        f"on {house or wt.house}, from {wt.start:%a %Y-%m-%d %H:%M} for "
        f"{format_duration(wt.duration)}, {pace}",
        file=out,
    )
    console = Console(file=out, highlight=False, soft_wrap=True)
    live = out.isatty()
    bar = (
        Progress(
            TextColumn("simulated"),
            BarColumn(),
            TextColumn("{task.percentage:>3.0f}%"),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        )
        if live
        else None
    )
    task = bar.add_task("run", total=wt.duration.total_seconds()) if bar is not None else None

    def narrate(line: str) -> None:
        (bar.console if bar is not None else console).print(line, markup=False)

    def progress(done_s: float, _total_s: float) -> None:
        if bar is not None and task is not None:
            bar.update(task, completed=done_s)

    opts = Options(house=house, speed=speed, narrate=narrate, progress=progress)
    try:
        with bar if bar is not None else nullcontext():
            report = run(wt, name=name, file=str(path), options=opts)
    except WalkthroughError as e:
        print(f"walkthrough {name} cannot run:\n{e}", file=err)
        return UNUSABLE
    print_report(report, out)
    return OK if report.ok else FAILED


def print_list(out: TextIO) -> None:
    """Every walkthrough, with the first line of what it shows."""
    names = available()
    if not names:
        print(f"  (none in {walkthroughs_dir()})", file=out)
    for name in names:
        try:
            wt = load_walkthrough(find_walkthrough(name))
        except (WalkthroughError, UnknownWalkthroughError) as e:
            first = str(e).splitlines()[0]
            print(f"  {name:<20} (cannot run: {first})", file=out)
            continue
        summary = " ".join(wt.description.split())
        length = format_duration(wt.duration)
        print(f"  {name:<20} {length:>6}  {wt.house}: {_clip(summary, 90)}", file=out)


def print_report(report: WalkReport, out: TextIO) -> None:
    """Each check's verdict, then the run's figures."""
    print(file=out)
    for r in report.results:
        mark = "PASS" if r.ok else "FAIL"
        print(f"{mark}  {r.label}: {r.detail}", file=out)
    if report.error is not None:
        print(f"FAIL  the runtime ran to the end: {report.error}", file=out)
    simulated = report.duration.total_seconds()
    pace = simulated / report.wall_s if report.wall_s > 0 else float("inf")
    print(
        f"\n{report.passed}/{len(report.results)} checks passed; "
        f"{format_duration(report.duration)} of {report.house} simulated in "
        f"{report.wall_s:.1f} s ({pace:,.0f}x); electricity {report.energy_kwh:.1f} kWh, "
        f"${report.cost_usd:.2f}; comfort {report.comfort_share:.1%}",
        file=out,
    )


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"
