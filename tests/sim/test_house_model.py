"""The whole house: cooling and heating, zones, relays, readings and the heat pump's output."""

from __future__ import annotations

from datetime import timedelta

import pytest

from sim.house import HouseModel
from tests.sim.house_support import COLD_SNAP, DW1, HW25, T0, all_relays, model_of, run


def relays_for(model: HouseModel, *nodes: str) -> dict[str, bool]:
    """Every relay off except those driving ``nodes`` (all their relays on)."""
    out = all_relays(model, on=False)
    for load in model.topology.loads:
        if load.node in nodes:
            for relay, _ in load.relays:
                out[relay] = True
    return out


def test_the_house_cools_with_everything_off() -> None:
    model = model_of(DW1)
    before = model.temperatures()
    run(model, 2 * 86_400.0, all_relays(model, on=False), start=COLD_SNAP, dt_s=60.0)
    after = model.temperatures()
    assert after["garage-temp"] < before["garage-temp"] - 8.0
    assert after["garage-temp"] > after["outdoor-temp"]
    assert after["tank-temp0"] < before["tank-temp0"]
    assert all(v == 0.0 for v in model.power_w().values())
    assert all(v == 0.0 for v in model.flow_gpm().values())
    assert model.energy().electric_in_j == 0.0


def test_the_house_warms_with_heating() -> None:
    model = model_of(DW1, initial_space_c=8.0)
    relays = relays_for(model, "a.hp", "a.tank.out.pump")
    run(model, 12 * 3600.0, relays, start=COLD_SNAP, dt_s=30.0)
    temps = model.temperatures()
    assert temps["garage-temp"] > 15.0
    assert model.power_w()["hp-power"] > 1000.0
    assert model.flow_gpm()["dist-flow"] == pytest.approx(3.0)
    assert temps["pipe-out-temp"] > temps["pipe-in-temp"] > temps["garage-temp"]


def test_a_released_relay_takes_its_de_energized_state() -> None:
    model = model_of(HW25)
    released = model.released_relays()
    assert released["a.hp.failsafe"] is True  # normally closed
    assert released["a.hp.relay"] is False
    model.step(10.0, {}, T0)
    on = model.loads_on()
    # Failsafe relays close when released and hand the loads to their own controls.
    assert on["a.hp"]
    assert on["a.hp.pump"]
    assert on["a.dist.pump"]
    assert not on["a.elt1"]
    assert not on["a.zone1.valve"]
    model.step(10.0, all_relays(model, on=False), T0)
    assert not any(model.loads_on().values())


def test_the_heat_pump_heats_only_while_its_primary_pump_runs() -> None:
    model = model_of(HW25)
    model.step(10.0, relays_for(model, "a.hp"), T0)
    assert model.heat_pump_state().heat_w == 0.0
    assert model.power_w()["hp-odu-power"] == 0.0
    model.step(10.0, relays_for(model, "a.hp", "a.hp.pump"), T0)
    assert model.heat_pump_state().heat_w > 5000.0
    assert model.flow_gpm()["primary-flow"] > 5.0


def test_power_channels_read_the_loads_of_their_node() -> None:
    model = model_of(HW25)
    model.step(10.0, relays_for(model, "a.hp", "a.hp.pump", "a.elt1", "a.elt2"), T0)
    p = model.power_w()
    assert p["elt1-power"] == p["elt2-power"] == 4500.0
    assert p["primary-pump-power"] == 180.0
    assert p["hp-idu-power"] == pytest.approx(0.05 / 0.95 * p["hp-odu-power"])
    assert p["dist-pump-power"] == 0.0
    loads = sum(v for k, v in p.items() if k != "mains-power")
    assert p["mains-power"] == pytest.approx(loads)


def test_a_shut_zone_gets_no_heat_and_a_fan_off_gets_less() -> None:
    model = model_of(HW25)
    relays = relays_for(model, "a.dist.pump", "a.zone1.valve", "a.zone2.valve", "a.zone2.fancoil")
    model.step(10.0, relays, T0)
    heat = model.delivered_w()
    assert heat["Living room"] > 1000.0
    assert heat["Upstairs bedrooms"] == heat["Basement workshop"] == 0.0
    with_fan = heat["Kitchen and dining"]
    relays["a.zone2.fancoil.relay"] = False
    model.step(10.0, relays, T0)
    assert 0.0 < model.delivered_w()["Kitchen and dining"] < 0.5 * with_fan
    assert model.flow_gpm()["dist-flow"] == pytest.approx(5.0)


def test_pipe_sensors_follow_the_water_then_settle_to_the_room() -> None:
    model = model_of(DW1)
    pump = relays_for(model, "a.tank.out.pump")
    run(model, 600.0, pump)
    temps = model.temperatures()
    assert temps["pipe-out-temp"] == pytest.approx(temps["tank-temp0"], abs=0.3)
    run(model, 4 * 3600.0, all_relays(model, on=False), start=T0 + timedelta(minutes=10))
    temps = model.temperatures()
    assert temps["pipe-out-temp"] == pytest.approx(temps["garage-temp"], abs=1.0)


def test_the_outdoor_sensor_reads_the_weather_profile() -> None:
    model = model_of(DW1)
    t = T0 + timedelta(days=3, hours=5)
    model.step(3600.0, {}, t)
    assert model.temperatures()["outdoor-temp"] == pytest.approx(
        model.weather.at(t + timedelta(minutes=30))
    )


def test_a_controllable_heat_pump_takes_a_chosen_output_temperature() -> None:
    model = model_of(DW1, heat_pump_output_controllable=True)
    relays = relays_for(model, "a.hp")
    t = T0
    for _ in range(60):
        model.step(10.0, relays, t, heat_pump_supply_c=62.0)
        t += timedelta(seconds=10)
    hp = model.heat_pump_state()
    assert hp.supply_c == pytest.approx(62.0)  # its own pump slows down to lift 7 K
    assert 60.0 < model.tank_temps()[0] <= 62.0  # charged from the top
    # Behind an external primary pump (fixed flow) it can only modulate its compressor.
    fixed = model_of(HW25, heat_pump_output_controllable=True)
    fixed.step(10.0, relays_for(fixed, "a.hp", "a.hp.pump"), T0, heat_pump_supply_c=56.0)
    assert fixed.heat_pump_state().supply_c == pytest.approx(56.0)
    assert fixed.heat_pump_state().heat_w < fixed.heat_pump.capacity_w(-5.0, 56.0)  # type: ignore[union-attr]


def test_an_on_off_heat_pump_refuses_a_chosen_output_temperature() -> None:
    model = model_of(DW1)
    assert not model.heat_pump_controllable
    with pytest.raises(ValueError, match="heat_pump_output_controllable"):
        model.step(10.0, {}, T0, heat_pump_supply_c=50.0)
    with pytest.raises(ValueError, match="positive"):
        model.step(0.0, {}, T0)
    with pytest.raises(TypeError, match="True \\(on\\) or False"):
        model.step(10.0, {"a.hp.relay": "off"}, T0)  # type: ignore[dict-item]


def test_elements_stop_at_their_own_high_limit() -> None:
    model = model_of(DW1, initial_tank_c=84.9, element_cutout_c=85.0)
    run(model, 3600.0, relays_for(model, "a.elt1"), dt_s=10.0)
    assert max(model.tank_temps()) < 85.5
    assert model.power_w()["elt1-power"] == 0.0
