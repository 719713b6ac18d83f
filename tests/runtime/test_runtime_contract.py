"""The DispatchContract over the in-process link, the test playing the ATN on ``link.atn``."""

from __future__ import annotations

from datetime import timedelta

from scada.actors.pass_schedule import CONTROL_PERIOD_S
from scada.actors.uplink_side import HEARTBEAT_PERIOD_S, OWN_BEAT_SLACK_S
from scada.protocol import (
    ActuatorCommand,
    CommandOutcome,
    CommandResult,
    CommandSource,
    ContractHeartbeat,
    ContractStatus,
    DispatchContract,
    EventKind,
    Mode,
    ModeChanged,
    PowerReading,
    ProblemEvent,
    ProblemKind,
    RelayState,
    SetMode,
    SetRelay,
    Side,
    Snapshot,
    SnapshotRequest,
    Status,
)
from scada.protocol.enums import AtnState, LinkState
from scada.protocol.snapshot import LinkStatus
from tests.runtime.harness import (
    ELT,
    GARAGE,
    PUMP,
    TANK_LAYERS,
    FakeAtn,
    Rig,
    run_scenario,
    uid,
)

ON, OFF = RelayState.ON, RelayState.OFF
TIMEOUT_S = 90.0  # dw1's heartbeat_timeout_s (the default)
GRACE_S = 300.0  # dw1's contract_grace_s (the default)


def atn_of(rig: Rig) -> FakeAtn:
    assert rig.atn is not None
    return rig.atn


async def go_remote(rig: Rig, contract_id: int = 1) -> FakeAtn:
    atn = atn_of(rig)
    await rig.advance(CONTROL_PERIOD_S + 1)  # the controller has seen the uplink up
    assert atn.offer(contract_id, digit=3)
    await rig.advance(0.1)
    assert rig.mode() is Mode.REMOTE
    return atn


async def keep_beating(rig: Rig, atn: FakeAtn, seconds: float, digit: int = 1) -> None:
    """The ATN heartbeats every HEARTBEAT_PERIOD_S for ``seconds``."""
    end = rig.clock.monotonic() + seconds
    while rig.clock.monotonic() < end:
        atn.heartbeat(digit=digit)
        digit = (digit + 1) % 10
        await rig.advance(HEARTBEAT_PERIOD_S)


def test_offer_is_accepted_and_answered_with_an_echoing_heartbeat() -> None:
    async def scenario(rig: Rig) -> None:
        atn = atn_of(rig)
        await rig.advance(CONTROL_PERIOD_S + 1)
        assert rig.mode() is Mode.LOCAL
        assert rig.snapshot().link.broker is LinkState.UP
        assert atn.offer(1, digit=7)
        await rig.advance(0.1)
        beats = atn.received(ContractHeartbeat)
        assert len(beats) == 1
        hb = beats[0]
        assert hb.from_side is Side.SCADA
        assert hb.your_last_digit == 7
        assert hb.contract.contract_id == uid(1)
        assert hb.contract.status is ContractStatus.ACTIVE
        assert hb.contract.scada_alias == rig.layout.house.scada
        assert rig.mode() is Mode.REMOTE
        snap = rig.snapshot()
        assert snap.contract is not None
        assert snap.contract.status is ContractStatus.ACTIVE
        assert snap.link.atn is AtnState.ALIVE
        assert {a.boss for a in snap.actuators} == {CommandSource.ATN}
        contracts = rig.rec.payloads(EventKind.CONTRACT, DispatchContract)
        assert [c.status for c in contracts][-1] is ContractStatus.ACTIVE
        modes = rig.rec.payloads(EventKind.MODE, ModeChanged)
        assert [(m.previous, m.mode) for m in modes] == [(Mode.LOCAL, Mode.REMOTE)]
        # Each ATN heartbeat is answered, echoing its digit.
        atn.heartbeat(digit=4)
        await rig.advance(0.1)
        assert atn.received(ContractHeartbeat)[-1].your_last_digit == 4

    run_scenario(scenario, uplink=True)


def test_remote_control_holds_with_heartbeats_and_the_scada_beats_too() -> None:
    async def scenario(rig: Rig) -> None:
        atn = await go_remote(rig)
        await keep_beating(rig, atn, 30 * 60)
        assert rig.mode() is Mode.REMOTE
        mine = [h for h in atn.received(ContractHeartbeat) if h.from_side is Side.SCADA]
        # Answers to the ATN's beats, plus its own every HEARTBEAT_PERIOD_S at most.
        assert len(mine) >= 60
        assert len(rig.rec.payloads(EventKind.MODE, ModeChanged)) == 1

    run_scenario(scenario, uplink=True)


def test_a_quiet_atn_gets_the_scadas_own_heartbeat_a_period_and_a_slack_after_the_last() -> None:
    async def scenario(rig: Rig) -> None:
        atn = await go_remote(rig)

        def mine() -> list[ContractHeartbeat]:
            return [h for h in atn.received(ContractHeartbeat) if h.from_side is Side.SCADA]

        atn.heartbeat(digit=6)
        await rig.advance(0.1)
        heard = mine()[-1].sent_at  # the answer went out the instant the beat came in
        answered = len(mine())
        # A period later the ATN's next beat is due: the SCADA leaves it the slack to come.
        await rig.advance(HEARTBEAT_PERIOD_S + OWN_BEAT_SLACK_S - 1)
        assert len(mine()) == answered
        await rig.advance(2)
        own = mine()[answered:]
        assert [h.sent_at - heard for h in own] == [
            timedelta(seconds=HEARTBEAT_PERIOD_S + OWN_BEAT_SLACK_S, microseconds=0)
        ]
        assert own[0].your_last_digit == 6  # still echoing the last digit heard
        # And on, every period and slack, while the ATN stays quiet (the lease is not lost yet).
        await rig.advance(HEARTBEAT_PERIOD_S + OWN_BEAT_SLACK_S)
        assert len(mine()) == answered + 2
        assert rig.mode() is Mode.REMOTE

    run_scenario(scenario, uplink=True)


def test_an_atn_silence_is_reported_the_moment_its_timeout_runs_out() -> None:
    async def scenario(rig: Rig) -> None:
        atn = await go_remote(rig)
        heard = rig.now()
        atn.heartbeat(digit=2)
        await rig.advance(TIMEOUT_S + 10)
        down = rig.rec.problems(ProblemKind.LINK_DOWN, "atn")
        assert len(down) == 1
        # Not at the next look of a poll: at the instant the silence outlasts the timeout.
        assert timedelta(seconds=TIMEOUT_S) < down[0].at - heard < timedelta(seconds=TIMEOUT_S + 1)
        assert rig.snapshot().link.atn is AtnState.SILENT
        # And back the moment the ATN is heard again.
        atn.heartbeat(digit=3)
        await rig.advance(0.1)
        up = rig.rec.problems(ProblemKind.LINK_UP, "atn")
        assert len(up) == 1
        assert up[0].at - rig.now() < timedelta(seconds=1)

    run_scenario(scenario, uplink=True)


def test_the_atn_is_reported_alive_with_the_contract_it_offered_not_between_contracts() -> None:
    async def scenario(rig: Rig) -> None:
        await go_remote(rig)
        alive = [s for s in rig.rec.payloads(EventKind.LINK, LinkStatus) if s.atn is AtnState.ALIVE]
        assert len(alive) == 1  # reported once, the moment the offer came in
        assert alive[0].detail is not None
        assert alive[0].detail.startswith("contract ")
        assert "between contracts" not in alive[0].detail

    run_scenario(scenario, uplink=True)


def test_atn_commands_are_obeyed_and_answered_over_the_link() -> None:
    async def scenario(rig: Rig) -> None:
        atn = await go_remote(rig)
        cmd = atn.command(PUMP, ON)
        await rig.advance(0.1)
        assert rig.coil(PUMP)
        results = atn.received(CommandResult)
        assert [(r.command_id, r.outcome) for r in results] == [(cmd.id, CommandOutcome.CONFIRMED)]
        assert ("atn", "set_relay on", "confirmed") in [
            (a.who, a.action, a.outcome) for a in rig.house.audit
        ]
        # Interlocks hold for the ATN too; the refusal goes back with its interlock.
        rig.bench.values.update(dict.fromkeys(TANK_LAYERS, 85.0))
        await rig.advance(6)
        cmd = atn.command(ELT, ON)
        await rig.advance(0.1)
        last = atn.received(CommandResult)[-1]
        assert (last.command_id, last.outcome, last.interlock) == (
            cmd.id,
            CommandOutcome.REFUSED,
            "tank-over-temp",
        )
        # The installer without a hold is refused, naming the ATN as boss.
        reply = await rig.request(SetRelay(id=1, node=PUMP, state=OFF, operator="alice"))
        assert reply.error is not None
        assert "atn" in reply.error.message
        assert rig.coil(PUMP)
        # An expired ATN command is refused, never obeyed late.
        late = ActuatorCommand(
            id=uid(2001),
            source=CommandSource.ATN,
            target=PUMP,
            state=OFF,
            issued_at=rig.now() - timedelta(seconds=120),
            expires_at=rig.now() - timedelta(seconds=60),
        )
        atn.end.send(late)
        await rig.advance(0.1)
        last = atn.received(CommandResult)[-1]
        assert (last.command_id, last.outcome) == (uid(2001), CommandOutcome.REFUSED)
        assert "expired" in (last.reason or "")
        assert rig.coil(PUMP)

    run_scenario(scenario, uplink=True)


def test_atn_commands_are_refused_in_local_control() -> None:
    async def scenario(rig: Rig) -> None:
        atn = atn_of(rig)
        await rig.advance(CONTROL_PERIOD_S + 1)
        cmd = atn.command(PUMP, ON)
        await rig.advance(0.1)
        res = atn.received(CommandResult)
        assert [(r.command_id, r.outcome) for r in res] == [(cmd.id, CommandOutcome.REFUSED)]
        assert "home_alone" in (res[0].reason or "")
        assert not rig.coil(PUMP)
        # A command over the uplink that claims another source is refused as such.
        fake = ActuatorCommand(
            id=uid(2002),
            source=CommandSource.ADMIN,
            operator="mallory",
            target=PUMP,
            state=ON,
            issued_at=rig.now(),
        )
        atn.end.send(fake)
        await rig.advance(0.1)
        assert atn.received(CommandResult)[-1].outcome is CommandOutcome.REFUSED
        assert not rig.coil(PUMP)

    run_scenario(scenario, uplink=True)


def test_statuses_go_up_in_remote_control_only_and_problems_too() -> None:
    async def scenario(rig: Rig) -> None:
        atn = atn_of(rig)
        await rig.advance(600)
        assert rig.runtime.statuses
        assert not atn.received(Status)
        await go_remote(rig)
        await keep_beating(rig, atn, 660)
        sent = atn.received(Status)
        assert len(sent) == 2
        assert [s.seq for s in sent] == [s.seq for s in rig.runtime.statuses[-2:]]
        rig.bench.values[GARAGE] = 300.0
        await rig.advance(31)
        assert any(p.subject == GARAGE for p in atn.received(ProblemEvent))

    run_scenario(scenario, uplink=True)


def test_silent_atn_falls_back_to_local_after_timeout_plus_grace() -> None:
    async def scenario(rig: Rig) -> None:
        atn = await go_remote(rig)
        await keep_beating(rig, atn, 120)
        atn.command(PUMP, ON)
        atn.heartbeat(digit=9)
        await rig.advance(0.1)
        last_heard = rig.now()
        assert rig.coil(PUMP)
        await rig.advance_to(last_heard + timedelta(seconds=TIMEOUT_S + 5))
        assert rig.mode() is Mode.REMOTE  # in its grace: the ATN's last commands stand
        assert rig.snapshot().link.atn is AtnState.SILENT
        assert rig.coil(PUMP)
        await rig.advance_to(last_heard + timedelta(seconds=TIMEOUT_S + GRACE_S - 1))
        assert rig.mode() is Mode.REMOTE
        await rig.advance_to(
            last_heard + timedelta(seconds=TIMEOUT_S + GRACE_S + CONTROL_PERIOD_S + 0.5)
        )
        assert rig.mode() is Mode.LOCAL
        modes = rig.rec.payloads(EventKind.MODE, ModeChanged)
        assert [(m.previous, m.mode) for m in modes] == [
            (Mode.LOCAL, Mode.REMOTE),
            (Mode.REMOTE, Mode.LOCAL),
        ]
        assert "silent" in modes[-1].reason
        # Home-alone is boss again: a warm garage stops the circulator the ATN started.
        await rig.advance(2 * CONTROL_PERIOD_S)
        assert not rig.coil(PUMP)
        snap = rig.snapshot()
        assert {a.boss for a in snap.actuators} == {CommandSource.HOME_ALONE}
        # The silent contract is over: a late heartbeat does not bring RemoteControl back.
        atn.heartbeat(digit=2)
        await rig.advance(0.1)
        assert rig.mode() is Mode.LOCAL

    run_scenario(scenario, uplink=True, values={GARAGE: 19.5})


def test_lost_uplink_falls_back_after_the_grace_and_waits_for_a_fresh_heartbeat() -> None:
    async def scenario(rig: Rig) -> None:
        assert rig.link is not None
        atn = await go_remote(rig)
        await keep_beating(rig, atn, 60)
        atn.heartbeat(digit=6)
        await rig.advance(0.1)
        rig.link.cut()
        cut_at = rig.now()
        await rig.advance(CONTROL_PERIOD_S + 0.5)
        assert rig.snapshot().link.broker is LinkState.DOWN
        assert rig.mode() is Mode.REMOTE
        await rig.advance_to(cut_at + timedelta(seconds=GRACE_S - 1))
        assert rig.mode() is Mode.REMOTE
        await rig.advance_to(cut_at + timedelta(seconds=GRACE_S + 2 * CONTROL_PERIOD_S + 0.5))
        assert rig.mode() is Mode.LOCAL
        assert not atn.heartbeat(digit=1)  # nothing gets through a cut link
        rig.link.restore()
        await rig.advance(2 * CONTROL_PERIOD_S)
        assert rig.snapshot().link.broker is LinkState.UP
        assert rig.mode() is Mode.LOCAL  # a returning uplink alone is not enough
        await rig.advance(10)
        assert rig.mode() is Mode.LOCAL
        assert atn.heartbeat(digit=8)
        await rig.advance(0.1)
        assert rig.mode() is Mode.REMOTE

    run_scenario(scenario, uplink=True)


def test_heartbeat_right_after_the_link_returns_counts() -> None:
    """The first message through a returning link is itself proof the link is up: a
    heartbeat that arrives before the controller's next pass is a fresh heartbeat."""

    async def scenario(rig: Rig) -> None:
        assert rig.link is not None
        atn = await go_remote(rig)
        rig.link.cut()
        await rig.advance(GRACE_S + 2 * CONTROL_PERIOD_S)
        assert rig.mode() is Mode.LOCAL
        rig.link.restore()
        assert atn.heartbeat(digit=8)
        await rig.advance(0.1)
        assert rig.mode() is Mode.REMOTE

    run_scenario(scenario, uplink=True)


def test_installer_pins_local_and_remote_needs_a_live_contract() -> None:
    async def scenario(rig: Rig) -> None:
        atn = atn_of(rig)
        await rig.advance(CONTROL_PERIOD_S + 1)
        reply = await rig.request(SetMode(id=1, mode=Mode.REMOTE, operator="alice"))
        assert reply.error is not None
        assert "needs a live contract" in reply.error.message
        assert (await rig.request(SetMode(id=2, mode=Mode.LOCAL, operator="alice"))).ok
        atn.offer(2, digit=1)
        await rig.advance(0.1)
        assert rig.mode() is Mode.LOCAL  # pinned: the contract does not move it
        await keep_beating(rig, atn, 90)
        assert rig.mode() is Mode.LOCAL
        assert (await rig.request(SetMode(id=3, mode=Mode.REMOTE, operator="alice"))).ok
        assert rig.mode() is Mode.REMOTE
        assert [(a.action, a.outcome) for a in rig.house.audit] == [
            ("set_mode remote", "refused"),
            ("set_mode local", "ok"),
            ("set_mode remote", "ok"),
        ]

    run_scenario(scenario, uplink=True)


def test_no_uplink_means_local_control() -> None:
    async def scenario(rig: Rig) -> None:
        await rig.advance(60)
        snap = rig.snapshot()
        assert snap.mode is Mode.LOCAL
        assert snap.link.broker is LinkState.NOT_CONFIGURED
        assert snap.contract is None

    run_scenario(scenario)


def test_snapshot_request_is_answered_over_the_link() -> None:
    async def scenario(rig: Rig) -> None:
        atn = atn_of(rig)
        await rig.advance(65)
        atn.end.send(SnapshotRequest(from_alias="a", at=rig.now()))
        await rig.advance(0.1)
        snaps = atn.received(Snapshot)
        assert len(snaps) == 1
        assert snaps[0].house_alias == rig.layout.house.alias
        assert len(snaps[0].channels) == len(rig.layout.channels)

    run_scenario(scenario, uplink=True)


def test_power_goes_up_on_change_in_remote_control() -> None:
    async def scenario(rig: Rig) -> None:
        atn = await go_remote(rig)
        before = len(atn.received(PowerReading))
        rig.bench.values["hp-power"] = 3500.0
        atn.heartbeat()
        await rig.advance(2)
        power = atn.received(PowerReading)[before:]
        assert [(p.channel, p.power_w) for p in power] == [("hp-power", 3500.0)]

    run_scenario(scenario, uplink=True)


def test_a_contract_that_ends_hands_back_to_local_after_the_grace() -> None:
    async def scenario(rig: Rig) -> None:
        atn = atn_of(rig)
        await rig.advance(CONTROL_PERIOD_S + 1)
        atn.offer(5, duration_s=600, digit=1)
        await rig.advance(0.1)
        assert rig.mode() is Mode.REMOTE
        await keep_beating(rig, atn, 600)
        assert atn.contract is not None
        ended = atn.contract.model_copy(update={"status": ContractStatus.ENDED})
        atn.end.send(
            ContractHeartbeat(contract=ended, sent_at=rig.now(), my_digit=1, from_side=Side.ATN)
        )
        await rig.advance(1)
        snap = rig.snapshot()
        assert snap.contract is not None
        assert snap.contract.status is ContractStatus.ENDED
        assert rig.mode() is Mode.REMOTE  # the grace: a next contract may follow at once
        await rig.advance(GRACE_S + CONTROL_PERIOD_S)
        assert rig.mode() is Mode.LOCAL

    run_scenario(scenario, uplink=True)


def test_a_contract_offered_for_later_starts_remote_control_at_its_start() -> None:
    async def scenario(rig: Rig) -> None:
        atn = atn_of(rig)
        await rig.advance(CONTROL_PERIOD_S + 1)
        start = rig.now() + timedelta(seconds=60)
        atn.contract = DispatchContract(
            contract_id=uid(9),
            atn_alias=rig.layout.house.alias,
            scada_alias=rig.layout.house.scada,
            start=start,
            duration_s=3600,
            status=ContractStatus.OFFERED,
        )
        atn.end.send(
            ContractHeartbeat(
                contract=atn.contract, sent_at=rig.now(), my_digit=2, from_side=Side.ATN
            )
        )
        await rig.advance(30)
        assert rig.mode() is Mode.LOCAL
        atn.heartbeat()
        await rig.advance_to(start + timedelta(seconds=CONTROL_PERIOD_S + 0.5))
        assert rig.mode() is Mode.REMOTE

    run_scenario(scenario, uplink=True)


def test_a_stopped_runtime_beats_no_more_though_its_loop_goes_on() -> None:
    async def scenario(rig: Rig) -> None:
        atn = await go_remote(rig)

        def mine() -> list[ContractHeartbeat]:
            return [h for h in atn.received(ContractHeartbeat) if h.from_side is Side.SCADA]

        await rig.advance(2 * (HEARTBEAT_PERIOD_S + OWN_BEAT_SLACK_S))
        assert len(mine()) >= 2  # beating on its own while the ATN is quiet
        rig.runtime.stop()  # as at a change of house: the loop goes on without it
        await rig.task
        sent = len(mine())
        await rig.advance(10 * HEARTBEAT_PERIOD_S)
        assert len(mine()) == sent

    run_scenario(scenario, uplink=True)
