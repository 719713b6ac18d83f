"""Relays under the boss rule: admin commands need a hold, are confirmed by read-back, and end
with it; refusals carry their reason to the caller and the audit log."""

from __future__ import annotations

from datetime import timedelta

from scada.actors.pass_schedule import CONTROL_PERIOD_S
from scada.protocol import (
    CommandOutcome,
    CommandResult,
    CommandSource,
    ErrorCode,
    EventKind,
    HoldEnded,
    HoldEndReason,
    HoldState,
    KeepAliveHold,
    Mode,
    ProblemKind,
    RelayState,
    ReleaseHold,
    Reply,
    SetMode,
    SetRelay,
    TakeHold,
)
from scada.protocol.snapshot import ActuatorSnapshot
from tests.runtime.harness import BOARD, COIL, GARAGE, PUMP, Rig, run_scenario

ON, OFF = RelayState.ON, RelayState.OFF
COLD = {GARAGE: 10.0}  # home-alone wants the circulator on


def set_relay(node: str, state: RelayState, operator: str = "alice") -> SetRelay:
    return SetRelay(id=1, node=node, state=state, operator=operator)


def take(operator: str = "alice", minutes: float = 30) -> TakeHold:
    return TakeHold(id=2, operator=operator, minutes=minutes)


def result_of(reply: Reply) -> CommandResult:
    assert reply.ok, reply.error
    assert reply.result is not None
    return CommandResult.model_validate(reply.result)


def error_of(reply: Reply) -> tuple[str, str]:
    assert not reply.ok
    assert reply.error is not None
    return reply.error.code, reply.error.message


def actuator(rig: Rig, node: str) -> ActuatorSnapshot:
    return next(a for a in rig.snapshot().actuators if a.node == node)


def test_a_calm_house_switches_nothing() -> None:
    async def scenario(rig: Rig) -> None:
        await rig.advance(900)
        # At most one write per actuator (taking command of it), and none that moves a coil.
        assert sorted(ch for _, ch, _ in rig.bench.writes) == sorted(COIL.values())
        assert not any(on for _, _, on in rig.bench.writes)
        assert not rig.rec.problems(ProblemKind.INTERLOCK_OVERRIDE)
        assert {a.state for a in rig.snapshot().actuators} == {OFF}

    run_scenario(scenario)


def test_admin_command_without_a_hold_is_refused_naming_the_boss() -> None:
    async def scenario(rig: Rig) -> None:
        await rig.advance(10)
        reply = await rig.request(set_relay(PUMP, ON))
        code, message = error_of(reply)
        assert code == ErrorCode.REFUSED
        assert "home_alone" in message
        assert "admin may not command it" in message
        assert not rig.coil(PUMP)
        entry = rig.house.audit[-1]
        assert (entry.who, entry.action, entry.target, entry.outcome) == (
            "alice",
            "set_relay",
            PUMP,
            "refused",
        )
        assert entry.reason == message
        # The refusal is also an actuator event for every console, with its reason.
        results = rig.rec.payloads(EventKind.ACTUATOR, CommandResult)
        assert results[-1].outcome is CommandOutcome.REFUSED
        assert results[-1].reason == message

    run_scenario(scenario)


def test_admin_command_under_a_hold_is_confirmed_by_read_back() -> None:
    async def scenario(rig: Rig) -> None:
        await rig.advance(10)
        reply = await rig.request(take())
        assert reply.ok
        assert reply.result is not None
        assert reply.result["hold"]["operator"] == "alice"
        holds = rig.rec.payloads(EventKind.HOLD, HoldState)
        assert holds[-1].operator == "alice"
        assert holds[-1].expires_at == rig.now() + timedelta(minutes=30)
        res = result_of(await rig.request(set_relay(PUMP, ON)))
        assert res.outcome is CommandOutcome.CONFIRMED
        assert res.target == PUMP
        assert rig.bench.relays[(BOARD, COIL[PUMP])] is True
        assert rig.bench.writes[-1] == (BOARD, COIL[PUMP], True)
        snap = actuator(rig, PUMP)
        assert (snap.state, snap.commanded, snap.boss) == (ON, ON, CommandSource.ADMIN)
        assert snap.last_result is not None
        assert snap.last_result.outcome is CommandOutcome.CONFIRMED
        assert rig.snapshot().hold is not None
        actions = [(a.who, a.action, a.outcome) for a in rig.house.audit]
        assert actions[-2:] == [
            ("alice", "take_hold", "ok"),
            ("alice", "set_relay on", "confirmed"),
        ]
        # The admin's choice stands: home-alone does not fight it.
        await rig.advance(10 * CONTROL_PERIOD_S)
        assert rig.coil(PUMP)

    run_scenario(scenario)


def test_stuck_relay_fails_with_the_reason() -> None:
    async def scenario(rig: Rig) -> None:
        await rig.advance(10)
        rig.bench.stuck_relays.add((BOARD, COIL[PUMP]))
        await rig.request(take())
        reply = await rig.request(set_relay(PUMP, ON))
        _, message = error_of(reply)
        assert "read-back" in message
        assert not rig.coil(PUMP)
        snap = actuator(rig, PUMP)
        assert snap.state is OFF
        assert snap.last_result is not None
        assert snap.last_result.outcome is CommandOutcome.FAILED
        assert rig.house.audit[-1].outcome == "failed"
        assert rig.house.audit[-1].reason == message

    run_scenario(scenario)


def test_unknown_node_is_refused_as_not_found() -> None:
    async def scenario(rig: Rig) -> None:
        await rig.advance(10)
        await rig.request(take())
        code, message = error_of(await rig.request(set_relay("a.nothing.relay", ON)))
        assert code == ErrorCode.NOT_FOUND
        assert "a.nothing.relay" in message
        assert rig.house.audit[-1].outcome == "refused"

    run_scenario(scenario)


def test_only_the_holder_may_act_while_a_hold_is_in_force() -> None:
    async def scenario(rig: Rig) -> None:
        await rig.advance(10)
        assert (await rig.request(take("alice"))).ok
        code, message = error_of(await rig.request(take("bob")))
        assert code == ErrorCode.REFUSED
        assert "alice" in message
        code, message = error_of(await rig.request(set_relay(PUMP, ON, "bob")))
        assert code == ErrorCode.REFUSED
        assert "bob does not hold it" in message
        assert not rig.coil(PUMP)
        for req in (
            ReleaseHold(id=3, operator="bob"),
            KeepAliveHold(id=4, operator="bob"),
            SetMode(id=5, mode=Mode.LOCAL, operator="bob"),
        ):
            code, message = error_of(await rig.request(req))
            assert code == ErrorCode.REFUSED
            assert "alice" in message
        refused = [a for a in rig.house.audit if a.who == "bob"]
        assert [a.outcome for a in refused] == ["refused"] * 5
        # alice keeps her hold and her relays.
        assert result_of(await rig.request(set_relay(PUMP, ON))).outcome is (
            CommandOutcome.CONFIRMED
        )

    run_scenario(scenario)


def test_hold_expiry_hands_actuators_back_to_home_alone() -> None:
    async def scenario(rig: Rig) -> None:
        await rig.advance(10)
        assert rig.coil(PUMP)  # cold garage: home-alone runs the circulator
        await rig.request(take(minutes=2))
        taken_at = rig.now()
        assert result_of(await rig.request(set_relay(PUMP, OFF))).outcome is (
            CommandOutcome.CONFIRMED
        )
        await rig.advance_to(taken_at + timedelta(seconds=119))
        assert not rig.coil(PUMP)
        assert rig.snapshot().hold is not None
        await rig.advance(1 + CONTROL_PERIOD_S + 0.5)
        assert rig.coil(PUMP)
        assert rig.snapshot().hold is None
        assert actuator(rig, PUMP).boss is CommandSource.HOME_ALONE
        ended = rig.rec.payloads(EventKind.HOLD, HoldEnded)
        assert [(e.operator, e.reason, e.resumed_mode) for e in ended] == [
            ("alice", HoldEndReason.EXPIRED, Mode.LOCAL)
        ]
        assert ended[0].ended_at == taken_at + timedelta(seconds=120)
        # The expiry is in the audit log too: the installer's lease ended by itself.
        assert ("alice", "hold_expired") in [(a.who, a.action) for a in rig.house.audit]
        # and once expired, alice is an ordinary caller again.
        code, _ = error_of(await rig.request(set_relay(PUMP, OFF)))
        assert code == ErrorCode.REFUSED

    run_scenario(scenario, values=COLD)


def test_release_hands_actuators_back_at_once() -> None:
    async def scenario(rig: Rig) -> None:
        await rig.advance(10)
        await rig.request(take())
        await rig.request(set_relay(PUMP, OFF))
        assert not rig.coil(PUMP)
        reply = await rig.request(ReleaseHold(id=9, operator="alice"))
        assert reply.ok
        assert reply.result is not None
        assert reply.result["hold"] is None
        assert reply.result["mode"] == "local"
        await rig.advance(0.5)
        assert rig.coil(PUMP)
        ended = rig.rec.payloads(EventKind.HOLD, HoldEnded)
        assert [e.reason for e in ended] == [HoldEndReason.RELEASED]
        assert [a.action for a in rig.house.audit][-1:] == ["release_hold"]
        # Releasing twice is refused with a reason.
        _, message = error_of(await rig.request(ReleaseHold(id=10, operator="alice")))
        assert "no admin hold" in message

    run_scenario(scenario, values=COLD)


def test_keep_alive_moves_the_expiry_on_and_the_cap_bounds_a_hold() -> None:
    async def scenario(rig: Rig) -> None:
        await rig.advance(10)
        await rig.request(take(minutes=1))
        await rig.advance(50)
        assert (await rig.request(KeepAliveHold(id=1, operator="alice"))).ok
        hold = rig.controller.hold_msg()
        assert hold is not None
        assert hold.expires_at == rig.now() + timedelta(minutes=1)
        await rig.advance(59)
        assert rig.snapshot().hold is not None
        await rig.advance(2 + CONTROL_PERIOD_S)
        assert rig.snapshot().hold is None
        # A day asked for, the layout's cap granted.
        reply = await rig.request(take(minutes=1440))
        assert reply.ok
        assert reply.result is not None
        assert any("capped" in n for n in reply.result["notes"])
        hold = rig.controller.hold_msg()
        assert hold is not None
        cap_s = rig.layout.control.hold_cap_s
        assert hold.expires_at == rig.now() + timedelta(seconds=cap_s)

    run_scenario(scenario)


def test_admin_command_on_a_board_that_stopped_answering_fails() -> None:
    async def scenario(rig: Rig) -> None:
        await rig.advance(10)
        await rig.request(take())
        rig.fail_device(BOARD, "i2c NAK")
        reply = await rig.request(set_relay(PUMP, ON))
        _, message = error_of(reply)
        assert "NAK" in message
        assert len(rig.rec.problems(ProblemKind.DEVICE_FAILING, BOARD)) == 1
        rig.bench.heal(BOARD)
        await rig.advance(5)
        assert result_of(await rig.request(set_relay(PUMP, ON))).outcome is (
            CommandOutcome.CONFIRMED
        )
        assert len(rig.rec.problems(ProblemKind.DEVICE_RECOVERED, BOARD)) == 1

    run_scenario(scenario)


def test_admin_command_on_a_board_missing_since_boot_fails_at_once() -> None:
    async def scenario(rig: Rig) -> None:
        await rig.advance(10)
        await rig.request(take())
        t0 = rig.clock.monotonic()
        reply = await rig.request(set_relay(PUMP, ON))
        assert rig.clock.monotonic() - t0 < 0.01  # no waiting for the board's next retry
        _, message = error_of(reply)
        assert BOARD in message
        assert "not answering" in message
        # The control loop was not held up either.
        rig.bench.heal(BOARD)
        await rig.advance(65)
        assert result_of(await rig.request(set_relay(PUMP, ON))).outcome is (
            CommandOutcome.CONFIRMED
        )

    run_scenario(scenario, prepare=lambda d: d.bench.fail(BOARD) if d.bench else None)
