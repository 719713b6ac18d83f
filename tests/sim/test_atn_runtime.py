"""The simulated ATN against the real runtime (memory drivers, in-process link, virtual time)."""

from __future__ import annotations

import itertools
from collections import defaultdict
from datetime import datetime, timedelta

from scada.clock import LoopClock, run_virtual
from scada.drivers.errors import DeviceTimeoutError
from scada.link import LinkEnd
from scada.protocol import (
    Ack,
    ActuatorCommand,
    CommandOutcome,
    ContractHeartbeat,
    ContractStatus,
    Mode,
    ProblemEvent,
    RelayState,
    Side,
    SnapshotRequest,
    Status,
)
from tests.sim.atn_support import CIRC, ELT, HP, T0, LaggyEnd, Rig, minutes, rig, tank

COLD_ROOM = {"garage-temp": 15.0}
WARM_TANK = tank(55, 53, 51, 50, 49)
FAR_BELOW = tank(50, 45, 42, 40, 38)  # average 43 °C, far below the 60 °C target


def _offers_after(r: Rig, t: datetime) -> list[ContractHeartbeat]:
    return [
        e.message
        for e in r.atn.log.sent
        if isinstance(e.message, ContractHeartbeat)
        and e.message.contract.status is ContractStatus.OFFERED
        and e.at > t
    ]


def _grace_s(r: Rig) -> float:
    return r.layout.control.contract_grace_s


def test_remote_control_with_contracts_back_to_back() -> None:
    async def body() -> None:
        async with rig(values={**WARM_TANK, **COLD_ROOM}, contract_minutes=10) as r:
            await r.run_for(32 * 60)
            atn, scada = r.atn, r.runtime.controller
            # RemoteControl within seconds, and never LocalControl across three contract changes.
            assert r.modes_between(T0 + minutes(0.2), r.now) == {Mode.REMOTE}
            assert len(atn.keeper.contracts) == 4
            assert atn.keeper.contracts_lost == 0
            assert scada.state.contract is not None
            assert atn.contract is not None
            assert scada.state.contract.contract_id == atn.contract.contract_id
            refused = [
                a
                for a in r.runtime.house.audit
                if a.action.startswith("contract") and a.outcome == "refused"
            ]
            assert refused == []
            # Every completed contract was reported ended, then the next offered at once.
            ended = [
                (e.at, e.message.contract)
                for e in atn.log.sent
                if isinstance(e.message, ContractHeartbeat)
                and e.message.contract.status is ContractStatus.ENDED
            ]
            assert [at for at, _ in ended] == [T0 + minutes(10 * k) for k in (1, 2, 3)]
            assert all(c.end == at for at, c in ended)
            # Heartbeats go both ways with the digit echo.
            beats = atn.log.of_type(ContractHeartbeat)
            assert all(b.from_side is Side.SCADA for b in beats)
            assert atn.keeper.echo_misses == 0
            assert r.atn.log.sent_counts["contract.heartbeat"] >= 32 * 2

    run_virtual(body)


def test_statuses_every_five_minutes_are_acked() -> None:
    async def body() -> None:
        async with rig(values={**WARM_TANK, **COLD_ROOM}) as r:
            await r.run_for(16 * 60)
            statuses = r.atn.log.of_type(Status)
            assert [s.slot_start for s in statuses] == [T0 + minutes(5 * k) for k in range(3)]
            acked = {m for a in r.atn.log.of_type(Ack, sent=True) for m in a.message_ids}
            assert {s.id for s in statuses} <= acked
            assert r.atn.counts["status"] == 3
            # Snapshots were asked for and answered; the ATN reads the tank from them.
            assert r.atn.log.sent_counts["snapshot.request"] >= 2
            assert r.atn.counts["snapshot"] >= 2
            assert r.atn.scada_mode is Mode.REMOTE
            assert r.atn.readings.fresh(r.now, 900)["tank-temp0"] == 55

    run_virtual(body)


def test_commands_expire_and_are_sent_again_every_ten_minutes() -> None:
    async def body() -> None:
        async with rig(values={**WARM_TANK, **COLD_ROOM}) as r:
            await r.run_for(31 * 60)
            cmds = r.atn.log.of_type(ActuatorCommand, sent=True)
            by_target: dict[str, list[datetime]] = defaultdict(list)
            for c in cmds:
                assert c.source.value == "atn"
                assert c.expires_at is not None
                assert (c.expires_at - c.issued_at).total_seconds() == 1200
                by_target[c.target].append(c.issued_at)
            assert set(by_target) == {HP, CIRC, ELT}
            for times in by_target.values():
                gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(times)]
                assert len(times) >= 4
                assert max(gaps) <= 600
            # Each was answered and obeyed, but for the compressor's minimum off time after the
            # start: that refusal is retried every heartbeat period until the heat pump runs.
            results = r.atn.dispatcher.results
            answered = results[CommandOutcome.CONFIRMED] + results[CommandOutcome.REFUSED]
            assert len(cmds) - 3 <= answered <= len(cmds)
            assert {(x.target, x.interlock) for x in r.atn.dispatcher.refused} == {
                (HP, "min-off-time")
            }
            assert max(x.at for x in r.atn.dispatcher.refused) < T0 + minutes(5)
            assert r.relay_at(HP, T0 + minutes(5.6))

    run_virtual(body)


def test_cheapest_hours_charge_with_the_heat_pump_and_the_elements() -> None:
    async def body() -> None:
        # 05:50 local, a cheapest hour of the simple profile; 06:00 is a shoulder hour.
        async with rig(values={**FAR_BELOW, **COLD_ROOM}, start=T0 + minutes(20)) as r:
            await r.run_for(15 * 60)
            at = r.clock.now() - minutes(7)  # 05:58
            assert r.relay_at(HP, at)
            assert r.relay_at(ELT, at)
            assert r.relay_at(CIRC, at)
            assert r.relay_on(HP)
            assert not r.relay_on(ELT)
            assert "cheapest hours" in r.atn.dispatcher.orders[ELT].reason

    run_virtual(body)


def test_peak_hours_coast_on_the_tank() -> None:
    async def body() -> None:
        # 06:50 local: a shoulder hour with the morning peak ahead, so the ATN charges; then 07:00.
        async with rig(values={**FAR_BELOW, **COLD_ROOM}, start=T0 + minutes(80)) as r:
            await r.run_for(14 * 60)
            at = r.clock.now() - minutes(6)  # 06:58
            assert r.relay_at(HP, at)
            assert not r.relay_at(ELT, at)
            assert not r.relay_on(HP)
            assert not r.relay_on(ELT)
            assert r.relay_on(CIRC), "coasting draws on the tank: the circulator runs"
            assert "peak" in r.atn.dispatcher.orders[HP].reason

    run_virtual(body)


def test_peak_hours_run_the_heat_pump_when_the_tank_nears_its_minimum() -> None:
    async def body() -> None:
        start = T0 + minutes(120)  # 07:30 local, a peak hour
        async with rig(values={**tank(42, 41, 40, 40, 40), **COLD_ROOM}, start=start) as r:
            await r.run_for(14 * 60)
            assert r.relay_on(HP)
            assert "near tank_min_c" in r.atn.dispatcher.orders[HP].reason
            r.bench.values.update(tank(55, 50, 48, 46, 45))
            await r.run_for(10 * 60)  # the next status tells the ATN
            assert not r.relay_on(HP)
            assert r.mode() is Mode.REMOTE

    run_virtual(body)


def test_warm_room_stops_the_circulator() -> None:
    async def body() -> None:
        async with rig(values={**WARM_TANK, "garage-temp": 19.5}) as r:
            await r.run_for(3 * 60)
            assert not r.relay_on(CIRC)
            r.bench.values["garage-temp"] = 16.0
            await r.run_for(6 * 60)
            assert r.relay_on(CIRC)

    run_virtual(body)


def test_silent_atn_falls_back_to_local_control_then_resumes() -> None:
    async def body() -> None:
        async with rig(values={**WARM_TANK, **COLD_ROOM}) as r:
            await r.run_for(3 * 60)
            first = r.atn.contract
            assert first is not None
            assert r.mode() is Mode.REMOTE
            silent_at = r.now
            r.atn.go_silent()
            limit_s = r.layout.control.heartbeat_timeout_s + _grace_s(r)
            await r.run_for(limit_s + 30)
            # The ATN was last heard at most one heartbeat before it went silent.
            fell = r.first_time(Mode.LOCAL, silent_at)
            assert fell is not None
            assert limit_s - 30 <= (fell - silent_at).total_seconds() <= limit_s + 10
            assert r.modes_between(silent_at, silent_at + minutes(5)) == {Mode.REMOTE}
            c = r.runtime.controller.state.contract
            assert c is not None
            assert c.status is ContractStatus.TERMINATED
            assert c.terminated_by is Side.SCADA
            assert not [e for e in r.atn.log.sent if e.at > silent_at]
            back_at = r.now
            r.atn.resume()
            await r.run_for(60)
            back = r.first_time(Mode.REMOTE, back_at)
            assert back is not None
            assert (back - back_at).total_seconds() <= 30
            assert r.atn.contract is not None
            assert r.atn.contract.contract_id != first.contract_id
            assert r.atn.keeper.contracts_lost == 1

    run_virtual(body)


def test_short_silence_is_bridged_by_the_next_heartbeat() -> None:
    async def body() -> None:
        async with rig(values={**WARM_TANK, **COLD_ROOM}) as r:
            await r.run_for(3 * 60)
            first = r.atn.contract
            assert first is not None
            silent_at = r.now
            r.atn.go_silent()
            await r.run_for(150)  # past heartbeat_timeout_s, inside the grace
            assert r.runtime.controller.state.phase.value == "remote_grace"
            r.atn.resume()
            await r.run_for(30)
            assert r.runtime.controller.state.phase.value == "remote"
            assert r.modes_between(silent_at, r.now) == {Mode.REMOTE}
            assert r.atn.contract is not None
            assert r.atn.contract.contract_id == first.contract_id
            assert r.atn.keeper.contracts_lost == 0

    run_virtual(body)


def test_terminate_hands_the_house_back_to_local_control() -> None:
    async def body() -> None:
        async with rig(values={**WARM_TANK, **COLD_ROOM}) as r:
            await r.run_for(3 * 60)
            at = r.now
            r.atn.terminate()
            await r.run_for(_grace_s(r) + 60)
            c = r.runtime.controller.state.contract
            assert c is not None
            assert c.status is ContractStatus.TERMINATED
            assert c.terminated_by is Side.ATN
            fell = r.first_time(Mode.LOCAL, at)
            assert fell is not None
            assert (fell - at).total_seconds() <= _grace_s(r) + 20
            assert r.mode() is Mode.LOCAL
            assert not _offers_after(r, at)
            assert not [
                e for e in r.atn.log.sent if isinstance(e.message, ActuatorCommand) and e.at > at
            ]
            r.atn.resume()
            again = r.now
            await r.run_for(30)
            assert r.mode() is Mode.REMOTE
            assert len(_offers_after(r, again - minutes(0.01))) == 1

    run_virtual(body)


def test_stop_offering_lets_the_contract_run_out() -> None:
    async def body() -> None:
        async with rig(values={**WARM_TANK, **COLD_ROOM}, contract_minutes=15) as r:
            await r.run_for(5 * 60)
            r.atn.stop_offering()
            await r.run_for(10 * 60 + _grace_s(r) + 30)
            c = r.runtime.controller.state.contract
            assert c is not None
            assert c.status is ContractStatus.ENDED
            assert len(r.atn.keeper.contracts) == 1
            end = T0 + minutes(15)
            assert r.modes_between(T0 + minutes(1), end + minutes(4)) == {Mode.REMOTE}
            assert r.mode() is Mode.LOCAL

    run_virtual(body)


def test_uplink_cut_and_restored() -> None:
    async def body() -> None:
        async with rig(values={**WARM_TANK, **COLD_ROOM}) as r:
            await r.run_for(3 * 60)
            cut_at = r.now
            r.link.cut()
            await r.run_for(8 * 60)
            fell = r.first_time(Mode.LOCAL, cut_at)
            assert fell is not None
            assert (fell - cut_at).total_seconds() <= _grace_s(r) + 20
            statuses = r.atn.counts["status"]
            r.link.restore()
            back_at = r.now
            await r.run_for(6 * 60)
            back = r.first_time(Mode.REMOTE, back_at)
            assert back is not None
            assert (back - back_at).total_seconds() <= 60
            assert r.modes_between(back, r.now) == {Mode.REMOTE}
            assert r.atn.counts["status"] > statuses
            assert r.atn.keeper.contracts_lost == 1

    run_virtual(body)


def test_admin_hold_refuses_the_atn_which_takes_over_again_after() -> None:
    async def body() -> None:
        async with rig(values={**WARM_TANK, **COLD_ROOM}) as r:
            await r.run_for(3 * 60)
            assert r.relay_on(CIRC)
            step = await r.runtime.controller.take_hold("alice", 5)
            assert step.ok
            result = await r.runtime.controller.set_relay(CIRC, RelayState.OFF, "alice")
            assert result.outcome is CommandOutcome.CONFIRMED
            held_at = r.now
            await r.run_for(4 * 60)
            assert not r.relay_on(CIRC)
            refusals = [x for x in r.atn.dispatcher.refused if x.at > held_at]
            assert refusals
            assert all("obeys admin" in (x.reason or "") for x in refusals)
            await r.run_for(60 + 40)  # the hold ends at 5 min; the ATN retries within 30 s
            assert r.relay_on(CIRC)
            assert r.mode() is Mode.REMOTE

    run_virtual(body)


def test_problems_are_acked() -> None:
    async def body() -> None:
        async with rig(values={**WARM_TANK, **COLD_ROOM}) as r:
            await r.run_for(3 * 60)
            r.bench.channel_faults["outdoor-temp"] = DeviceTimeoutError("sensors", "no answer")
            await r.run_for(3 * 60)
            problems = [p for p in r.atn.log.of_type(ProblemEvent) if p.subject == "outdoor-temp"]
            assert problems
            acked = {m for a in r.atn.log.of_type(Ack, sent=True) for m in a.message_ids}
            assert {p.id for p in problems} <= acked
            assert r.atn.log.of_type(SnapshotRequest, sent=True)

    run_virtual(body)


def test_a_late_answer_is_followed_not_fought() -> None:
    """The SCADA's first answers arrive after reply_timeout_s: the ATN offers again (refused,
    the first contract is active) and then follows the contract the SCADA holds."""

    def laggy(end: LinkEnd, clock: LoopClock) -> LaggyEnd:
        return LaggyEnd(end, clock, lag_s=15, until=T0 + timedelta(seconds=20))

    async def body() -> None:
        async with rig(values={**WARM_TANK, **COLD_ROOM}, atn_end=laggy) as r:
            await r.run_for(10 * 60)
            first, second = r.atn.keeper.contracts
            assert r.atn.contract is not None
            assert r.atn.contract.contract_id == first.contract_id
            held = r.runtime.controller.state.contract
            assert held is not None
            assert held.contract_id == first.contract_id
            assert r.modes_between(T0 + minutes(0.2), r.now) == {Mode.REMOTE}
            assert r.atn.dispatcher.results[CommandOutcome.CONFIRMED] > 0
            assert second.contract_id != first.contract_id

    run_virtual(body)
