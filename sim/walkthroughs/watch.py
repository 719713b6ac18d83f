"""``sim walkthrough NAME --watch``: run a walkthrough in a child process and watch it in gwtui.

The child is ``sim walkthrough NAME --socket SOCK --speed S`` on a private socket in a temporary
folder, its narration and report going to ``walkthrough.log`` there (launched as ``sim demo``
launches ``scada serve``). gwtui attaches to it in this terminal. When gwtui exits the child is
sent SIGTERM and waited for: a run that had reached its end (it keeps serving its final state
to the console until then) prints its report, and this prints the narration's tail and the
checks, exiting with the run's status; a run cut short says where it was stopped.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

from sim.demo import (
    HungUpError,
    bin_path,
    gwtui_command,
    hangup_stops_children,
    stop,
    wait_for_socket,
)
from sim.walkthroughs.console import STOPPED
from sim.walkthroughs.runner import WATCH_SPEED

Console = Callable[[Path], int]
"""Shows the run served on the socket to the user until they are done; returns an exit code."""

NARRATION_TAIL = 8
_REPORT_START = re.compile(r"(PASS  |FAIL  |stopped at simulated |\d+/\d+ checks passed)")

WATCHER = "walkthrough-watcher"
"""The console's operator: never one the walkthrough scripts, whose hold gwtui would keep alive
and release on quitting as its own."""


def open_gwtui(sock: Path) -> int:
    """gwtui, read-only (the run is judged against its script, so the console must not steer
    it), and with nothing to offer once the run's socket has gone."""
    return subprocess.call([*gwtui_command(sock, WATCHER), "--readonly", "--no-sim-offer"])


def watch(
    name: str,
    *,
    house: str | None = None,
    speed: float | None = None,
    plot: Path | None = None,
    out: TextIO | None = None,
    err: TextIO | None = None,
    console: Console = open_gwtui,
) -> int:
    """Run walkthrough ``name`` in a child process, show it in ``console``, then report it."""
    out = out or sys.stdout
    err = err or sys.stderr
    # /tmp, not $TMPDIR: an AF_UNIX path must stay short.
    workdir = Path(tempfile.mkdtemp(prefix="gwwatch-", dir="/tmp"))
    sock = workdir / "scada.sock"
    log_path = workdir / "walkthrough.log"
    pace = speed or WATCH_SPEED
    child_cmd = [
        bin_path("sim"),
        "walkthrough",
        name,
        "--socket",
        str(sock),
        "--speed",
        f"{pace:g}",
        *(["--house", house] if house is not None else []),
        *(["--plot", str(plot.resolve())] if plot is not None else []),
    ]
    print(f"running walkthrough {name} at {pace:g}x (log: {log_path})", file=out, flush=True)
    with log_path.open("w") as log:
        child = subprocess.Popen(
            child_cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        with hangup_stops_children():
            problem = wait_for_socket(child, sock, log_path, f"walkthrough {name}")
            if problem is not None:
                print(problem, file=err)
                return child.returncode if child.returncode is not None else 1
            console(sock)
    except (KeyboardInterrupt, HungUpError):
        pass  # stopped and reported below, like a console quit early
    finally:
        stop(child)
        sock.unlink(missing_ok=True)
    code = child.returncode
    _report(name, log_path.read_text().splitlines(), code, out)
    print(f"the whole narration: {log_path}", file=out)
    return code


def _report(name: str, lines: list[str], code: int, out: TextIO) -> None:
    """The narration's last lines, then the child's report (or where it was stopped)."""
    start = next((i for i, line in enumerate(lines) if _REPORT_START.match(line)), len(lines))
    if code == STOPPED:
        print(f"walkthrough {name} was stopped before its end:", file=out)
    narration = [line for line in lines[:start] if line.strip()]
    if len(narration) > NARRATION_TAIL:
        print("  …", file=out)
    for line in narration[-NARRATION_TAIL:]:
        print(line, file=out)
    if start == len(lines) and code != 0:
        print(f"walkthrough {name} ended without a report (exit {code})", file=out)
    print(file=out)
    for line in lines[start:]:
        print(line, file=out)
