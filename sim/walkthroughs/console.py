"""``sim walkthrough``: run a walkthrough on the terminal, narrated, and print its checks.

Exit codes: 0 every check passed (and the plot, if asked for, was drawn), 1 a check failed (or
the runtime stopped early, or the plot could not be written), 2 the walkthrough could not be run
(unknown name, a bad file, a bad option, ``--plot`` without matplotlib), 3 the run was stopped
before its end (SIGINT / SIGTERM, or its watcher quit gwtui early).

``--socket PATH`` serves the runtime's local API during the run for ``gwtui --socket PATH`` to
watch; ``--watch`` does that in a child process and opens gwtui here (:mod:`.watch`).
"""

from __future__ import annotations

import logging
import sys
from contextlib import nullcontext
from pathlib import Path
from typing import TextIO

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from scada.api.paths import check_socket_path
from sim.walkthroughs.load import (
    UnknownWalkthroughError,
    WalkthroughError,
    available,
    find_walkthrough,
    load_walkthrough,
    walkthroughs_dir,
)
from sim.walkthroughs.plot import PlotUnavailableError, plot_report, require_matplotlib
from sim.walkthroughs.runner import Options, WalkReport, prepare, run, watch_speed
from sim.walkthroughs.spec import format_duration

OK, FAILED, UNUSABLE, STOPPED = 0, 1, 2, 3


def main(
    name: str | None,
    *,
    house: str | None = None,
    speed: float | None = None,
    list_only: bool = False,
    plot: Path | None = None,
    socket: Path | None = None,
    watch: bool = False,
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
        print("which walkthrough? sim walkthrough NAME; the walkthroughs are:", file=err)
        print_list(err)
        return UNUSABLE
    problem = _option_problem(speed, plot, socket, watch)
    if problem is not None:
        print(problem, file=err)
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
    if watch:
        from sim.walkthroughs.watch import watch as watch_live  # noqa: PLC0415 - rarely used

        return watch_live(name, house=house, speed=speed, plot=plot, out=out, err=err)
    logging.basicConfig(level=logging.ERROR, stream=err)
    print(f"walkthrough {name}: {wt.description.strip()}", file=out)
    print(
        f"on {house or wt.house}, from {wt.start:%a %Y-%m-%d %H:%M} for "
        f"{format_duration(wt.duration)}, {_pace(speed, socket)}",
        file=out,
    )
    if socket is not None:
        print(f"serving its local API on {socket}: watch with gwtui --socket {socket}", file=out)
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

    opts = Options(
        house=house,
        speed=speed,
        narrate=narrate,
        progress=progress,
        socket=socket,
        stop_signals=True,
    )
    try:
        with bar if bar is not None else nullcontext():
            report = run(wt, name=name, file=str(path), options=opts)
    except WalkthroughError as e:
        print(f"walkthrough {name} cannot run:\n{e}", file=err)
        return UNUSABLE
    print_report(report, out)
    if report.stopped is not None:
        return STOPPED
    if plot is not None:
        try:
            plot_report(report, plot)
        except (OSError, PlotUnavailableError) as e:
            print(f"cannot draw {plot}: {e}", file=err)
            return FAILED
        print(f"plot: {plot}", file=out)
    return OK if report.ok else FAILED


def _pace(speed: float | None, socket: Path | None) -> str:
    chosen = watch_speed(Options(speed=speed, socket=socket))
    if chosen is None:
        return "as fast as possible"
    if speed is None:
        return f"at {chosen:g}x real time (the pace for a console to watch; --speed sets another)"
    return f"at {chosen:g}x real time"


def _option_problem(
    speed: float | None, plot: Path | None, socket: Path | None, watch: bool
) -> str | None:
    """What is wrong with the options, found before a possibly long run."""
    if speed is not None and speed <= 0:
        return f"--speed must be positive, not {speed:g}"
    if plot is not None and (problem := _plot_problem(plot)) is not None:
        return problem
    if socket is None:
        return None
    if watch:
        return "--watch serves on a private socket of its own: give --watch or --socket, not both"
    try:
        check_socket_path(socket)
    except ValueError as e:
        return f"--socket: {e}"
    return None


def _plot_problem(path: Path) -> str | None:
    """Why ``--plot path`` cannot be drawn, found before a possibly long run."""
    if path.suffix.lower() != ".png":
        return f"--plot draws a PNG: give a file ending in .png, not '{path.name}'"
    if not path.parent.is_dir():
        return f"--plot: no folder {path.parent} to write {path.name} in"
    try:
        require_matplotlib()
    except PlotUnavailableError as e:
        return str(e)
    return None


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
    if report.stopped is not None:
        at = (report.start + report.stopped).strftime("%a %m-%d %H:%M")
        print(
            f"stopped at simulated {at} (+{format_duration(report.stopped)} of "
            f"{format_duration(report.duration)}), before its end: its checks were not judged",
            file=out,
        )
        return
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
