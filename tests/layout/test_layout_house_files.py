"""The houses folder: where it is, listing it without crashing, finding a house by alias."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from scada.layout import Hardware, LayoutError, find_house, houses_dir, list_houses
from scada.layout.houses import HOUSES_DIR_ENV

ROOT = Path(__file__).resolve().parents[2]
HOUSES = ROOT / "input_data" / "houses"
BROKEN = Path(__file__).parent / "broken"


def test_houses_dir_defaults_to_the_repository(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(HOUSES_DIR_ENV, raising=False)
    assert houses_dir() == HOUSES


def test_houses_dir_follows_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv(HOUSES_DIR_ENV, str(tmp_path))
    assert houses_dir() == tmp_path
    assert list_houses() == []


def test_list_houses_of_the_repository(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(HOUSES_DIR_ENV, raising=False)
    entries = list_houses()
    assert [(e.alias, e.hardware, e.simulated, e.channels, e.valid) for e in entries] == [
        ("dw1.isone.nh.orange.1", Hardware.SIMULATED, True, 13, True),
        ("hw25.isone.me.versant.keene.beech", Hardware.REAL, False, 40, True),
        ("w.isone.nh.orange.1", Hardware.REAL, False, 6, True),
    ]
    assert entries[0].display_name == "Little Orange House (simulated)"
    assert entries[0].path == HOUSES / "dw1.isone.nh.orange.1.json"


def test_list_houses_reports_bad_files(tmp_path: Path) -> None:
    shutil.copy(HOUSES / "dw1.isone.nh.orange.1.json", tmp_path / "dw1.isone.nh.orange.1.json")
    shutil.copy(HOUSES / "dw1.isone.nh.orange.1.json", tmp_path / "renamed.json")
    shutil.copy(BROKEN / "not-json.json", tmp_path / "not-json.json")
    (tmp_path / "a-directory.json").mkdir()
    (tmp_path / "notes.txt").write_text("not a house")
    entries = {e.alias: e for e in list_houses(tmp_path)}
    assert sorted(entries) == ["a-directory", "dw1.isone.nh.orange.1", "not-json", "renamed"]
    assert entries["dw1.isone.nh.orange.1"].valid
    bad = entries["not-json"]
    assert (bad.valid, bad.hardware, bad.simulated, bad.display_name) == (False, None, False, "")
    assert [str(p) for p in bad.problems] == [
        f"{tmp_path / 'not-json.json'}: not valid JSON: Expecting ',' delimiter at line 4 column 1"
    ]
    assert [str(p) for p in entries["a-directory"].problems] == [
        f"{tmp_path / 'a-directory.json'}: cannot read the file: Is a directory"
    ]
    renamed = entries["renamed"]
    assert renamed.hardware is Hardware.SIMULATED  # it loads, but is filed under the wrong name
    assert [str(p) for p in renamed.problems] == [
        (
            f"{tmp_path / 'renamed.json'}: house.alias: the house alias 'dw1.isone.nh.orange.1' "
            "differs from the file name; a house file is named <alias>.json "
            "(did you mean 'renamed'?)"
        )
    ]


def test_find_house_by_alias_and_unique_start() -> None:
    assert find_house("w.isone.nh.orange.1", HOUSES) == HOUSES / "w.isone.nh.orange.1.json"
    assert find_house("dw1", HOUSES) == HOUSES / "dw1.isone.nh.orange.1.json"
    assert find_house("hw25", HOUSES) == HOUSES / "hw25.isone.me.versant.keene.beech.json"


def test_find_house_uses_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(HOUSES_DIR_ENV, str(HOUSES))
    assert find_house("dw1.isone.nh.orange.1") == HOUSES / "dw1.isone.nh.orange.1.json"


@pytest.mark.parametrize(
    ("alias", "line"),
    [
        (
            "dw1.isone.nh.orange.2",
            "no house 'dw1.isone.nh.orange.2' (did you mean 'dw1.isone.nh.orange.1'?)",
        ),
        (
            "w.isone.nh.orang.1",
            "no house 'w.isone.nh.orang.1' (did you mean 'w.isone.nh.orange.1'?)",
        ),
        ("dw2", "no house 'dw2' (did you mean 'dw1.isone.nh.orange.1'?)"),
        ("hw26", "no house 'hw26' (did you mean 'hw25.isone.me.versant.keene.beech'?)"),
        ("zzz", "no house 'zzz'"),
    ],
)
def test_find_house_suggests_the_nearest_alias(alias: str, line: str) -> None:
    with pytest.raises(LayoutError) as caught:
        find_house(alias, HOUSES)
    assert [str(p) for p in caught.value.problems] == [f"{HOUSES}: {line}"]


def test_find_house_ambiguous_start(tmp_path: Path) -> None:
    for alias in ("dw1.isone.nh.orange.1", "dw1.isone.nh.orange.2"):
        (tmp_path / f"{alias}.json").write_text("{}")
    with pytest.raises(LayoutError) as caught:
        find_house("dw1", tmp_path)
    assert str(caught.value) == (
        f"{tmp_path}: 'dw1' could be any of dw1.isone.nh.orange.1, dw1.isone.nh.orange.2"
    )


def test_find_house_in_an_empty_folder(tmp_path: Path) -> None:
    with pytest.raises(LayoutError) as caught:
        find_house("dw1", tmp_path)
    assert (
        str(caught.value) == f"{tmp_path}: no house 'dw1': there are no house files (*.json) here"
    )
