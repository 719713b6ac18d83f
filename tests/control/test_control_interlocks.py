"""Safety interlocks: each one firing and not firing, their priority, in every mode."""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from scada.control.interlocks import Interlock, Interlocked, Override, RelayRecord, apply
from scada.layout import Actuator
from scada.protocol import CommandSource, RelayState
from tests.control.control_support import (
    ACTUATORS,
    ELT,
    ELT2,
    HP,
    LAYERS,
    OUTDOOR,
    PIPE,
    PUMP,
    SETTINGS,
    actuator,
    at,
)

ON, OFF = RelayState.ON, RelayState.OFF
NOW_S = 10_000.0


def readings(
    tank: tuple[float | None, float | None, float | None] = (60.0, 55.0, 50.0),
    pipe: float | None = 20.0,
    outdoor: float | None = 10.0,
) -> dict[str, float | None]:
    values: dict[str, float | None] = {PIPE: pipe, OUTDOOR: outdoor}
    values.update(zip(LAYERS, tank, strict=True))
    return values


def since(state: RelayState, seconds_ago: float) -> RelayRecord:
    return RelayRecord(state, at(NOW_S - seconds_ago))


def run(
    desired: Mapping[str, RelayState],
    values: Mapping[str, float | None] | None = None,
    history: Mapping[str, RelayRecord] | None = None,
    source: CommandSource = CommandSource.ATN,
    actuators: tuple[Actuator, ...] = ACTUATORS,
) -> Interlocked:
    return apply(
        desired,
        source,
        readings=readings() if values is None else values,
        relay_history=history or {},
        actuators=actuators,
        settings=SETTINGS,
        now=at(NOW_S),
    )


def only(result: Interlocked) -> Override:
    assert len(result.overrides) == 1, result.overrides
    return result.overrides[0]


def test_nothing_fires_in_a_safe_house() -> None:
    desired = {HP: ON, PUMP: OFF, ELT: ON, ELT2: OFF}
    result = run(desired)
    assert result.final == desired
    assert result.overrides == []


def test_nodes_not_asked_for_and_not_forced_stay_out_of_the_result() -> None:
    result = run({HP: ON})
    assert result.final == {HP: ON}


# ------------------------------------------------------------------- tank over-temp


@pytest.mark.parametrize("source", list(CommandSource))
def test_element_off_at_tank_max_whoever_asks(source: CommandSource) -> None:
    result = run({ELT: ON}, readings(tank=(80.0, 60.0, 50.0)), source=source)
    assert result.final[ELT] is OFF
    o = only(result)
    assert (o.node, o.interlock, o.wanted, o.forced) == (ELT, Interlock.TANK_OVER_TEMP, ON, OFF)
    assert o.reason == (
        f"{source.value} wanted on; tank layer tank-top at 80.0 °C, tank_max_c 80 °C"
    )


def test_element_allowed_just_below_max() -> None:
    result = run({ELT: ON}, readings(tank=(79.9, 60.0, 50.0)))
    assert result.final[ELT] is ON
    assert result.overrides == []


def test_stale_tank_layer_means_element_off() -> None:
    o = only(run({ELT: ON}, readings(tank=(60.0, None, 50.0))))
    assert o.interlock is Interlock.TANK_OVER_TEMP
    assert o.reason.endswith("tank layer tank-mid unknown (stale or broken): element off")


def test_element_left_on_is_turned_off_even_when_nobody_asked() -> None:
    history = {ELT: since(ON, 50)}
    result = run({}, readings(tank=(85.0, 60.0, 50.0)), history)
    assert result.final == {ELT: OFF}
    assert only(result).wanted is ON


def test_over_temp_beats_freeze_and_minimum_on_time() -> None:
    sticky = (*ACTUATORS[:2], actuator(ELT, min_on_s=600), ACTUATORS[3])
    values = readings(tank=(81.0, 30.0, 5.0))
    result = run({ELT: ON}, values, {ELT: since(ON, 10)}, actuators=sticky)
    assert result.final[ELT] is OFF
    assert only(result).interlock is Interlock.TANK_OVER_TEMP


# ------------------------------------------------------------------- freeze protection


def test_cold_pipe_forces_the_circulator_on() -> None:
    result = run({PUMP: OFF}, readings(pipe=4.9))
    assert result.final[PUMP] is ON
    o = only(result)
    assert (o.interlock, o.wanted, o.forced) == (Interlock.FREEZE_PIPE, OFF, ON)
    assert o.reason == "atn wanted off; pipe pipe-temp at 4.9 °C, below 5 °C"


def test_pipe_at_threshold_does_not_fire_when_off() -> None:
    assert run({PUMP: OFF}, readings(pipe=5.0)).overrides == []


@pytest.mark.parametrize(("pipe_c", "forced"), [(6.9, True), (7.0, False)])
def test_freeze_pipe_hysteresis_once_on(pipe_c: float, forced: bool) -> None:
    result = run({PUMP: OFF}, readings(pipe=pipe_c), {PUMP: since(ON, 60)})
    assert result.final[PUMP] is (ON if forced else OFF)


def test_cold_pipe_adds_the_circulator_when_nobody_asked() -> None:
    result = run({HP: ON}, readings(pipe=2.0))
    assert result.final == {HP: ON, PUMP: ON}


@pytest.mark.parametrize(
    ("outdoor_c", "forced", "said"),
    [(None, True, "unknown"), (6.9, True, "6.9 °C"), (7.0, False, "")],
)
def test_unknown_pipe_counts_as_freezing_unless_it_is_mild_outside(
    outdoor_c: float | None, forced: bool, said: str
) -> None:
    result = run({PUMP: OFF}, readings(pipe=None, outdoor=outdoor_c))
    assert result.final[PUMP] is (ON if forced else OFF)
    if forced:
        assert only(result).reason.endswith(
            f"pipe pipe-temp unknown and outdoor {said}: assumed freezing"
        )


def test_cold_tank_forces_the_elements_on() -> None:
    result = run({ELT: OFF, ELT2: OFF}, readings(tank=(30.0, 20.0, 7.9)))
    assert result.final == {ELT: ON, ELT2: ON}
    assert {o.interlock for o in result.overrides} == {Interlock.FREEZE_TANK}
    assert result.overrides[0].reason.endswith("tank layer tank-bottom at 7.9 °C, below 8 °C")


def test_tank_at_freeze_threshold_does_not_fire() -> None:
    assert run({ELT: OFF}, readings(tank=(30.0, 20.0, 8.0))).overrides == []


@pytest.mark.parametrize(("bottom_c", "forced"), [(9.9, True), (10.0, False)])
def test_freeze_tank_hysteresis_once_on(bottom_c: float, forced: bool) -> None:
    result = run({ELT: OFF}, readings(tank=(30.0, 20.0, bottom_c)), {ELT: since(ON, 60)})
    assert result.final[ELT] is (ON if forced else OFF)


def test_freeze_beats_minimum_off_time() -> None:
    sticky = (ACTUATORS[0], actuator(PUMP, min_off_s=600), *ACTUATORS[2:])
    result = run({PUMP: OFF}, readings(pipe=1.0), {PUMP: since(OFF, 10)}, actuators=sticky)
    assert result.final[PUMP] is ON
    assert only(result).interlock is Interlock.FREEZE_PIPE


@pytest.mark.parametrize("source", list(CommandSource))
def test_freeze_holds_under_an_admin_hold_too(source: CommandSource) -> None:
    assert run({PUMP: OFF}, readings(pipe=0.0), source=source).final[PUMP] is ON


# -------------------------------------------------------------- minimum on / off time


def test_heat_pump_minimum_on_time_holds_it_on_with_seconds_left() -> None:
    result = run({HP: OFF}, history={HP: since(ON, 100)}, source=CommandSource.ADMIN)
    assert result.final[HP] is ON
    o = only(result)
    assert (o.interlock, o.wanted, o.forced) == (Interlock.MIN_ON_TIME, OFF, ON)
    assert o.reason == "admin wanted off; a.hp.relay on for 100 s, min_on_s 300 s: 200 s left"


def test_heat_pump_may_stop_once_the_minimum_on_time_is_over() -> None:
    result = run({HP: OFF}, history={HP: since(ON, 300)})
    assert result.final[HP] is OFF
    assert result.overrides == []


def test_heat_pump_minimum_off_time_holds_it_off() -> None:
    result = run({HP: ON}, history={HP: since(OFF, 100.5)})
    o = only(result)
    assert (o.interlock, o.forced) == (Interlock.MIN_OFF_TIME, OFF)
    assert o.reason.endswith("a.hp.relay off for 100 s, min_off_s 600 s: 500 s left")


def test_heat_pump_may_start_once_the_minimum_off_time_is_over() -> None:
    assert run({HP: ON}, history={HP: since(OFF, 600)}).overrides == []


def test_no_change_asked_means_no_minimum_time_override() -> None:
    assert run({HP: ON}, history={HP: since(ON, 1)}).overrides == []


def test_no_history_means_no_minimum_time() -> None:
    assert run({HP: ON}).final[HP] is ON


def test_actuator_unknown_to_the_layout_has_no_minimum_time() -> None:
    assert run({"a.other.relay": ON}, history={"a.other.relay": since(OFF, 1)}).overrides == []
