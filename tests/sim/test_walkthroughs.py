"""Walkthroughs: every shipped one passes its own checks at full speed, and ``sim walkthrough``
lists, refuses and reports as it should (bad files: ``test_walkthrough_files.py``).

The 28-day ``month`` runs here for one simulated day (its checks are shares and rates, so they
hold for any length); the whole month is timed by bench/bench_sim.py.
"""

from __future__ import annotations

import io
from datetime import timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sim.cli import app
from sim.walkthroughs import (
    Options,
    UnknownWalkthroughError,
    WalkReport,
    available,
    find_walkthrough,
    load_walkthrough,
    run,
    run_named,
)
from sim.walkthroughs import console as walk_console

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
