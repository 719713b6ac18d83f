"""A house that cannot be simulated (a missing profile, simulation settings that do not fit) is
refused before anything runs, in one clear message naming the file: by walkthroughs, by the
emulation provider and by ``scada serve --sim``."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from scada.clock import SystemClock
from scada.drivers.buses import EmulationError
from scada.layout import find_house, load_layout
from sim.emulation import provide
from sim.walkthroughs import Options, WalkthroughError, run_named, runner
from tests.ops.ops_support import settings_env

DW1 = "dw1.isone.nh.orange.1"
BIN = Path(sys.executable).parent


def houses_with(tmp_path: Path, **simulation: object) -> Path:
    """A houses folder holding dw1 with ``simulation`` settings changed."""
    doc = json.loads(find_house(DW1).read_text())
    doc["simulation"].update(simulation)
    folder = tmp_path / "houses"
    folder.mkdir()
    (folder / f"{DW1}.json").write_text(json.dumps(doc))
    return folder


@pytest.mark.parametrize(
    ("setting", "value", "said"),
    [
        ("weather_profile", "maine-wintr.csv", "maine-wintr.csv: cannot read the file"),
        ("price_profile", "isone-prics.csv", "isone-prics.csv: cannot read the file"),
    ],
)
def test_a_walkthrough_on_a_house_with_a_missing_profile_does_not_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, setting: str, value: str, said: str
) -> None:
    monkeypatch.setenv("SCADA_HOUSES_DIR", str(houses_with(tmp_path, **{setting: value})))
    with pytest.raises(WalkthroughError) as err:
        run_named("broker-outage", Options(workdir=tmp_path / "work"))
    (problem,) = err.value.problems
    assert problem.file.endswith("broker-outage.toml")
    assert problem.path == "house"
    assert said in problem.what
    assert not (tmp_path / "work").exists()  # refused before anything was built


def test_a_bad_simulation_setting_names_the_house_file_and_the_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SCADA_HOUSES_DIR", str(houses_with(tmp_path, tank_volume_l=-5)))
    with pytest.raises(WalkthroughError) as err:
        run_named("broker-outage")
    assert [str(p).split("broker-outage.toml: ")[1] for p in err.value.problems] == [
        f"house: {DW1}.json: simulation.tank_volume_l: must be greater than 10, not -5"
    ]


def test_the_provider_refuses_a_missing_profile_as_an_emulation_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = houses_with(tmp_path, price_profile="isone-prics.csv")
    layout = load_layout(folder / f"{DW1}.json")
    with pytest.raises(EmulationError) as err:
        provide(layout, tmp_path, SystemClock())
    assert err.value.option == ""
    assert str(err.value).endswith(
        "isone-prics.csv: cannot read the file: No such file or directory"
    )


@pytest.mark.e2e
def test_serve_refuses_a_house_it_cannot_simulate_in_one_line(tmp_path: Path) -> None:
    folder = houses_with(tmp_path, weather_profile="maine-wintr.csv")
    sock = tmp_path / "s.sock"
    run = subprocess.run(
        [
            *(str(BIN / "scada"), "serve", "--sim", "--house", DW1),
            *("--socket", str(sock), "--data-dir", str(tmp_path / "data")),
        ],
        env={**settings_env(tmp_path), "SCADA_HOUSES_DIR": str(folder)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert run.returncode == 1
    (line,) = run.stderr.splitlines()
    assert line.startswith(f"error: cannot simulate {DW1}: ")
    assert line.endswith("maine-wintr.csv: cannot read the file: No such file or directory")
    assert not sock.exists()


def test_a_run_that_fails_to_build_removes_its_scratch_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    scratch = tmp_path / "scratch"

    def made() -> Path:
        scratch.mkdir()
        return scratch

    def broken(*_args: object, **_kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(runner, "scratch_dir", made)
    monkeypatch.setattr(runner, "SimEmulation", broken)
    with pytest.raises(OSError, match="No space left"):
        run_named("broker-outage")
    assert not scratch.exists()
