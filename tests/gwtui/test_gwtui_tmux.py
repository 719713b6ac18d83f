"""End to end in a real terminal: tmux runs ``scada serve --sim`` and ``gwtui`` side by side,
keys go in with send-keys, and the screen is read back with capture-pane."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

TMUX = shutil.which("tmux")
BIN = Path(sys.executable).parent
OPERATOR = "E2E"


class Terminal:
    """A private tmux server (its own socket name, so no user session is touched)."""

    def __init__(self, name: str, workdir: Path) -> None:
        self.name = name
        self.workdir = workdir
        self.env = {**os.environ, "TERM": "xterm-256color", "COLORTERM": "truecolor"}

    def tmux(self, *args: str) -> str:
        assert TMUX is not None
        run = subprocess.run(
            [TMUX, "-L", self.name, *args],
            capture_output=True,
            text=True,
            check=False,
            env=self.env,
            timeout=20,
        )
        if run.returncode != 0:
            raise AssertionError(f"tmux {' '.join(args)}: {run.stderr}")
        return run.stdout

    def screen(self, window: str) -> str:
        return self.tmux("capture-pane", "-p", "-t", f"e2e:{window}")

    def keys(self, window: str, *keys: str) -> None:
        self.tmux("send-keys", "-t", f"e2e:{window}", *keys)

    def wait(
        self, window: str, check: Callable[[str], bool], what: str, timeout_s: float = 20
    ) -> str:
        deadline = time.monotonic() + timeout_s
        while True:
            text = self.screen(window)
            if check(text):
                return text
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}; the screen was:\n{text}")
            time.sleep(0.1)


@pytest.fixture
def terminal() -> Iterator[Terminal]:
    if TMUX is None:
        pytest.skip(
            "tmux is not installed: this real-terminal test needs it (apt-get install tmux)"
        )
    workdir = Path(tempfile.mkdtemp(prefix="gwx", dir="/tmp"))
    # A server of its own per test: the last test's server may still be exiting after its
    # kill-server, and a new session on the same socket then fails ("server exited
    # unexpectedly").
    term = Terminal(f"gwtui-e2e-{os.getpid()}-{workdir.name}", workdir)
    try:
        yield term
    finally:
        subprocess.run([TMUX, "-L", term.name, "kill-server"], capture_output=True, check=False)
        shutil.rmtree(workdir, ignore_errors=True)


def test_a_relay_toggled_under_a_hold_is_confirmed_in_a_real_terminal(terminal: Terminal) -> None:
    sock = terminal.workdir / "s.sock"
    serve = (
        f"{BIN / 'scada'} serve --sim --socket {sock} --data-dir {terminal.workdir / 'd'}"
        f" > {terminal.workdir / 'serve.log'} 2>&1"
    )
    terminal.tmux("new-session", "-d", "-s", "e2e", "-n", "scada", "-x", "80", "-y", "24", serve)
    deadline = time.monotonic() + 20
    while not sock.exists():
        assert time.monotonic() < deadline, (terminal.workdir / "serve.log").read_text()
        time.sleep(0.05)
    console = f"{BIN / 'gwtui'} --socket {sock} --operator {OPERATOR}"
    terminal.tmux("new-window", "-t", "e2e", "-n", "console", console)

    # Wait for the whole first frame: the sensors draw before the actuator pane below them.
    first = terminal.wait(
        "console", lambda s: "LIVE" in s and "tank-temp0" in s and "Actuators" in s, "the console"
    )
    assert "SIMULATED" in first
    assert "Actuators" in first

    terminal.keys("console", "h")
    terminal.wait("console", lambda s: "Take an admin hold" in s, "the hold dialog")
    terminal.keys("console", "Enter")
    terminal.wait("console", lambda s: f"ADMIN HOLD {OPERATOR} (you)" in s, "the hold")

    terminal.keys("console", "Tab")  # to the actuators; the first row is the boost element
    terminal.keys("console", "t")
    terminal.wait("console", lambda s: "Press y to confirm" in s, "the confirmation")
    time.sleep(0.4)  # past the auto-repeat guard
    terminal.keys("console", "y")
    # ON or OFF, whichever the relay was not: the ATN may have switched it before the hold.
    screen = terminal.wait(
        "console",
        lambda s: f"confirmed · ON by {OPERATOR}" in s or f"confirmed · OFF by {OPERATOR}" in s,
        "the read-back",
        timeout_s=30,
    )
    assert "30A relay for first bo" in screen

    terminal.keys("console", "q")
    deadline = time.monotonic() + 20
    while "console" in terminal.tmux("list-windows", "-t", "e2e", "-F", "#{window_name}"):
        assert time.monotonic() < deadline, "gwtui did not quit"
        time.sleep(0.1)
    status = subprocess.run(
        [str(BIN / "scada"), "status", "--json", "--socket", str(sock)],
        capture_output=True,
        text=True,
        check=True,
        timeout=20,
    )
    snap = json.loads(status.stdout)
    assert snap["hold"] is None  # quitting released the hold
    relay = next(a for a in snap["actuators"] if a["node"] == "a.elt1.relay")
    assert relay["last_result"]["outcome"] == "confirmed"


def _descendants(pid: int) -> list[int]:
    """Every process below ``pid``, from /proc."""
    parents: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # gone meanwhile
        parents.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        kids = parents.get(todo.pop(), [])
        found += kids
        todo += kids
    return found


def _cmdline(pid: int) -> list[str]:
    try:
        return (Path("/proc") / str(pid) / "cmdline").read_bytes().decode().split("\0")
    except OSError:
        return []


def test_a_walkthrough_watched_live_is_stopped_when_the_console_quits(terminal: Terminal) -> None:
    """``sim walkthrough --watch``: gwtui shows the run's house live in this terminal; quitting
    it early stops the run's process and says where it was."""
    watch = (
        f"{BIN / 'sim'} walkthrough installer-session --watch --speed 600; echo EXIT=$?; sleep 60"
    )
    terminal.tmux("new-session", "-d", "-s", "e2e", "-n", "watch", "-x", "120", "-y", "40", watch)
    clock = re.compile(r"LIVE (\d\d:\d\d:\d\d)Z")

    def live(screen: str) -> bool:
        return "Circulator pump relay" in screen and clock.search(screen) is not None

    first = terminal.wait("watch", live, "the walkthrough's house in gwtui")
    assert "dw1.isone.nh.orange.1" in first
    assert "READ-ONLY" in first
    began = clock.search(first)
    assert began is not None
    terminal.wait(
        "watch",
        lambda s: (m := clock.search(s)) is not None and m.group(1) != began.group(1),
        "simulated time to go by on the console",
    )
    pane = int(terminal.tmux("display-message", "-p", "-t", "e2e:watch", "#{pane_pid}"))
    runs = [p for p in _descendants(pane) if {"walkthrough", "--socket"} <= set(_cmdline(p))]
    assert len(runs) == 1, [_cmdline(p) for p in _descendants(pane)]

    terminal.keys("watch", "q")
    screen = terminal.wait("watch", lambda s: "EXIT=" in s, "the report")
    assert "EXIT=3" in screen
    assert "walkthrough installer-session was stopped before its end:" in screen
    assert "stopped at simulated Wed 01-10 1" in screen
    assert not Path(f"/proc/{runs[0]}").exists()
    kept = re.search(r"the whole narration: (\S+)", screen)
    assert kept is not None
    shutil.rmtree(Path(kept.group(1)).parent)  # the log kept for a user, not for a test


def test_closing_the_terminal_of_make_demo_leaves_nothing_running(terminal: Terminal) -> None:
    """A dropped SSH session (here: the tmux window killed) under ``make demo``: make catches
    the hang-up and sends none on, so gwtui must notice its terminal is gone, quit, and the
    demo then stops the SCADA it started. Nothing may be left running or spinning."""
    makefile = terminal.workdir / "Makefile"
    makefile.write_text(f"demo:\n\t{BIN / 'python'} -m sim.demo\n")
    terminal.tmux("new-session", "-d", "-s", "e2e", "-n", "idle", "-x", "100", "-y", "30", "sh")
    # The shell execs make (the last command): make leads the session, as over SSH.
    run_make = f"cd {Path.cwd()} && make -f {makefile} demo"
    terminal.tmux("new-window", "-d", "-t", "e2e", "-n", "make", run_make)
    terminal.wait("make", lambda s: "Circulator pump relay" in s, "the demo's house in gwtui")
    pane = int(terminal.tmux("display-message", "-p", "-t", "e2e:make", "#{pane_pid}"))
    started = _descendants(pane)
    names = [" ".join(_cmdline(p)) for p in started]
    assert any("gwtui" in n for n in names), names
    assert any("scada serve" in n for n in names), names
    terminal.tmux("kill-window", "-t", "e2e:make")
    deadline = (
        time.monotonic() + 30
    )  # under load: gwtui notices within a second, the SCADA may take seconds to stop
    while (alive := [p for p in started if Path(f"/proc/{p}").exists()]) and (
        time.monotonic() < deadline
    ):
        time.sleep(0.2)
    left = [" ".join(_cmdline(p)) for p in alive]
    for pid in alive:  # not for the test's sake: so a failure leaves no strays behind
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    assert not alive, left
