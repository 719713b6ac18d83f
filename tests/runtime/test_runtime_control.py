"""Interlocks over every boss (admin included), and the home-alone strategy on the live runtime."""

from __future__ import annotations

from typing import Any

from scada.actors.pass_schedule import CONTROL_PERIOD_S
from scada.protocol import (
    CommandOutcome,
    CommandResult,
    CommandSource,
    ErrorCode,
    EventKind,
    ProblemKind,
    RelayState,
    Reply,
    SetRelay,
    TakeHold,
)
from scada.protocol.snapshot import ActuatorSnapshot
from tests.runtime.harness import (
    ELT,
    GARAGE,
    HP,
    PIPE_OUT,
    PUMP,
    TANK_LAYERS,
    Rig,
    layout_variant,
    run_scenario,
)

ON, OFF = RelayState.ON, RelayState.OFF
DW1 = "dw1.isone.nh.orange.1"


async def hold_and_set(rig: Rig, node: str, state: RelayState) -> Reply:
    if rig.controller.hold_msg() is None:
        assert (await rig.request(TakeHold(id=1, operator="alice", minutes=60))).ok
    return await rig.request(SetRelay(id=2, node=node, state=state, operator="alice"))


def last_result(rig: Rig, node: str) -> CommandResult:
    results = [r for r in rig.rec.payloads(EventKind.ACTUATOR, CommandResult) if r.target == node]
    return results[-1]


def actuator(rig: Rig, node: str) -> ActuatorSnapshot:
    return next(a for a in rig.snapshot().actuators if a.node == node)


def tank(temp_c: float) -> dict[str, float]:
    return dict.fromkeys(TANK_LAYERS, temp_c)


# -------------------------------------------------------------------------- interlocks


def test_element_refused_with_the_tank_at_its_maximum_and_stays_refused() -> None:
    async def scenario(rig: Rig) -> None:
        await rig.advance(10)
        reply = await hold_and_set(rig, ELT, ON)
        assert not reply.ok
        assert reply.error is not None
        assert reply.error.code == ErrorCode.REFUSED
        assert "tank_max_c" in reply.error.message
        res = last_result(rig, ELT)
        assert res.outcome is CommandOutcome.REFUSED
        assert res.interlock == "tank-over-temp"
        assert not rig.coil(ELT)
        # A refused command is not carried out later, when the tank has cooled.
        rig.bench.values.update(tank(60.0))
        await rig.advance(6 * CONTROL_PERIOD_S)
        assert not rig.coil(ELT)
        # Asked again, now it may.
        res2 = await hold_and_set(rig, ELT, ON)
        assert res2.ok
        assert rig.coil(ELT)
        # And the moment the tank reaches its maximum, the element goes off, whoever is boss.
        rig.bench.values["tank-temp3"] = 80.5
        await rig.advance(5 + CONTROL_PERIOD_S)
        assert not rig.coil(ELT)
        overrides = rig.rec.problems(ProblemKind.INTERLOCK_OVERRIDE, ELT)
        assert len(overrides) == 1
        assert "tank-temp3" in overrides[0].summary

    run_scenario(scenario, values=tank(80.0))


def test_element_off_when_a_tank_layer_is_unknown() -> None:
    async def scenario(rig: Rig) -> None:
        await rig.advance(10)
        assert (await hold_and_set(rig, ELT, ON)).ok
        assert rig.coil(ELT)
        rig.fail_device("tank-adc-2")  # tank-temp4 among its channels
        await rig.advance(5 + CONTROL_PERIOD_S)
        assert not rig.coil(ELT)
        assert "unknown" in rig.rec.problems(ProblemKind.INTERLOCK_OVERRIDE, ELT)[0].summary

    run_scenario(scenario, values=tank(45.0))


def test_freeze_protection_runs_the_pump_even_against_an_admin_hold() -> None:
    async def scenario(rig: Rig) -> None:
        await rig.advance(10)
        assert (await hold_and_set(rig, PUMP, OFF)).ok
        assert not rig.coil(PUMP)
        rig.bench.values[PIPE_OUT] = 2.0
        await rig.advance(5 + CONTROL_PERIOD_S)
        assert rig.coil(PUMP)
        snap = actuator(rig, PUMP)
        assert snap.boss is CommandSource.ADMIN
        assert snap.state is ON
        overrides = rig.rec.problems(ProblemKind.INTERLOCK_OVERRIDE, PUMP)
        assert len(overrides) == 1
        assert "admin wanted off" in overrides[0].summary
        assert PIPE_OUT in overrides[0].summary
        # Asking for off again while the pipe is freezing: refused, naming the interlock.
        reply = await hold_and_set(rig, PUMP, OFF)
        assert not reply.ok
        assert last_result(rig, PUMP).interlock == "freeze-pipe"
        assert rig.coil(PUMP)
        # Still freezing: no new report every control pass.
        await rig.advance(10 * CONTROL_PERIOD_S)
        assert len(rig.rec.problems(ProblemKind.INTERLOCK_OVERRIDE, PUMP)) == 1
        # Warm again past the hysteresis: the admin's standing wish (off) applies again.
        rig.bench.values[PIPE_OUT] = 6.0  # above 5 but below 5 + 2: stays on
        await rig.advance(5 + CONTROL_PERIOD_S)
        assert rig.coil(PUMP)
        rig.bench.values[PIPE_OUT] = 8.0
        await rig.advance(5 + CONTROL_PERIOD_S)
        assert not rig.coil(PUMP)

    run_scenario(scenario)


def test_unknown_pipe_in_cold_weather_counts_as_freezing() -> None:
    async def scenario(rig: Rig) -> None:
        await rig.advance(10)
        assert not rig.coil(PUMP)
        rig.bench.values[PIPE_OUT] = 500.0  # broken probe: out of range
        await rig.advance(5 + CONTROL_PERIOD_S)
        assert rig.coil(PUMP)
        assert (
            "assumed freezing" in rig.rec.problems(ProblemKind.INTERLOCK_OVERRIDE, PUMP)[0].summary
        )

    run_scenario(scenario)


def test_heat_pump_minimum_off_and_on_times_hold_for_admin_too() -> None:
    async def scenario(rig: Rig) -> None:
        await rig.advance(10)
        reply = await hold_and_set(rig, HP, ON)
        assert not reply.ok
        assert reply.error is not None
        assert "min_off_s" in reply.error.message
        assert last_result(rig, HP).interlock == "min-off-time"
        assert not rig.coil(HP)
        await rig.advance(300)
        assert (await hold_and_set(rig, HP, ON)).ok
        assert rig.coil(HP)
        reply = await hold_and_set(rig, HP, OFF)
        assert not reply.ok
        assert last_result(rig, HP).interlock == "min-on-time"
        assert rig.coil(HP)
        await rig.advance(300)
        assert (await hold_and_set(rig, HP, OFF)).ok
        assert not rig.coil(HP)

    run_scenario(scenario)


# -------------------------------------------------------------------------- home-alone


def test_cold_room_runs_the_circulator_and_a_warm_one_stops_it() -> None:
    async def scenario(rig: Rig) -> None:
        await rig.advance(CONTROL_PERIOD_S + 1)
        assert rig.coil(PUMP)
        assert actuator(rig, PUMP).boss is CommandSource.HOME_ALONE
        assert actuator(rig, PUMP).commanded is ON
        rig.bench.values[GARAGE] = 18.5  # inside the band: keeps heating
        await rig.advance(60)
        assert rig.coil(PUMP)
        rig.bench.values[GARAGE] = 19.5  # above 18 + 1
        await rig.advance(30 + CONTROL_PERIOD_S)
        assert not rig.coil(PUMP)
        rig.bench.values[GARAGE] = 17.5  # inside the band again: stays off
        await rig.advance(60)
        assert not rig.coil(PUMP)

    run_scenario(scenario, values={GARAGE: 12.0})


def test_cold_tank_charges_with_the_heat_pump_once_its_minimum_off_time_allows() -> None:
    async def scenario(rig: Rig) -> None:
        await rig.advance(60)
        assert not rig.coil(HP)  # min_off_s from start-up
        await rig.advance(300)
        assert rig.coil(HP)
        # Heat pump running but the tank top still below tank_min_c: it is not keeping up.
        assert rig.coil(ELT)
        rig.bench.values.update(tank(61.0))
        await rig.until(lambda: not rig.coil(ELT), within_s=5 + 2 * CONTROL_PERIOD_S)
        assert rig.coil(HP)  # charged, but min_on_s first
        await rig.advance(300)
        assert not rig.coil(HP)

    run_scenario(scenario, values=tank(30.0))


def _hp_on_its_own_board(doc: dict[str, Any]) -> None:
    doc["devices"].append(
        {
            "name": "hp-board",
            "make_model": "ncd__pr8_14_spst",
            "display_name": "Heat pump relay board",
            "bus": {"kind": "i2c", "bus": 1, "address": 33},
        }
    )
    for act in doc["actuators"]:
        if act["node"] == HP:
            act["device"] = "hp-board"
            act["board_channel"] = 0


def test_tank_below_minimum_without_a_heat_pump_boosts_with_the_element() -> None:
    layout = layout_variant(DW1, _hp_on_its_own_board)

    async def scenario(rig: Rig) -> None:
        await rig.advance(CONTROL_PERIOD_S + 1)
        assert rig.coil(ELT)
        assert not rig.coil(HP)
        # Charged past tank_min_c + 5: the element stops.
        rig.bench.values.update(tank(46.0))
        await rig.advance(5 + CONTROL_PERIOD_S)
        assert not rig.coil(ELT)

    def hp_board_dead(devices: Any) -> None:
        devices.bench.fail("hp-board")

    run_scenario(scenario, layout=layout, values=tank(30.0), prepare=hp_board_dead)


def test_warm_house_and_tank_keep_everything_off() -> None:
    async def scenario(rig: Rig) -> None:
        await rig.advance(900)
        assert not any(rig.coil(n) for n in (PUMP, HP, ELT))

    run_scenario(scenario, values={GARAGE: 22.0, **tank(65.0)})


def test_a_restart_picks_up_where_the_relays_are() -> None:
    """The SCADA restarts while the heat pump charges and the circulator runs, with the tank
    and the room inside their dead bands: home-alone keeps them running (hysteresis starts from
    the coils it reads back), it does not stop them for want of a memory."""

    def running(devices: Any) -> None:
        devices.bench.relays[("relay-board", 1)] = True  # circulator
        devices.bench.relays[("relay-board", 2)] = True  # heat pump

    async def scenario(rig: Rig) -> None:
        await rig.advance(900)
        assert rig.coil(PUMP)
        assert rig.coil(HP)
        assert not any(on is False and ch in (1, 2) for _, ch, on in rig.bench.writes)

    run_scenario(scenario, prepare=running)


def test_under_a_hold_tank_readings_inside_their_bands_cost_no_pass_and_a_crossing_does() -> None:
    async def scenario(rig: Rig) -> None:
        await rig.advance(10)
        assert (await hold_and_set(rig, ELT, ON)).ok
        await rig.advance(3 * CONTROL_PERIOD_S)  # the pass after the command is quiet
        applied: list[float] = []
        ctl = rig.controller
        inner = ctl._apply

        async def counted(now: Any, **kw: Any) -> None:
            applied.append(rig.clock.monotonic())
            await inner(now, **kw)

        ctl._apply = counted  # type: ignore[method-assign]
        # The tank warms, still below tank_max_c: every comparison the interlocks make of it
        # comes out as before, so the quiet pass holds, however often the sensors read.
        for temp_c in (61.0, 65.5, 70.25, 79.9):
            rig.bench.values.update(tank(temp_c))
            await rig.advance(60)
        assert applied == []
        assert rig.coil(ELT)
        # At tank_max_c the next pass runs, and the element goes off.
        rig.bench.values["tank-temp3"] = 80.0
        await rig.advance(60)
        assert len(applied) >= 1
        assert not rig.coil(ELT)

    run_scenario(scenario, values=tank(60.0))
