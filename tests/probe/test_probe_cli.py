"""`scada probe …` in-process: output, exit status, one-line errors, the running-SCADA guard."""

from __future__ import annotations

import json
import shutil
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import Result

from tests.probe.probe_support import DW1, HW25, ROOT, W, run


def one_error(result: Result) -> str:
    """The single line a failed probe prints on stderr (and nothing on stdout)."""
    assert result.exit_code == 1, (result.stdout, result.stderr)
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("error: ")
    assert "Traceback" not in result.stderr
    return lines[0].removeprefix("error: ")


def ok(result: Result) -> list[str]:
    assert result.exit_code == 0, (result.stdout, result.stderr, result.exception)
    assert result.stderr == ""
    return [line.rstrip() for line in result.stdout.splitlines()]


# ------------------------------------------------------------------ each probe, emulated


@pytest.mark.parametrize(
    ("house", "relay", "channel"),
    [(DW1, "a.elt1.relay", 0), (W, "a.elt1.relay", 2), (HW25, "a.zone1.valve.relay", 0)],
)
def test_relay_click(house: str, relay: str, channel: int) -> None:
    lines = ok(run("relay", relay, "--click", "--hold-s", "0.05", "--house", house, "--sim"))
    assert lines[0].startswith(f"{house} · EMULATED (--sim) · relay {relay}: ")
    assert f" channel {channel}" in lines[0]
    actions = [line.split()[0] for line in lines[1:-1]]
    assert actions == ["read", "on", "hold", "off"]
    assert "on       energized  read back energized" in lines[2]
    assert lines[2].endswith("ok")
    assert "hold     0.05 s" in lines[3]
    assert "off      released   read back released" in lines[4]
    assert lines[-1] == "left released, as found"


def test_relay_read_only() -> None:
    lines = ok(run("relay", "a.tank.out.pump.relay", "--house", W, "--sim"))
    assert lines[-1] == "a.tank.out.pump.relay is released (read back)"
    assert [line.split()[0] for line in lines[1:-1]] == ["read"]


def test_temp_dw1_thermistor() -> None:
    lines = ok(run("temp", "a.tank.temp0", "--sim"))
    assert lines[0] == f"{DW1} · EMULATED (--sim) · temperature a.tank.temp0"
    assert lines[1].split() == ["channel", "node", "device", "source", "raw", "°C", "health", "ms"]
    row = lines[2].split()
    assert row[:7] == [
        "tank-temp0",
        "a.tank.temp0",
        "tank-adc-1",
        "AIN0",
        "of",
        "/dev/i2c-1",
        "0x48",
    ]
    assert row[8:10] == ["V", "="]
    assert "ok" in row


def test_temp_w_ds18b20() -> None:
    lines = ok(run("temp", "ds18b20-probes", "--house", W, "--sim"))
    assert [line.split()[0] for line in lines[2:]] == [
        "tank-top-temp",
        "pipe-out-temp",
        "pipe-in-temp",
    ]
    assert all("YES" in line and " ok " in line for line in lines[2:])


def test_meter_dw1_egauge_tcp() -> None:
    lines = ok(run("meter", "egauge", "--sim"))
    assert lines[0] == (
        f"{DW1} · EMULATED (--sim) · meter egauge (egauge__4030, modbus-tcp 127.0.0.1:5020 unit 1)"
    )
    rows = [line.split() for line in lines[2:6]]
    assert [r[0] for r in rows] == ["hw-uid", "hp-pwr", "elt1-pwr", "pump-pwr"]
    assert rows[1][1:4] == ["500", "(input)", "f32"]
    assert rows[1][-2:] == ["W", "ok"]
    assert lines[1 + 5].startswith("4 registers in ")
    assert lines[-1].startswith("note: hw-uid (100) is not served")


def test_meter_w_iem3455_rtu() -> None:
    lines = ok(run("meter", "a.m", "--house", W, "--sim"))
    assert "meter main-meter (schneider__iem3455, /dev/ttyUSB0 9600 8E1 unit 12)" in lines[0]
    rows = {line.split()[0]: line.split() for line in lines[2:5]}
    assert rows["serial-number"][1:3] == ["129", "(holding)"]
    assert rows["active-power-total"][-2:] == ["W", "ok"]
    assert lines[5].startswith("3 registers in ")


@pytest.mark.parametrize(("house", "found"), [(DW1, ["20", "48", "49", "4a"]), (W, ["20", "48"])])
def test_i2c_scan(house: str, found: list[str]) -> None:
    lines = ok(run("i2c", "--house", house, "--sim"))
    assert lines[0].startswith(f"{house} · EMULATED (--sim) · /dev/i2c-1 (")
    assert lines[1].split() == [f"{c:x}" for c in range(16)]
    grid = lines[2:10]
    assert grid[0] == "00:          " + " ".join(["--"] * 13)
    present = [cell for line in grid for cell in line[4:].split() if cell != "--"]
    assert present == found
    table = lines[11:]
    assert [r.split()[0] for r in table] == [f"0x{a}" for a in found]
    assert all(r.endswith("expected, present") for r in table)


def test_default_house_is_scada_house_then_dw1(monkeypatch: pytest.MonkeyPatch) -> None:
    assert ok(run("i2c", "--sim"))[0].startswith(DW1)
    monkeypatch.setenv("SCADA_HOUSE", "w")
    assert ok(run("i2c", "--sim"))[0].startswith(W)


def test_layout_file(tmp_path: Path) -> None:
    copy = tmp_path / "mine.json"
    shutil.copy(ROOT / "input_data" / "houses" / f"{W}.json", copy)
    assert ok(run("relay", "a.elt1.relay", "--layout", str(copy), "--sim"))[0].startswith(W)


# ------------------------------------------------------------------ no hardware here


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["relay", "a.elt1.relay", "--house", W],
            (
                "relay-board (/dev/i2c-1 0x20): /dev/i2c-1 does not exist "
                "(enable I2C: raspi-config → Interface Options)"
            ),
        ),
        (
            ["relay", "a.elt1.relay", "--click", "--house", W],
            (
                "relay-board (/dev/i2c-1 0x20): /dev/i2c-1 does not exist "
                "(enable I2C: raspi-config → Interface Options)"
            ),
        ),
        (
            ["temp", "garage-temp", "--house", W],
            (
                "air-adc (/dev/i2c-1 0x48): /dev/i2c-1 does not exist "
                "(enable I2C: raspi-config → Interface Options)"
            ),
        ),
        (
            ["meter", "main-meter", "--house", W],
            (
                "main-meter (/dev/ttyUSB0 9600 8E1 unit 12): serial port /dev/ttyUSB0 does not "
                "exist (is the RS-485 adapter plugged in?)"
            ),
        ),
        (
            ["i2c", "--house", W],
            (
                "i2c-1 (/dev/i2c-1): /dev/i2c-1 does not exist (enable I2C: raspi-config → "
                "Interface Options) — the layout puts air-adc, relay-board there"
            ),
        ),
        (
            ["i2c"],
            (
                "i2c-1 (/dev/i2c-1): /dev/i2c-1 does not exist (enable I2C: raspi-config → "
                "Interface Options) — the layout puts air-adc, relay-board, tank-adc-1, "
                "tank-adc-2 there"
            ),
        ),
    ],
)
def test_a_missing_bus_is_one_line(args: list[str], message: str) -> None:
    if any(Path(f"/dev/i2c-{n}").exists() for n in range(4)) or Path("/dev/ttyUSB0").exists():
        pytest.skip("this machine has the hardware buses")
    assert one_error(run(*args)) == message


def test_a_one_wire_bus_missing_is_one_line() -> None:
    if Path("/sys/bus/w1/devices").exists():
        pytest.skip("this machine has a 1-Wire bus")
    assert one_error(run("temp", "tank-top-temp", "--house", W)) == (
        "ds18b20-probes (/sys/bus/w1/devices): /sys/bus/w1/devices does not exist "
        "(enable 1-Wire: raspi-config → Interface Options)"
    )


# ------------------------------------------------------------------ names and options


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["relay", "a.elt.relay"],
            f"no relay 'a.elt.relay' in {DW1} (did you mean 'a.elt1.relay'?)",
        ),
        (
            ["temp", "tank-temp9"],
            f"no temperature channel 'tank-temp9' in {DW1} (did you mean 'tank-temp4'?)",
        ),
        (["meter", "egauj"], f"no meter 'egauj' in {DW1} (did you mean 'egauge'?)"),
        (
            ["meter", "ds18b20-probe", "--house", W],
            f"no meter 'ds18b20-probe' in {W} (there are: main-meter)",
        ),
        (
            ["temp", "a.tank.temp0", "--house", "w.isone", "--layout", "x.json"],
            "give --house or --layout, not both",
        ),
        (
            ["i2c", "--house", "dw2"],
            f"{ROOT / 'input_data' / 'houses'}: no house 'dw2' (did you mean '{DW1}'?)",
        ),
    ],
)
def test_unknown_names_are_one_line_with_the_nearest(args: list[str], message: str) -> None:
    assert one_error(run(*args, "--sim")) == message


def test_a_bad_layout_file_prints_its_problems(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    data = json.loads((ROOT / "input_data" / "houses" / f"{W}.json").read_text("utf-8"))
    data["devices"][0]["bus"]["address"] = 200
    bad.write_text(json.dumps(data), "utf-8")
    line = one_error(run("i2c", "--layout", str(bad), "--sim"))
    assert line.startswith(f"{bad}: devices[0].bus")


# ------------------------------------------------------------------ a SCADA is running


@pytest.fixture
def running_scada(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Something answering on the SCADA's socket (AF_UNIX paths must stay short)."""
    folder = Path(tempfile.mkdtemp(prefix="probe-", dir="/tmp"))
    path = folder / "scada.sock"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))
    server.listen(4)
    monkeypatch.setenv("SCADA_SOCKET", str(path))
    try:
        yield path
    finally:
        server.close()
        shutil.rmtree(folder, ignore_errors=True)


def test_click_under_a_running_scada_needs_force(running_scada: Path) -> None:
    assert one_error(run("relay", "a.elt1.relay", "--click", "--house", W)) == (
        f"a SCADA is running (it answers on {running_scada}) and drives these relays: stop it "
        "first (or add --force to click anyway)"
    )


def test_with_force_it_warns_and_goes_on(running_scada: Path) -> None:
    if Path("/dev/i2c-1").exists():
        pytest.skip("this machine has /dev/i2c-1: the click would switch a real relay")
    result = run("relay", "a.elt1.relay", "--click", "--force", "--house", W)
    assert result.exit_code == 1
    warning, error = result.stderr.splitlines()
    assert warning == (
        f"warning: a SCADA is running (it answers on {running_scada}); it may fight this probe "
        "for the bus"
    )
    assert error.startswith("error: relay-board (/dev/i2c-1 0x20): /dev/i2c-1 does not exist")


def test_reads_only_warn(running_scada: Path) -> None:
    result = run("i2c", "--house", W)
    assert result.stderr.splitlines()[0].startswith("warning: a SCADA is running")


def test_sim_needs_no_guard(running_scada: Path) -> None:
    ok(run("relay", "a.elt1.relay", "--click", "--hold-s", "0", "--sim"))


def test_a_stale_socket_file_is_no_scada(monkeypatch: pytest.MonkeyPatch) -> None:
    folder = Path(tempfile.mkdtemp(prefix="probe-", dir="/tmp"))
    try:
        path = folder / "scada.sock"
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.bind(str(path))
        s.close()  # the file stays, nobody listens
        monkeypatch.setenv("SCADA_SOCKET", str(path))
        result = run("i2c", "--house", W)
        assert "warning" not in result.stderr
    finally:
        shutil.rmtree(folder, ignore_errors=True)
