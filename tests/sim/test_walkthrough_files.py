"""Walkthrough files: the shipped ones fit their houses, and bad ones say exactly what is wrong
(file, path, what, the nearest spelling), checks that could not fail or pass among them."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from scada.layout import load_layout
from sim.walkthroughs import (
    WalkthroughError,
    check_against,
    find_walkthrough,
    load_walkthrough,
    parse_walkthrough,
    run_named,
)
from sim.walkthroughs.spec import format_duration, parse_duration
from tests.sim.test_walkthroughs import DW1, ROOT, SHIPPED


def test_shipped_files_load_and_fit_their_houses() -> None:
    for name in SHIPPED:
        path = find_walkthrough(name)
        wt = load_walkthrough(path)
        houses = ROOT / "input_data" / "houses"
        assert check_against(wt, load_layout(houses / f"{wt.house}.json"), str(path)) == []


def _problems(text: str, *, kind: str = "toml") -> list[tuple[str, str, str | None]]:
    with pytest.raises(WalkthroughError) as err:
        parse_walkthrough(text, "bad.toml", kind=kind)
    assert all(p.file == "bad.toml" for p in err.value.problems)
    return [(p.path, p.what, p.suggestion) for p in err.value.problems]


HEAD = 'description = "x"\nduration = "2h"\n'
BOSS_ONLY = '[[expect]]\ncheck = "boss_only"\n'


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            'descripton = "x"\nduration = "2h"\n' + BOSS_ONLY,
            [
                ("descripton", "unknown key 'descripton'", "description"),
            ],
            id="misspelt-top-key",
        ),
        pytest.param(
            HEAD + '[[steps]]\nat = "1h"\ndo = "link.cutt"\n' + BOSS_ONLY,
            [("steps[0].do", "unknown value 'link.cutt'", "link.cut")],
            id="misspelt-step",
        ),
        pytest.param(
            HEAD + '[[steps]]\nat = "1h"\n' + BOSS_ONLY,
            [("steps[0].do", "required key is missing", None)],
            id="step-without-do",
        ),
        pytest.param(
            HEAD + '[[steps]]\nat = "1h"\ndo = "sensor.fail"\nchanel = "tank-temp2"\n' + BOSS_ONLY,
            [("steps[0].chanel", "unknown key 'chanel'", "channel")],
            id="misspelt-step-key",
        ),
        pytest.param(
            'description = "x"\nduration = "2 hours"\n'
            '[[expect]]\ncheck = "mode"\nat = "1x"\nmode = "remot"\n',
            [
                (
                    "duration",
                    "'2 hours' is not a duration like '90s', '30m', '2h' or '1d 6h'",
                    None,
                ),
                ("expect[0].at", "'1x' is not a duration like '90s', '30m', '2h' or '1d 6h'", None),
                ("expect[0].mode", "unknown value 'remot'", "remote"),
            ],
            id="bad-durations-and-mode",
        ),
        pytest.param(
            HEAD + '[[expect]]\ncheck = "comfort"\nmin_share = 1.5\n',
            [("expect[0].min_share", "must be less than or equal to 1, not 1.5", None)],
            id="share-above-one",
        ),
        pytest.param(
            HEAD + '[[expect]]\ncheck = "problem"\nkind = "sensor_stal"\nsubjct = "a"\n',
            [
                ("expect[0].kind", "unknown value 'sensor_stal'", "sensor_stale"),
                ("expect[0].subjct", "unknown key 'subjct'", "subject"),
            ],
            id="misspelt-check-fields",
        ),
        pytest.param(
            HEAD + '[[expect]]\ncheck = "confort"\nmin_share = 0.9\n',
            [("expect[0].check", "unknown value 'confort'", "comfort")],
            id="misspelt-check",
        ),
        pytest.param(
            HEAD + "[fidelity]\nphysics_step = 10\n" + BOSS_ONLY,
            [("fidelity.physics_step", "unknown key 'physics_step'", "physics_step_s")],
            id="misspelt-fidelity",
        ),
        pytest.param(
            HEAD + "[initial]\nspace = 5\ntank_c = 120\n" + BOSS_ONLY,
            [
                ("initial.tank_c", "must be less than or equal to 95, not 120", None),
                ("initial.space", "unknown key 'space'", "space_c"),
            ],
            id="bad-initial",
        ),
        pytest.param(
            HEAD + '[[expect]]\ncheck = "interlock"\nnode = "a.hp.relay"\n'
            'interlock = "freeze-pip"\n',
            [("expect[0].interlock", "unknown value 'freeze-pip'", "freeze-pipe")],
            id="misspelt-interlock",
        ),
        pytest.param(HEAD, [("expect", "required key is missing", None)], id="no-checks"),
        pytest.param(
            HEAD + '[[expect]]\ncheck = "tank_temp"\n',
            [
                (
                    "expect[0]",
                    "give a limit (min_c, max_c, coldest_min_c): without one the check cannot fail",
                    None,
                )
            ],
            id="temperature-check-without-a-limit",
        ),
        pytest.param(
            HEAD + '[[expect]]\ncheck = "room_temp"\nmin_c = 22\nmax_c = 18\n',
            [("expect[0]", "min_c 22 is above max_c 18: the check cannot pass", None)],
            id="limits-the-wrong-way-round",
        ),
        pytest.param(
            HEAD + '[[expect]]\ncheck = "commands"\nsource = "atn"\noutcome = "refused"\nmin = 0\n',
            [("expect[0]", "min = 0 with no max cannot fail: give min >= 1 or a max", None)],
            id="commands-that-cannot-fail",
        ),
        pytest.param(
            'description = "x"\nduration = "0s"\n' + BOSS_ONLY,
            [("", "duration must be longer than 0s", None)],
            id="no-time-at-all",
        ),
        pytest.param(
            HEAD + '[[steps]]\nat = "1h"\ndo = "weather.cold_snap"\nlasting = "0s"\n' + BOSS_ONLY,
            [
                (
                    "steps[0]",
                    "lasting must be longer than 0s (leave it out: until weather.normal)",
                    None,
                )
            ],
            id="cold-snap-of-no-length",
        ),
        pytest.param(
            'description = "x\n',
            [("", "not valid TOML: Illegal character '\\n' (at line 1, column 17)", None)],
            id="not-toml",
        ),
    ],
)
def test_bad_walkthrough_files_give_exact_problems(
    text: str, expected: list[tuple[str, str, str | None]]
) -> None:
    assert _problems(text) == expected


def test_bad_json_walkthrough() -> None:
    assert _problems('{"description": ', kind="json") == [
        ("", "not valid JSON: Expecting value at line 1 column 17", None)
    ]


def test_a_walkthrough_that_does_not_fit_its_house() -> None:
    wt = parse_walkthrough(
        HEAD
        + "atn = false\n"
        + '[[steps]]\nat = "3h"\ndo = "sensor.fail"\nchannel = "tank-tmp2"\n'
        + '[[steps]]\nat = "1h"\ndo = "sensor.fail"\nchannel = "hp-power"\n'
        + '[[steps]]\nat = "1h"\ndo = "relay.set"\nnode = "a.hp.rely"\nstate = "on"\n'
        + '[[steps]]\nat = "1h"\ndo = "atn.go_silent"\n'
        + '[[expect]]\ncheck = "comfort"\nzone = "Garag"\nmin_share = 0.9\n'
        + 'after = "1h"\nbefore = "30m"\n'
        + '[[expect]]\ncheck = "interlock"\nnode = "a.elt.relay"\ninterlock = "freeze-tank"\n'
        + '[[expect]]\ncheck = "problem"\nkind = "sensor_stale"\nsubject = "tank-tmep2"\n'
        + "seen = false\n"
        + '[[expect]]\ncheck = "statuses"\nmin_share = 0.9\nafter = "1h58m"\n',
        "y.toml",
    )
    problems = check_against(wt, load_layout(DW1), "y.toml")
    alias = "dw1.isone.nh.orange.1"
    assert [(p.path, p.what, p.suggestion) for p in problems] == [
        ("steps[0].at", "at 3h is after the end of the walkthrough (2h)", None),
        ("steps[0].channel", f"no channel 'tank-tmp2' in {alias}", "tank-temp2"),
        (
            "steps[1].channel",
            (
                "hp-power is on egauge (egauge__4030); only thermistor (ncd__ads1115) and "
                "DS18B20 (adafruit__642) channels fail one by one"
            ),
            None,
        ),
        ("steps[2].node", f"no relay 'a.hp.rely' in {alias}", "a.hp.relay"),
        ("steps[3].do", "atn.go_silent needs the simulated ATN, but atn = false", None),
        ("expect[0].before", "before must come after after", None),
        ("expect[0].zone", f"no zone 'Garag' in {alias}", "Garage"),
        ("expect[1].node", f"no relay 'a.elt.relay' in {alias}", "a.elt1.relay"),
        ("expect[2].subject", f"no channel 'tank-tmep2' in {alias}", "tank-temp2"),
        (
            "expect[3].check",
            "the window (2m) is shorter than one status period (300 s): no status can be counted",
            None,
        ),
    ]


@pytest.mark.parametrize(
    ("start", "what"),
    [
        (
            "2024-03-10T02:30:00",
            "2024-03-10 02:30 does not happen in America/New_York: the clocks go forward over it",
        ),
        (
            "2024-11-03T01:30:00",
            (
                "2024-11-03 01:30 happens twice in America/New_York (the clocks go back over "
                "it): give the start with its UTC offset"
            ),
        ),
    ],
)
def test_a_start_the_house_clock_skips_or_repeats_is_refused(start: str, what: str) -> None:
    wt = parse_walkthrough(f"start = {start}\n{HEAD}{BOSS_ONLY}", "z.toml")
    assert [(p.path, p.what) for p in check_against(wt, load_layout(DW1), "z.toml")] == [
        ("start", what)
    ]
    offset = parse_walkthrough(f"start = {start}-04:00\n{HEAD}{BOSS_ONLY}", "z.toml")
    assert check_against(offset, load_layout(DW1), "z.toml") == []


def test_an_unknown_house_is_named_with_the_nearest(tmp_path: Path) -> None:
    (tmp_path / "w.toml").write_text(HEAD + 'house = "dw2.isone.nh.orange.1"\n' + BOSS_ONLY)
    with pytest.raises(WalkthroughError) as err:
        run_named("w", directory=tmp_path)
    [p] = err.value.problems
    assert (p.path, p.what, p.suggestion) == (
        "house",
        "no house 'dw2.isone.nh.orange.1'",
        "dw1.isone.nh.orange.1",
    )


def test_durations() -> None:
    assert parse_duration("1d 6h") == timedelta(days=1, hours=6)
    assert parse_duration("2h30m") == timedelta(hours=2, minutes=30)
    assert parse_duration("90s") == timedelta(seconds=90)
    assert parse_duration("45min") == timedelta(minutes=45)
    assert format_duration(timedelta(days=1, hours=2, minutes=5)) == "1d 2h5m"
    assert format_duration(timedelta(0)) == "0s"
    for bad in ("", "2", "h", "2 hours", "-1h"):
        with pytest.raises(ValueError, match="is not a duration"):
            parse_duration(bad)
