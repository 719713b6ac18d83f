"""The home-alone strategy: cold / warm rooms, empty / low / full tank, stale inputs."""

from __future__ import annotations

import pytest

from scada.control.home_alone import Decision, HomeAloneInputs, decide
from scada.layout import Zone
from scada.protocol import RelayState
from tests.control.control_support import (
    ELT,
    ELT2,
    HP,
    LAYERS,
    PUMP,
    SETTINGS,
    T0,
    ZONE1,
    ZONE2,
    at,
    make_settings,
)

ON, OFF = RelayState.ON, RelayState.OFF
ALL = {ZONE1, ZONE2, PUMP, HP, ELT, ELT2}


def readings(
    living: float | None = 20.0,
    bedroom: float | None = 18.0,
    tank: tuple[float | None, float | None, float | None] = (58.0, 57.0, 56.0),
) -> dict[str, float | None]:
    values: dict[str, float | None] = {"living-temp": living, "bedroom-temp": bedroom}
    values.update(zip(LAYERS, tank, strict=True))
    return values


def run(
    values: dict[str, float | None],
    on: tuple[str, ...] = (),
    *,
    hp_available: bool = True,
    seconds: float = 0,
) -> Decision:
    relays = {node: (ON if node in on else OFF) for node in ALL}
    return decide(HomeAloneInputs(values, relays, hp_available), SETTINGS, at(seconds))


def test_every_controlled_actuator_gets_a_decision_and_a_reason() -> None:
    d = run(readings())
    assert set(d.desired) == ALL
    assert all(d.reasons[n] for n in ALL)
    assert [a.node for a in d.actions] == [ZONE1, ZONE2, PUMP, HP, ELT, ELT2]


def test_cold_rooms_call_for_heat() -> None:
    d = run(readings(living=18.5, bedroom=16.9))
    assert d.desired[ZONE1] is ON
    assert d.desired[ZONE2] is ON
    assert d.desired[PUMP] is ON
    assert d.reasons[ZONE1] == "living at 18.5 °C, below 19.0 °C"
    assert d.reasons[PUMP] == "zones calling for heat: living, bedroom"


def test_warm_rooms_stop_even_if_they_were_heating() -> None:
    d = run(readings(living=21.5, bedroom=19.1), on=(ZONE1, ZONE2, PUMP))
    assert (d.desired[ZONE1], d.desired[ZONE2], d.desired[PUMP]) == (OFF, OFF, OFF)
    assert d.reasons[ZONE1] == "living at 21.5 °C, above 21.0 °C"
    assert d.reasons[PUMP] == "no zone calls for heat"


@pytest.mark.parametrize("was_on", [True, False])
def test_inside_the_band_a_zone_keeps_what_it_was_doing(was_on: bool) -> None:
    on = (ZONE1, PUMP) if was_on else ()
    d = run(readings(living=20.9, bedroom=19.5), on=on)
    assert d.desired[ZONE1] is (ON if was_on else OFF)
    assert d.desired[PUMP] is (ON if was_on else OFF)
    assert d.reasons[ZONE1].endswith("keeps heating" if was_on else "stays off")


@pytest.mark.parametrize("edge_c", [19.0, 21.0])
def test_band_edges_keep_the_previous_state(edge_c: float) -> None:
    assert run(readings(living=edge_c), on=(ZONE1,)).desired[ZONE1] is ON
    assert run(readings(living=edge_c)).desired[ZONE1] is OFF


@pytest.mark.parametrize(
    ("seconds", "expected"), [(0, ON), (899, ON), (900, OFF), (1799, OFF), (1800, ON)]
)
def test_unknown_room_heats_half_the_time(seconds: float, expected: RelayState) -> None:
    d = run(readings(living=None, bedroom=19.5), seconds=seconds)
    assert d.desired[ZONE1] is expected
    assert d.desired[PUMP] is expected
    assert "room temperature unknown; heating half the time" in d.reasons[ZONE1]


def test_zone_without_relay_takes_its_memory_from_the_circulator() -> None:
    one = make_settings(zones=(Zone(name="house", room_channel="living-temp", setpoint_c=20.0),))
    inputs = HomeAloneInputs(readings(living=20.5), {PUMP: ON})
    assert decide(inputs, one, T0).desired[PUMP] is ON
    inputs = HomeAloneInputs(readings(living=20.5), {PUMP: OFF})
    assert decide(inputs, one, T0).desired[PUMP] is OFF
    assert ZONE1 not in decide(inputs, one, T0).desired


# ---------------------------------------------------------------------------- tank


def test_empty_tank_starts_the_heat_pump_and_waits_for_it_before_boosting() -> None:
    d = run(readings(tank=(30.0, 25.0, 20.0)))
    assert d.desired[HP] is ON
    assert d.reasons[HP] == "tank top 30.0 °C below tank_min_c 40 °C"
    assert d.desired[ELT] is OFF
    assert d.reasons[ELT] == "the heat pump charges the tank first"


def test_empty_tank_with_the_heat_pump_running_boosts() -> None:
    d = run(readings(tank=(30.0, 25.0, 20.0)), on=(HP,))
    assert (d.desired[HP], d.desired[ELT], d.desired[ELT2]) == (ON, ON, ON)
    assert d.reasons[ELT] == "tank top 30.0 °C below tank_min_c, heat pump on and not keeping up"


def test_unavailable_heat_pump_is_off_and_the_elements_keep_the_tank_at_minimum() -> None:
    d = run(readings(tank=(35.0, 30.0, 25.0)), hp_available=False)
    assert d.desired[HP] is OFF
    assert d.reasons[HP] == "heat pump unavailable"
    assert d.desired[ELT] is ON
    assert d.reasons[ELT] == "tank top 35.0 °C below tank_min_c, no usable heat pump"


def test_house_without_a_heat_pump_boosts_when_low() -> None:
    no_hp = make_settings(heat_pump=None)
    d = decide(HomeAloneInputs(readings(tank=(39.0, 35.0, 30.0))), no_hp, T0)
    assert HP not in d.desired
    assert d.desired[ELT] is ON


@pytest.mark.parametrize(("was_on", "expected"), [(True, ON), (False, OFF)])
def test_boost_keeps_its_state_between_min_and_release(was_on: bool, expected: RelayState) -> None:
    on = (HP, ELT) if was_on else (HP,)
    assert run(readings(tank=(42.0, 38.0, 30.0)), on=on).desired[ELT] is expected


def test_boost_stops_at_release() -> None:
    d = run(readings(tank=(45.0, 38.0, 30.0)), on=(HP, ELT))
    assert d.desired[ELT] is OFF
    assert d.reasons[ELT] == "tank top 45.0 °C at or above 45 °C"


def test_low_tank_charges() -> None:
    d = run(readings(tank=(56.0, 54.0, 50.0)))
    assert d.desired[HP] is ON
    assert d.reasons[HP] == "tank average 53.3 °C below 55 °C: charging"
    assert d.desired[ELT] is OFF


@pytest.mark.parametrize(("was_on", "expected"), [(True, ON), (False, OFF)])
def test_tank_in_the_recharge_band_keeps_the_heat_pump_state(
    was_on: bool, expected: RelayState
) -> None:
    d = run(readings(tank=(59.0, 57.0, 56.0)), on=(HP,) if was_on else ())
    assert d.desired[HP] is expected


def test_full_tank_stops_the_heat_pump() -> None:
    d = run(readings(tank=(62.0, 60.0, 58.0)), on=(HP,))
    assert d.desired[HP] is OFF
    assert d.reasons[HP] == "tank charged: average 60.0 °C at or above target"


def test_elements_never_on_with_the_tank_at_max() -> None:
    d = run(readings(tank=(80.0, 30.0, 20.0)), on=(HP, ELT), hp_available=False)
    assert d.desired[ELT] is OFF
    assert d.reasons[ELT] == "tank at 80.0 °C, at or above tank_max_c"


@pytest.mark.parametrize("calling", [True, False])
def test_unknown_tank_heat_pump_follows_the_call_and_elements_stay_off(calling: bool) -> None:
    room = 17.0 if calling else 22.0
    d = run(readings(living=room, bedroom=room, tank=(None, None, None)), on=(HP, ELT))
    assert d.desired[HP] is (ON if calling else OFF)
    assert d.desired[ELT] is OFF
    assert d.reasons[ELT] == "tank temperature unknown: elements stay off"


def test_stale_top_layer_uses_the_highest_fresh_layer() -> None:
    d = run(readings(tank=(None, 35.0, 30.0)), on=(HP,))
    assert d.desired[HP] is ON
    assert d.reasons[HP] == "tank top 35.0 °C below tank_min_c 40 °C"


def test_missing_channels_count_as_stale() -> None:
    d = decide(HomeAloneInputs({}), SETTINGS, T0)
    assert d.desired[ZONE1] is ON  # first half of the slot at 13:00
    assert d.desired[ELT] is OFF
