"""Walkthroughs: every shipped one passes its own checks at full speed, bad files say exactly
what is wrong, ``sim walkthrough`` lists, refuses and reports as it should, and ``--plot`` draws
a PNG (or says how to install matplotlib).

The 28-day ``month`` runs here for one simulated day (its checks are shares and rates, so they
hold for any length); the whole month is timed by bench/bench_sim.py.
"""

from __future__ import annotations

import io
from datetime import timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from scada.layout import load_layout
from sim.cli import app
from sim.walkthroughs import (
    Options,
    UnknownWalkthroughError,
    WalkReport,
    WalkthroughError,
    available,
    check_against,
    find_walkthrough,
    load_walkthrough,
    parse_walkthrough,
    run,
    run_named,
)
from sim.walkthroughs import console as walk_console
from sim.walkthroughs.spec import format_duration, parse_duration

ROOT = Path(__file__).resolve().parents[2]
DW1 = ROOT / "input_data" / "houses" / "dw1.isone.nh.orange.1.json"
HW25 = "hw25.isone.me.versant.keene.beech"
SHIPPED = ["broken-sensor", "broker-outage", "cold-snap", "freeze", "installer-session", "month"]
SHORTENED = {"month": timedelta(days=1)}


def _failures(report: WalkReport) -> str:
    lines = [f"{r.label}: {r.detail}" for r in report.results if not r.ok]
    if report.error is not None:
        lines.append(report.error)
    return "\n".join(lines)


def test_every_shipped_walkthrough_is_tested_here() -> None:
    assert available() == SHIPPED


@pytest.mark.parametrize("name", ["broker-outage", "broken-sensor", "installer-session"])
def test_walkthrough_passes_its_checks(name: str) -> None:
    report = run_named(name)
    assert report.ok, _failures(report)
    assert report.results


@pytest.mark.slow
@pytest.mark.timeout(360)
def test_cold_snap_week_keeps_the_house_warm_and_charges_when_cheap() -> None:
    """The week passes its checks, price-driven charging among them; that check is one a house
    heating by itself cannot pass (two days of it suffice): it buys at about the mean price."""
    report = run_named("cold-snap")
    assert report.ok, _failures(report)
    week = load_walkthrough(find_walkthrough("cold-snap"))
    priced = [c for c in week.expect if c.check == "price_paid"]
    alone = week.model_copy(update={"atn": False, "expect": priced, "duration": timedelta(days=2)})
    (paid,) = run(alone, name="cold-snap").results
    assert paid.label == "the tank charged in the cheap hours"
    assert not paid.ok
    share = float(paid.detail.rsplit("(", 1)[1].rstrip("%)")) / 100
    assert 0.95 < share < 1.1, paid.detail


def test_freeze_protection_fires_over_the_installer_and_lets_go() -> None:
    """From a cold start under an admin hold with everything off: the freeze-pipe interlock
    runs the distribution pump, is narrated with its reason, and lets go for good once the
    ATN heats again (the file's own checks say the rest)."""
    said: list[str] = []
    report = run_named("freeze", Options(narrate=said.append))
    assert report.ok, _failures(report)
    first = report.record.samples[0]
    assert first.zones[0] == pytest.approx(9.0, abs=0.2)  # [initial] over the house file
    assert first.tank[0] == pytest.approx(30.0, abs=0.2)
    overrides = [line for line in said if "freeze-pipe interlock overrides" in line]
    assert overrides
    assert "a.tank.out.pump.relay: admin wanted off; pipe pipe-" in overrides[0]
    assert any("freeze-pipe interlock lets go of a.tank.out.pump.relay" in line for line in said)


def test_month_walkthrough_shortened_to_a_day() -> None:
    report = run_named("month", Options(duration=SHORTENED["month"]))
    assert report.ok, _failures(report)
    assert report.duration == timedelta(days=1)
    assert report.record.samples[-1].t == 86_400


EVERY_STEP = """\
description = "Every kind of step"
start = 2024-01-10T06:00:00
duration = "90m"
[fidelity]
sensor_period_floor_s = 30
pulses_per_gallon_max = 2
[[steps]]
at = "10m"
do = "mode.set"
mode = "local"
[[steps]]
at = "20m"
do = "mode.set"
mode = "remote"
[[steps]]
at = "30m"
do = "weather.cold_snap"
by_c = -15
lasting = "20m"
[[steps]]
at = "55m"
do = "hold.take"
minutes = 60
[[steps]]
at = "60m"
do = "hold.release"
[[steps]]
at = "62m"
do = "atn.go_silent"
[[steps]]
at = "80m"
do = "atn.resume"
[[expect]]
check = "mode"
at = "15m"
mode = "local"
[[expect]]
check = "mode"
at = "25m"
mode = "remote"
[[expect]]
check = "boss"
at = "57m"
boss = "admin"
[[expect]]
check = "boss"
at = "61m"
boss = "atn"
[[expect]]
check = "mode"
at = "79m"
mode = "local"
[[expect]]
check = "mode"
at = "85m"
mode = "remote"
"""

PROBES = """\
description = "DS18B20 probes fail"
house = "w.isone.nh.orange.1"
start = 2024-01-10T06:00:00
duration = "40m"
[fidelity]
sensor_period_floor_s = 15
[[steps]]
at = "10m"
do = "sensor.fail"
channel = "tank-top-temp"
how = "garbled"
[[steps]]
at = "20m"
do = "sensor.fail"
channel = "pipe-in-temp"
[[steps]]
at = "30m"
do = "sensor.heal"
channel = "tank-top-temp"
[[steps]]
at = "30m"
do = "sensor.heal"
channel = "pipe-in-temp"
[[expect]]
check = "problem"
kind = "sensor_stale"
subject = "tank-top-temp"
after = "10m"
before = "11m"
[[expect]]
check = "problem"
kind = "sensor_stale"
subject = "pipe-in-temp"
after = "20m"
before = "21m"
[[expect]]
name = "freeze protection runs the pump with a pipe sensor gone"
check = "relay_throughout"
node = "a.tank.out.pump.relay"
state = "on"
after = "21m"
before = "30m"
[[expect]]
check = "problem"
kind = "sensor_recovered"
subject = "pipe-in-temp"
after = "30m"
[[expect]]
check = "problem"
kind = "sensor_recovered"
subject = "tank-top-temp"
after = "30m"
"""


def test_every_kind_of_step(tmp_path: Path) -> None:
    """Mode changes by the installer, a shifted weather profile, a hold taken and released, a
    silent ATN and its return: each step does what it says (its checks pass)."""
    (tmp_path / "steps.toml").write_text(EVERY_STEP)
    report = run_named("steps", directory=tmp_path)
    assert report.ok, _failures(report)
    by_minute = {round(s.t / 60): s.outdoor_c for s in report.record.samples}
    assert by_minute[31] - by_minute[29] == pytest.approx(-15, abs=0.5)
    assert by_minute[51] - by_minute[49] == pytest.approx(15, abs=0.5)


def test_ds18b20_probes_fail_and_come_back(tmp_path: Path) -> None:
    """On a house with DS18B20 probes: a bad CRC and a probe gone from the bus are reported,
    freeze protection runs the pump while a pipe sensor is gone, and both come back."""
    (tmp_path / "probes.toml").write_text(PROBES)
    report = run_named("probes", directory=tmp_path)
    assert report.ok, _failures(report)


# ------------------------------------------------------------------------------- bad files


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


# ------------------------------------------------------------------------------------ CLI


def test_unknown_name_lists_the_available_ones() -> None:
    with pytest.raises(UnknownWalkthroughError) as err:
        find_walkthrough("cold-snp")
    assert err.value.suggestion == "cold-snap"
    assert str(err.value) == (
        "no walkthrough 'cold-snp' (did you mean 'cold-snap'?); available: " + ", ".join(SHIPPED)
    )
    res = CliRunner().invoke(app, ["walkthrough", "nope"])
    assert res.exit_code == 2
    assert "no walkthrough 'nope'; available: " + ", ".join(SHIPPED) in res.output


def test_walk_on_an_unknown_house_or_at_no_speed() -> None:
    runner = CliRunner()
    res = runner.invoke(app, ["walkthrough", "broker-outage", "--house", "dw2"])
    assert res.exit_code == 2
    assert res.output.splitlines()[-1].endswith(
        "broker-outage.toml: --house: no house 'dw2' (did you mean 'dw1.isone.nh.orange.1'?)"
    )
    res = runner.invoke(app, ["walkthrough", "installer-session", "--house", HW25])
    assert res.exit_code == 2
    assert f"steps[1].node: no relay 'a.tank.out.pump.relay' in {HW25}" in res.output
    res = runner.invoke(app, ["walkthrough", "broker-outage", "--speed", "0"])
    assert res.exit_code == 2
    assert "--speed must be positive, not 0" in res.output


def test_walk_list_and_the_other_commands() -> None:
    runner = CliRunner()
    res = runner.invoke(app, ["walkthrough", "--list"])
    assert res.exit_code == 0
    listed = [line.split()[0] for line in res.output.splitlines() if line.strip()]
    assert listed == SHIPPED
    res = runner.invoke(app, ["walkthrough"])
    assert res.exit_code == 2
    assert "which walkthrough? sim walkthrough NAME" in res.output
    res = runner.invoke(app, ["--help"])
    assert res.exit_code == 0
    commands = {line.split()[1] for line in res.output.splitlines() if line.startswith("│ ")}
    assert {"demo", "atn", "walkthrough"} <= commands
    assert "walk" not in commands  # the old name still runs, unlisted
    res = runner.invoke(app, ["walk", "--list"])
    assert res.exit_code == 0
    assert [line.split()[0] for line in res.output.splitlines() if line.strip()] == SHIPPED


def test_a_failing_check_fails_the_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "short.toml").write_text(
        'description = "Twenty minutes; the check is wrong on purpose."\n'
        "start = 2024-01-10T06:00:00\n"
        'duration = "20m"\n'
        "[fidelity]\nsensor_period_floor_s = 30\npulses_per_gallon_max = 2\n"
        '[[expect]]\ncheck = "mode"\nat = "10m"\nmode = "local"\n'
        '[[expect]]\ncheck = "problem"\nkind = "actor_restarted"\nseen = false\n'
    )
    monkeypatch.setenv("SCADA_WALKTHROUGHS_DIR", str(tmp_path))
    out, err = io.StringIO(), io.StringIO()
    code = walk_console.main("short", out=out, err=err)
    text = out.getvalue()
    assert code == 1, err.getvalue()
    assert "FAIL  mode at 10m is local: it was remote" in text
    assert "PASS  problem actor_restarted never reported: none reported" in text
    assert "1/2 checks passed; 20m of dw1.isone.nh.orange.1 simulated" in text
    assert "mode local -> remote" in text  # narrated


def test_a_walkthrough_file_of_ones_own_runs_by_its_path(tmp_path: Path) -> None:
    mine = tmp_path / "mine.toml"
    mine.write_text(
        'description = "Ten quiet minutes."\n'
        "start = 2024-01-10T06:00:00\n"
        'duration = "10m"\n'
        "[fidelity]\nsensor_period_floor_s = 30\npulses_per_gallon_max = 2\n"
        '[[expect]]\ncheck = "problem"\nkind = "actor_restarted"\nseen = false\n'
    )
    out, err = io.StringIO(), io.StringIO()
    assert walk_console.main(str(mine), out=out, err=err) == 0, err.getvalue()
    assert f"walkthrough {mine}: Ten quiet minutes." in out.getvalue()
    assert "1/1 checks passed; 10m of dw1.isone.nh.orange.1 simulated" in out.getvalue()
    res = CliRunner().invoke(app, ["walkthrough", str(tmp_path / "absent.toml")])
    assert res.exit_code == 2
    assert f"{tmp_path / 'absent.toml'}: cannot read the file: No such file" in res.output
    (tmp_path / "broken.json").write_text('{"duration": "10q"}')
    res = CliRunner().invoke(app, ["walkthrough", str(tmp_path / "broken.json")])
    assert res.exit_code == 2
    assert "broken.json: duration: '10q' is not a duration like '90s'" in res.output


def test_shipped_files_load_and_fit_their_houses() -> None:
    for name in SHIPPED:
        path = find_walkthrough(name)
        wt = load_walkthrough(path)
        houses = ROOT / "input_data" / "houses"
        assert check_against(wt, load_layout(houses / f"{wt.house}.json"), str(path)) == []
