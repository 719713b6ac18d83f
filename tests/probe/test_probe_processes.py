"""`scada probe …` as a real process: what an installer types on the Pi (here, with --sim)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.probe.probe_support import ROOT, SCADA, W, subprocess_env


def scada(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SCADA), "probe", *args],
        cwd=ROOT,
        env=subprocess_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_relay_click_against_the_emulator(tmp_path: Path) -> None:
    p = scada(
        tmp_path, "relay", "a.elt1.relay", "--click", "--hold-s", "0.1", "--house", W, "--sim"
    )
    assert p.returncode == 0, p.stderr
    assert p.stderr == ""
    lines = p.stdout.splitlines()
    assert [line.split()[0] for line in lines[1:-1]] == ["read", "on", "hold", "off"]
    assert lines[-1] == "left released, as found"


def test_meter_over_rtu_against_the_emulator(tmp_path: Path) -> None:
    p = scada(tmp_path, "meter", "main-meter", "--house", W, "--sim")
    assert p.returncode == 0, p.stderr
    assert "active-power-total" in p.stdout
    assert "3 registers in " in p.stdout


def test_no_i2c_bus_here_is_one_line(tmp_path: Path) -> None:
    if Path("/dev/i2c-1").exists():
        pytest.skip("this machine has /dev/i2c-1")
    p = scada(tmp_path, "i2c", "--house", W)
    assert p.returncode == 1
    assert p.stdout == ""
    assert p.stderr.splitlines() == [
        (
            "error: i2c-1 (/dev/i2c-1): /dev/i2c-1 does not exist (enable I2C: raspi-config → "
            "Interface Options) — the layout puts air-adc, relay-board there"
        )
    ]
