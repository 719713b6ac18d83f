"""``sim walkthrough NAME --plot FILE.png``: the run drawn to a PNG, refused up front when it
cannot be written or matplotlib is missing."""

from __future__ import annotations

import io
import struct
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sim.cli import app
from sim.walkthroughs import WalkReport, find_walkthrough, load_walkthrough
from sim.walkthroughs import console as walk_console
from sim.walkthroughs.plot import INSTALL, PlotUnavailableError, plot_report
from sim.walkthroughs.record import Record

SHORT = """\
description = "Forty minutes, twenty of them in LocalControl."
start = 2024-01-10T06:00:00
duration = "40m"
[fidelity]
sensor_period_floor_s = 30
pulses_per_gallon_max = 2
[[steps]]
at = "10m"
do = "mode.set"
mode = "local"
[[steps]]
at = "30m"
do = "mode.set"
mode = "remote"
[[expect]]
check = "mode"
at = "20m"
mode = "local"
"""


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    length, kind = struct.unpack(">I4s", data[8:16])
    assert (length, kind) == (13, b"IHDR")
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def test_plot_draws_the_run_to_a_png(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "walkthroughs"
    folder.mkdir()
    (folder / "short.toml").write_text(SHORT)
    monkeypatch.setenv("SCADA_WALKTHROUGHS_DIR", str(folder))
    png = tmp_path / "short.png"
    res = CliRunner().invoke(app, ["walkthrough", "short", "--plot", str(png)])
    assert res.exit_code == 0, res.output
    assert f"plot: {png}" in res.output
    data = png.read_bytes()
    # Six panels (dw1 watches pipes for freezing) of 2 inches, and a title, at 100 dpi.
    assert _png_size(data) == (1200, 1300)
    assert len(data) > 30_000  # drawn lines, not a blank canvas


def test_plot_refuses_a_bad_file_before_running(tmp_path: Path) -> None:
    runner = CliRunner()
    res = runner.invoke(app, ["walkthrough", "freeze", "--plot", str(tmp_path / "run.svg")])
    assert res.exit_code == 2
    assert "--plot draws a PNG: give a file ending in .png, not 'run.svg'" in res.output
    res = runner.invoke(app, ["walkthrough", "freeze", "--plot", str(tmp_path / "no" / "a.png")])
    assert res.exit_code == 2
    assert f"--plot: no folder {tmp_path / 'no'} to write a.png in" in res.output


def test_plot_without_matplotlib_says_how_to_install_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")]:
        monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # None: the import fails
    out, err = io.StringIO(), io.StringIO()
    code = walk_console.main("freeze", plot=tmp_path / "freeze.png", out=out, err=err)
    assert code == 2
    assert err.getvalue() == (f"--plot needs matplotlib, which is not installed: {INSTALL}\n")
    assert INSTALL == "pip install 'gw-spaceheat-scada[plot]'"
    assert out.getvalue() == ""  # refused before the run, not after it
    report = WalkReport(
        name="x",
        house="dw1.isone.nh.orange.1",
        start=load_walkthrough(find_walkthrough("freeze")).start,
        duration=timedelta(hours=1),
        wall_s=0.0,
        results=[],
        record=Record(zone_names=(), setpoints=(), band_c=1.0, status_period_s=300),
    )
    with pytest.raises(PlotUnavailableError, match="gw-spaceheat-scada"):
        plot_report(report, tmp_path / "x.png")
    assert not (tmp_path / "x.png").exists()
