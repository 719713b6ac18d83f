"""A walkthrough watched live: its runtime serves the local API on a real Unix socket while it
runs (a real API client sees virtual time go by, the mode, the hold and the relays it scripts),
tells the consoles when it is over, and ``--watch`` runs it as a real child process that is
stopped when the console quits early and reported when it has finished."""

from __future__ import annotations

import asyncio
import io
import os
import shutil
import signal
import socket
import subprocess
import time
from datetime import datetime
from pathlib import Path

import pytest

from scada.api.client import ApiClient
from scada.api.server import peer_credentials
from scada.protocol import EventFrame, EventKind, LogLine, Mode, RelayState, Snapshot
from sim.demo import bin_path
from sim.walkthroughs import Options, WalkReport, parse_walkthrough, run
from sim.walkthroughs import console as walk_console
from sim.walkthroughs.linger import LINGER_GRACE_S
from sim.walkthroughs.runner import WATCH_SPEED, watch_speed
from sim.walkthroughs.watch import watch

PUMP = "a.tank.out.pump.relay"
SHORT = f"""
description = "Twenty minutes: an installer holds the house and turns the pump off."
house = "dw1.isone.nh.orange.1"
start = 2024-01-10T10:00:00
duration = "20m"

[fidelity]
physics_step_s = 10
sensor_period_floor_s = 15
pulses_per_gallon_max = 5

[[steps]]
at = "5m"
do = "hold.take"
operator = "installer"
minutes = 30

[[steps]]
at = "6m"
do = "relay.set"
node = "{PUMP}"
state = "off"
operator = "installer"

[[expect]]
check = "boss"
at = "10m"
boss = "admin"

[[expect]]
name = "the pump stays off for the installer"
check = "relay_throughout"
node = "{PUMP}"
state = "off"
after = "7m"
before = "20m"
"""
OVER = "short is over: 2/2 checks passed"


@pytest.fixture
def short(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The walkthrough ``short`` (found by name, in this process and its children), and a
    folder short enough for a socket."""
    (tmp_path / "short.toml").write_text(SHORT)
    monkeypatch.setenv("SCADA_WALKTHROUGHS_DIR", str(tmp_path))
    return tmp_path


def _wait_for(path: Path, timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not path.exists():
        assert time.monotonic() < deadline, f"nothing served on {path}"
        time.sleep(0.02)


async def _until_over(client: ApiClient, seen: list[str]) -> None:
    """Read the events until the walkthrough says it is over, keeping its log lines."""
    async for item in client.events():
        if isinstance(item, EventFrame) and isinstance(item.payload, LogLine):
            seen.append(item.payload.message)
            if item.payload.message.startswith("short is over"):
                return


def _pump(snap: Snapshot) -> RelayState | None:
    return next(a.state for a in snap.actuators if a.node == PUMP)


def test_a_console_speed_is_chosen_when_none_is_given(tmp_path: Path) -> None:
    assert watch_speed(Options()) is None
    assert watch_speed(Options(socket=tmp_path / "s.sock")) == WATCH_SPEED
    assert watch_speed(Options(socket=tmp_path / "s.sock", speed=600)) == 600


async def test_a_client_watches_the_run_live_and_is_told_when_it_is_over(tmp_path: Path) -> None:
    sock = tmp_path / "s.sock"
    wt = parse_walkthrough(SHORT, "short.toml")
    started = time.monotonic()
    running = asyncio.create_task(
        asyncio.to_thread(run, wt, name="short", options=Options(socket=sock, speed=300))
    )
    await asyncio.to_thread(_wait_for, sock)
    client = await ApiClient.connect(sock)
    said: list[str] = []
    over = asyncio.create_task(_until_over(client, said))
    snaps: list[Snapshot] = []
    while not over.done():
        snaps.append(await client.snapshot())
        await asyncio.wait({over}, timeout=0.2)
    await over
    await client.close()
    report: WalkReport = await running
    ended = time.monotonic()

    times: list[datetime] = [s.taken_at for s in snaps]
    assert times == sorted(times)
    assert (times[-1] - times[0]).total_seconds() > 10 * 60  # most of the 20 minutes, live
    assert {s.mode for s in snaps} == {Mode.REMOTE}
    held = [s for s in snaps if s.hold is not None]
    assert held
    assert {s.hold.operator for s in held if s.hold is not None} == {"installer"}
    assert _pump(held[-1]) is RelayState.OFF
    assert any(_pump(s) is RelayState.ON for s in snaps if s.hold is None)
    # The narration reached the console's log, then the end of the run.
    assert any("hold.take: installer takes the admin hold" in line for line in said)
    assert said[-1].startswith(OVER)

    assert report.ok, [r.detail for r in report.results]
    assert report.stopped is None
    assert not sock.exists()
    # The runtime waited for the console to detach, then for the grace, then stopped; the
    # report's pace leaves that out.
    assert report.wall_s < ended - started - LINGER_GRACE_S + 0.5


def _child_pid(sock: Path) -> int:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.connect(os.fspath(sock))
        return peer_credentials(s).pid


def _kept_log(text: str) -> str:
    """The log ``watch`` keeps for the user, read and removed with its folder (not to litter
    /tmp)."""
    log = Path(text.rsplit("the whole narration: ", 1)[1].strip())
    content = log.read_text()
    shutil.rmtree(log.parent)
    return content


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


@pytest.mark.e2e
def test_watch_stops_the_child_when_the_console_quits_early(short: Path) -> None:
    pids: list[int] = []

    def console(sock: Path) -> int:
        pids.append(_child_pid(sock))

        async def look() -> None:
            async with await ApiClient.connect(sock) as client:
                await client.snapshot()

        asyncio.run(look())
        return 0

    out, err = io.StringIO(), io.StringIO()
    code = watch("short", speed=60, console=console, out=out, err=err)
    text = out.getvalue()
    assert code == walk_console.STOPPED, text + err.getvalue()
    assert _gone(pids[0])
    assert "walkthrough short was stopped before its end:" in text
    assert "stopped at simulated Wed 01-10 10:0" in text
    assert "(+" in text
    assert "of 20m), before its end: its checks were not judged" in text
    assert "PASS" not in text
    assert "stopped before the end, as asked" in _kept_log(text)


@pytest.mark.e2e
def test_watch_reports_the_finished_run_when_the_console_quits(short: Path) -> None:
    pids: list[int] = []

    def console(sock: Path) -> int:
        pids.append(_child_pid(sock))

        async def until_over() -> None:
            async with await ApiClient.connect(sock) as client:
                await client.subscribe([EventKind.LOG])
                await _until_over(client, [])

        asyncio.run(until_over())
        return 0

    out, err = io.StringIO(), io.StringIO()
    code = watch("short", speed=600, console=console, out=out, err=err)
    text = out.getvalue()
    assert code == walk_console.OK, text + err.getvalue()
    assert _gone(pids[0])
    assert "relay.set: installer turns a.tank.out.pump.relay off -> confirmed" in text
    assert "PASS  boss at 10m is admin: it was admin" in text
    assert "PASS  the pump stays off for the installer" in text
    assert "2/2 checks passed; 20m of dw1.isone.nh.orange.1 simulated" in text
    assert "hold.take: installer takes the admin hold" in _kept_log(text)


@pytest.mark.e2e
def test_sigterm_stops_a_served_run_and_says_where(short: Path) -> None:
    """``sim walkthrough --socket`` with no speed runs at the console pace, says so, and a
    SIGTERM mid-run stops it cleanly with where it was (exit 3)."""
    sock = short / "s.sock"
    child = subprocess.Popen(
        [bin_path("sim"), "walkthrough", "short", "--socket", str(sock)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        _wait_for(sock)
        child.send_signal(signal.SIGTERM)
        text, _ = child.communicate(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert child.returncode == walk_console.STOPPED, text
    lines = text.splitlines()
    assert lines[1].endswith(
        f"for 20m, at {WATCH_SPEED:g}x real time (the pace for a console to watch; "
        "--speed sets another)"
    )
    assert lines[2] == f"serving its local API on {sock}: watch with gwtui --socket {sock}"
    assert "stopped before the end, as asked" in text
    assert "stopped at simulated Wed 01-10 10:0" in text
    assert not sock.exists()
