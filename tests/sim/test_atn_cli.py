"""``sim atn``: on its own the simulated ATN needs an MQTT broker (running it against a real
broker is tested in tests/link/test_mqtt_serve.py)."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from sim.cli import app


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def test_sim_atn_needs_a_broker(runner: CliRunner) -> None:
    res = runner.invoke(app, ["atn"])
    assert res.exit_code == 2
    assert "--broker" in res.output
    assert len(res.output.strip().splitlines()) == 1


def test_sim_atn_wants_a_broker_url(runner: CliRunner) -> None:
    res = runner.invoke(app, ["atn", "--broker", "localhost:1883"])
    assert res.exit_code == 2
    assert "must start with mqtt:// or mqtts://" in res.output
    assert len(res.output.strip().splitlines()) == 1


def test_sim_atn_names_an_unknown_house(runner: CliRunner) -> None:
    res = runner.invoke(app, ["atn", "--house", "no.such.house", "--broker", "localhost"])
    assert res.exit_code == 2
    assert "no.such.house" in res.output


def test_sim_demo_is_still_there(runner: CliRunner) -> None:
    res = runner.invoke(app, ["--help"])
    assert res.exit_code == 0
    assert "demo" in res.output
    assert "atn" in res.output
    assert runner.invoke(app, ["demo", "--help"]).exit_code == 0
