"""The heat pump's COP and capacity curves, and how it runs."""

from __future__ import annotations

import pytest

from sim.house.heat_pump import HeatPumpSpec, operate
from sim.house.tank import WATER_CP_J_PER_KG_K

SPEC = HeatPumpSpec(rated_capacity_w=9000.0)
OUTDOOR = [-30.0, -25.0, -15.0, -5.0, 0.0, 7.0, 15.0]
SUPPLY = [30.0, 35.0, 45.0, 55.0, 65.0]


def test_cop_matches_published_test_points() -> None:
    assert SPEC.cop(7.0, 35.0) == pytest.approx(3.5)
    assert 1.7 <= SPEC.cop(-15.0, 55.0) <= 2.2
    assert 2.3 <= SPEC.cop(0.0, 45.0) <= 3.0


def test_cop_rises_with_outdoor_air_and_falls_with_supply_temperature() -> None:
    for supply in SUPPLY:
        cops = [SPEC.cop(o, supply) for o in OUTDOOR]
        assert cops == sorted(cops)
        assert len(set(cops)) == len(cops)
    for outdoor in OUTDOOR:
        cops = [SPEC.cop(outdoor, s) for s in SUPPLY]
        assert cops == sorted(cops, reverse=True)


def test_capacity_is_derated_in_the_cold_and_at_high_supply() -> None:
    for supply in SUPPLY:
        caps = [SPEC.capacity_w(o, supply) for o in OUTDOOR]
        assert caps == sorted(caps)
    for outdoor in OUTDOOR:
        caps = [SPEC.capacity_w(outdoor, s) for s in SUPPLY]
        assert caps == sorted(caps, reverse=True)
    assert SPEC.capacity_w(7.0, 35.0) == pytest.approx(9000.0)
    assert 0.6 * 9000 < SPEC.capacity_w(-25.0, 35.0) < 0.8 * 9000


def test_it_stops_below_its_lowest_outdoor_temperature() -> None:
    assert SPEC.capacity_w(-31.0, 45.0) == 0.0
    out = operate(SPEC, outdoor_c=-31.0, return_c=40.0)
    assert out.heat_w == 0.0
    assert out.electric_w == 0.0


def test_on_off_runs_at_capacity_with_its_nominal_flow() -> None:
    out = operate(SPEC, outdoor_c=-5.0, return_c=40.0)
    assert out.flow_kg_s == pytest.approx(SPEC.flow_kg_s)
    assert out.supply_c == pytest.approx(40.0 + out.heat_w / (out.flow_kg_s * WATER_CP_J_PER_KG_K))
    assert out.heat_w == pytest.approx(SPEC.capacity_w(-5.0, out.supply_c), rel=0.01)
    assert out.electric_w == pytest.approx(out.heat_w / SPEC.cop(-5.0, out.supply_c))
    assert out.ambient_w == pytest.approx(out.heat_w - out.electric_w)


def test_it_never_leaves_water_above_its_high_limit() -> None:
    out = operate(SPEC, outdoor_c=5.0, return_c=63.0)
    assert out.supply_c == pytest.approx(SPEC.max_supply_c)
    assert operate(SPEC, outdoor_c=5.0, return_c=66.0).heat_w == 0.0


def test_a_controllable_unit_delivers_the_chosen_temperature() -> None:
    spec = HeatPumpSpec(rated_capacity_w=9000.0, controllable=True)
    out = operate(spec, outdoor_c=0.0, return_c=35.0, target_supply_c=60.0)
    assert out.supply_c == pytest.approx(60.0)
    assert out.flow_kg_s <= spec.flow_kg_s
    assert out.heat_w == pytest.approx(spec.capacity_w(0.0, 60.0))
    cooler = operate(spec, outdoor_c=0.0, return_c=35.0, target_supply_c=45.0)
    assert cooler.cop > out.cop  # a lower output temperature is cheaper per kWh of heat
    assert operate(spec, outdoor_c=0.0, return_c=50.0, target_supply_c=48.0).heat_w == 0.0


def test_no_flow_no_heat() -> None:
    out = operate(SPEC, outdoor_c=0.0, return_c=40.0, flow_kg_s=0.0)
    assert (out.heat_w, out.electric_w, out.flow_kg_s) == (0.0, 0.0, 0.0)
