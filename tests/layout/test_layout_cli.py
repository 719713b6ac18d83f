"""`scada layout check|show|schema` and `scada houses`: exit codes, exact lines, no tracebacks."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner, Result

from scada.cli import layout_cmds
from scada.layout.houses import HOUSES_DIR_ENV
from scada.layout.schema import layout_json_schema_text

ROOT = Path(__file__).resolve().parents[2]
HOUSES = ROOT / "input_data" / "houses"
BROKEN = Path(__file__).parent / "broken"
EXPECTED: dict[str, list[str]] = json.loads((BROKEN / "expected.json").read_text("utf-8"))
SCADA = Path(sys.executable).parent / "scada"

OK_LINES = [
    (
        "ok input_data/houses/dw1.isone.nh.orange.1.json "
        "(dw1.isone.nh.orange.1, 13 channels, 3 actuators)"
    ),
    (
        "ok input_data/houses/hw25.isone.me.versant.keene.beech.json "
        "(hw25.isone.me.versant.keene.beech, 40 channels, 15 actuators)"
    ),
    "ok input_data/houses/w.isone.nh.orange.1.json (w.isone.nh.orange.1, 6 channels, 3 actuators)",
]
HOUSE_FILES = [
    "input_data/houses/dw1.isone.nh.orange.1.json",
    "input_data/houses/hw25.isone.me.versant.keene.beech.json",
    "input_data/houses/w.isone.nh.orange.1.json",
]


def make_app() -> typer.Typer:
    app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
    layout_cmds.register(app)
    return app


def run(*args: str) -> Result:
    return CliRunner().invoke(make_app(), list(args))


def lines(text: str) -> list[str]:
    return [line.rstrip() for line in text.splitlines() if line.strip()]


def assert_no_traceback(result: Result) -> None:
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output


@pytest.fixture
def at_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    monkeypatch.delenv(HOUSES_DIR_ENV, raising=False)


@pytest.mark.usefixtures("at_root")
def test_check_good_houses() -> None:
    result = run("layout", "check", *HOUSE_FILES)
    assert result.exit_code == 0, result.output
    assert lines(result.stdout) == OK_LINES
    assert result.stderr == ""


def test_check_broken_fixtures(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(BROKEN)
    names = sorted(EXPECTED)
    result = run("layout", "check", *names)
    assert result.exit_code == 1
    assert_no_traceback(result)
    assert result.stdout == ""
    assert lines(result.stderr) == [line for name in names for line in EXPECTED[name]]


@pytest.mark.usefixtures("at_root")
def test_check_mixed_good_and_bad() -> None:
    bad = str((BROKEN / "wrong-unit.json").relative_to(ROOT))
    result = run("layout", "check", HOUSE_FILES[0], bad)
    assert result.exit_code == 1
    assert lines(result.stdout) == OK_LINES[:1]
    assert lines(result.stderr) == [
        f"{bad}: channels[0].unit: a water_temp channel is measured in degC, not W"
    ]


@pytest.mark.parametrize(
    ("make", "line"),
    [
        (
            lambda d: d / "missing.json",
            "missing.json: cannot read the file: No such file or directory",
        ),
        (lambda d: d, ".: cannot read the file: Is a directory"),
        (
            lambda d: d / "latin1.json",
            "latin1.json: not UTF-8 text (byte 11)",
        ),
        (
            lambda d: d / "text.json",
            "text.json: not valid JSON: Expecting value at line 1 column 1",
        ),
        (
            lambda d: d / "empty.json",
            "empty.json: not valid JSON: Expecting value at line 1 column 1",
        ),
    ],
)
def test_check_unreadable_files(
    make: object, line: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "latin1.json").write_bytes(b'{"house": "\xe9"}')
    (tmp_path / "text.json").write_text("hello\n")
    (tmp_path / "empty.json").write_text("")
    monkeypatch.chdir(tmp_path)
    assert callable(make)
    target: Path = make(Path())
    result = run("layout", "check", str(target))
    assert result.exit_code == 1
    assert_no_traceback(result)
    assert lines(result.stderr) == [line]


def test_check_needs_a_file() -> None:
    result = run("layout", "check")
    assert result.exit_code == 2
    assert_no_traceback(result)


def test_problem_text_is_not_read_as_markup(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("[bold]x.json").write_text("[1]")
    result = run("layout", "check", "[bold]x.json")
    assert lines(result.stderr) == ["[bold]x.json: the top level must be a JSON object"]


@pytest.mark.usefixtures("at_root")
def test_show_a_house_by_alias() -> None:
    result = run("layout", "show", "dw1")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "Little Orange House (simulated)" in out
    assert "SIMULATED" in out
    titles = ("Nodes", "Devices", "Meter registers", "Channels", "Actuators", "Control", "Zones")
    for title in (*titles, "Simulation"):
        assert title in lines(out), title
    assert "a.elt1  boost_element  First 4.5 kW boost in tank  4500 W  → elt1-power" in out
    assert "a.hp.relay  relay  Heat pump enable relay  switches a.hp" in out
    assert "Modbus TCP 127.0.0.1:5020 unit 1" in out
    assert "I2C bus 1 @ 0x20" in out
    assert "freeze_pipe_c" in out


@pytest.mark.usefixtures("at_root")
def test_show_a_real_house_by_file() -> None:
    result = run("layout", "show", HOUSE_FILES[2])
    assert result.exit_code == 0, result.output
    assert "REAL HARDWARE" in result.stdout
    assert "Modbus RTU /dev/ttyUSB0 9600 8E1 unit 12" in result.stdout
    assert "28-000000041d3f" in result.stdout


@pytest.mark.usefixtures("at_root")
def test_show_suggests_a_house() -> None:
    result = run("layout", "show", "dw1.isone.nh.orange.2")
    assert result.exit_code == 1
    assert_no_traceback(result)
    assert lines(result.stderr) == [
        f"{HOUSES}: no house 'dw1.isone.nh.orange.2' (did you mean 'dw1.isone.nh.orange.1'?)"
    ]


def test_show_a_broken_file(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(BROKEN)
    result = run("layout", "show", "misspelt-key.json")
    assert result.exit_code == 1
    assert lines(result.stderr) == EXPECTED["misspelt-key.json"]


def test_schema_prints_the_schema() -> None:
    result = run("layout", "schema")
    assert result.exit_code == 0
    assert result.stdout == layout_json_schema_text()


def test_schema_write(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "layout.schema.json"
    monkeypatch.setattr(layout_cmds, "schema_path", lambda: target)
    result = run("layout", "schema", "--write")
    assert result.exit_code == 0
    assert lines(result.stdout) == [f"wrote {target}"]
    assert target.read_text("utf-8") == layout_json_schema_text()


@pytest.mark.usefixtures("at_root")
def test_houses_table() -> None:
    result = run("houses")
    assert result.exit_code == 0, result.output
    rows = [line for line in lines(result.stdout) if line.startswith("│")]
    assert len(rows) == 3
    cells = [[c.strip() for c in row.strip("│").split("│")] for row in rows]
    assert [c[:4] for c in cells] == [
        ["dw1.isone.nh.orange.1", "Little Orange House (simulated)", "simulated", "13"],
        [
            "hw25.isone.me.versant.keene.beech",
            "Beech House, Keene Road (2025 install)",
            "real",
            "40",
        ],
        ["w.isone.nh.orange.1", "Little Orange House garage test rig", "real", "6"],
    ]
    assert cells[0][4] == HOUSE_FILES[0]


@pytest.mark.usefixtures("at_root")
def test_houses_json() -> None:
    result = run("houses", "--json")
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert [(h["alias"], h["simulated"], h["channels"], h["valid"]) for h in data] == [
        ("dw1.isone.nh.orange.1", True, 13, True),
        ("hw25.isone.me.versant.keene.beech", False, 40, True),
        ("w.isone.nh.orange.1", False, 6, True),
    ]


def test_houses_lists_invalid_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shutil.copy(HOUSES / "w.isone.nh.orange.1.json", tmp_path)
    shutil.copy(BROKEN / "top-level-array.json", tmp_path)
    monkeypatch.setenv(HOUSES_DIR_ENV, str(tmp_path))
    result = run("houses")
    assert result.exit_code == 0
    assert_no_traceback(result)
    assert "invalid" in result.stdout
    assert lines(result.stderr) == [
        f"{tmp_path / 'top-level-array.json'}: the top level must be a JSON object"
    ]
    data = json.loads(run("houses", "--json").stdout)
    assert [(h["alias"], h["valid"], h["simulated"]) for h in data] == [
        ("top-level-array", False, None),
        ("w.isone.nh.orange.1", True, False),
    ]


def test_houses_in_an_empty_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(HOUSES_DIR_ENV, str(tmp_path))
    result = run("houses")
    assert result.exit_code == 0
    assert lines(result.stderr) == [f"no house files (*.json) in {tmp_path}"]


@pytest.mark.e2e
def test_installed_scada_checks_the_houses() -> None:
    """The real console script, as an installer runs it.

    `scada layout check input_data/houses/*.json`
    """
    assert SCADA.exists(), "install the project: .venv/bin/pip install -e . --no-deps"
    proc = subprocess.run(
        [str(SCADA), "layout", "check", *HOUSE_FILES],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert lines(proc.stdout) == OK_LINES
    assert proc.stderr == ""


@pytest.mark.e2e
def test_installed_scada_rejects_broken_files() -> None:
    names = sorted(EXPECTED)
    proc = subprocess.run(
        [str(SCADA), "layout", "check", *names],
        cwd=BROKEN,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    assert lines(proc.stderr) == [line for name in names for line in EXPECTED[name]]
