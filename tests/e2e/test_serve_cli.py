"""`scada serve` as a real process, driven by the `scada` CLI from another process."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from tests.e2e.serving import BIN, scada_serve

pytestmark = pytest.mark.e2e


def _wait_for_values(served_cli: object, tries: int = 100) -> dict[str, object]:
    for _ in range(tries):
        run = served_cli("status", "--json")  # type: ignore[operator]
        assert run.returncode == 0, run.stderr
        snap: dict[str, object] = json.loads(run.stdout)
        chans = snap["channels"]
        assert isinstance(chans, list)
        if all(c["health"] == "ok" for c in chans):
            return snap
        time.sleep(0.1)
    raise AssertionError("channels never all became ok")


def test_status_relay_hold_mode_against_a_running_scada() -> None:
    with scada_serve("--no-atn") as s:
        snap = _wait_for_values(s.cli)
        assert snap["house_alias"] == "dw1.isone.nh.orange.1"
        assert snap["simulated"] is True
        assert snap["mode"] == "local"

        plain = s.cli("status")
        assert plain.returncode == 0
        assert "SIMULATED" in plain.stdout
        assert "tank-temp0" in plain.stdout

        refused = s.cli("relay", "a.elt1.relay", "on", "--operator", "alice")
        assert refused.returncode == 1
        assert "obeys home_alone" in refused.stderr

        took = s.cli("hold", "take", "--operator", "alice", "--minutes", "5")
        assert took.returncode == 0, took.stderr
        assert "admin hold by alice" in took.stdout

        other = s.cli("relay", "a.elt1.relay", "on", "--operator", "bob")
        assert other.returncode == 1
        assert "bob does not hold it" in other.stderr

        done = s.cli("relay", "a.elt1.relay", "on", "--operator", "alice")
        assert done.returncode == 0, done.stderr
        assert "a.elt1.relay: confirmed" in done.stdout

        unknown = s.cli("relay", "a.nothing", "on", "--operator", "alice")
        assert unknown.returncode == 1
        assert "no actuator 'a.nothing'" in unknown.stderr

        remote = s.cli("mode", "remote", "--operator", "alice")
        assert remote.returncode == 1
        assert "RemoteControl needs a live contract" in remote.stderr

        after = json.loads(s.cli("status", "--json").stdout)
        elt = next(a for a in after["actuators"] if a["node"] == "a.elt1.relay")
        assert elt["state"] == "on"
        assert elt["boss"] == "admin"
        assert after["hold"]["operator"] == "alice"

        released = s.cli("hold", "release", "--operator", "alice")
        assert released.returncode == 0, released.stderr
        assert "home_alone is boss" in released.stdout
        back = json.loads(s.cli("status", "--json").stdout)
        assert back["hold"] is None
        assert all(a["boss"] == "home_alone" for a in back["actuators"])


def test_plain_sim_serve_goes_to_remote_control_under_its_simulated_atn() -> None:
    with scada_serve() as s:
        deadline = time.monotonic() + 20
        snap: dict[str, object] = {}
        while time.monotonic() < deadline:
            snap = json.loads(s.cli("status", "--json").stdout)
            if snap["mode"] == "remote":
                break
            time.sleep(0.2)
        assert snap["mode"] == "remote", snap.get("link")
        contract = snap["contract"]
        assert isinstance(contract, dict)
        assert contract["status"] == "active"
        actuators = snap["actuators"]
        assert isinstance(actuators, list)
        assert all(a["boss"] == "atn" for a in actuators)
        link = snap["link"]
        assert isinstance(link, dict)
        assert link["atn"] == "alive"


def test_watch_prints_live_readings() -> None:
    with scada_serve() as s:
        run = s.cli("watch", "--count", "5")
        assert run.returncode == 0, run.stderr
        lines = [ln for ln in run.stdout.splitlines() if ln[:2].isdigit()]
        assert len(lines) == 5


def test_sigterm_stops_cleanly_and_removes_the_socket() -> None:
    with scada_serve() as s:
        s.proc.send_signal(signal.SIGTERM)
        assert s.proc.wait(timeout=10) == 0
        assert not s.socket.exists()
        assert "stopped" in s.log.read_text()


def test_sigint_stops_cleanly() -> None:
    with scada_serve() as s:
        s.proc.send_signal(signal.SIGINT)
        assert s.proc.wait(timeout=10) == 0


def test_a_second_server_on_the_same_socket_refuses_with_one_line() -> None:
    with scada_serve() as s:
        run = subprocess.run(
            [str(BIN / "scada"), "serve", "--sim", "--socket", str(s.socket)],
            capture_output=True,
            text=True,
            timeout=20,
            check=False,
        )
        assert run.returncode == 1
        assert "already serving" in run.stderr
        assert "Traceback" not in run.stderr


def test_cli_without_a_server_says_so() -> None:
    run = subprocess.run(
        [str(BIN / "scada"), "status", "--socket", "/tmp/gw-no-such-dir/s.sock"],
        capture_output=True,
        text=True,
        timeout=20,
        check=False,
    )
    assert run.returncode == 1
    assert "scada serve" in run.stderr
    assert "Traceback" not in run.stderr


def test_serve_a_broken_layout_exits_one_with_its_problems(tmp_path: object) -> None:
    from pathlib import Path

    assert isinstance(tmp_path, Path)
    bad = tmp_path / "bad.json"
    bad.write_text('{"house": {}}')
    run = subprocess.run(
        [
            str(BIN / "scada"),
            "serve",
            "--layout",
            str(bad),
            "--sim",
            "--socket",
            str(tmp_path / "s.sock"),
        ],
        capture_output=True,
        text=True,
        timeout=20,
        check=False,
    )
    assert run.returncode == 1
    assert "bad.json: house.alias: required key is missing" in run.stderr
    assert "Traceback" not in run.stderr


def test_a_real_house_without_its_buses_starts_degraded_and_says_which() -> None:
    """On a machine without the house's buses, every device is reported missing, with its path."""
    workdir = Path(tempfile.mkdtemp(prefix="gwt"))
    sock = workdir / "s.sock"
    proc = subprocess.Popen(
        [
            str(BIN / "scada"),
            "serve",
            "--house",
            "w.isone.nh.orange.1",
            "--socket",
            str(sock),
            "--data-dir",
            str(workdir / "d"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 20
        while not sock.exists():
            assert proc.poll() is None, "scada serve exited at start"
            assert time.monotonic() < deadline
            time.sleep(0.02)
        run = subprocess.run(
            [str(BIN / "scada"), "status", "--json", "--socket", str(sock)],
            capture_output=True,
            text=True,
            timeout=20,
            check=False,
        )
        snap = json.loads(run.stdout)
        assert snap["simulated"] is False
        failing = {d["device"]: d["last_error"] for d in snap["devices"] if d["state"] == "failing"}
        assert "/dev/i2c-1 does not exist" in failing["relay-board"]
        assert "/dev/ttyUSB0" in failing["main-meter"]
        assert all(c["health"] != "ok" for c in snap["channels"])
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
        shutil.rmtree(workdir, ignore_errors=True)
