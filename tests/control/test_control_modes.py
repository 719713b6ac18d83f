"""The mode machine: one test per table row, the guards, grace timing, the hold above it all."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import pytest

from scada.control import modes
from scada.control.contract import Accept, Heartbeat, Offer, Terminate
from scada.control.modes import NEEDS_LEASE, TABLE, ModeEvent, ModeState, Phase
from scada.protocol import CommandSource, ContractStatus, Mode, Side
from tests.control.control_support import (
    SETTINGS,
    T0,
    at,
    auto,
    grace,
    heartbeat,
    make_settings,
    ok,
    pinned,
)
from tests.control.control_support import remote as remote_state

P, A, R, G = Phase.LOCAL_PINNED, Phase.LOCAL_AUTO, Phase.REMOTE, Phase.REMOTE_GRACE
E = ModeEvent
BUILD: dict[Phase, Callable[[], ModeState]] = {P: pinned, A: auto, R: remote_state, G: grace}


def terminate(state: ModeState, seconds: float, by: Side = Side.SCADA) -> ModeState:
    msg = Terminate("c1", by, "price spike")
    return ok(modes.contract_message(state, msg, at(seconds), SETTINGS))


def set_remote(state: ModeState) -> ModeState:
    if state.phase is A:  # LOCAL_AUTO with a usable lease exists only for an instant
        state = replace(remote_state(), phase=A)
    return ok(modes.set_mode(state, "alice", Mode.REMOTE, at(20), SETTINGS))


def lease_live(state: ModeState) -> ModeState:
    if state.phase is A:
        state = ok(modes.contract_message(state, Offer("c1", at(20), 3600), at(20), SETTINGS))
        return ok(modes.contract_message(state, Accept("c1"), at(20), SETTINGS))
    if state.phase is G:
        state = ok(modes.link_up(state, at(20), SETTINGS))
        assert state.phase is G  # the uplink alone is not enough
    return heartbeat(state, at(21))


def lease_lost(state: ModeState) -> ModeState:
    if state.contract is None:
        return ok(modes.tick(state, at(20), SETTINGS))
    return terminate(state, 20)


def grace_over(state: ModeState) -> ModeState:
    if state.phase is G:
        return ok(modes.tick(state, at(10 + 301), SETTINGS))
    # Only REMOTE_GRACE ever generates GRACE_OVER; elsewhere its row is a self-loop.
    return modes._fire(state, E.GRACE_OVER, at(20), "test", [])


def link_up(state: ModeState) -> ModeState:
    if state.phase in (P, A):
        state = ok(modes.link_down(state, at(15), SETTINGS))
    return ok(modes.link_up(state, at(20), SETTINGS))


def hold_expired(state: ModeState) -> ModeState:
    state = ok(modes.take_hold(state, "alice", 30, at(20), SETTINGS))
    step = modes.tick(state, at(51), SETTINGS)
    assert any("actuators return to what the mode wants" in n for n in step.notes)
    return ok(step)


def hold_released(state: ModeState) -> ModeState:
    state = ok(modes.take_hold(state, "alice", 30, at(20), SETTINGS))
    step = modes.release_hold(state, "alice", at(25), SETTINGS)
    assert any("actuators return to what the mode wants" in n for n in step.notes)
    return ok(step)


DO: dict[ModeEvent, Callable[[ModeState], ModeState]] = {
    E.SET_LOCAL: lambda s: ok(modes.set_mode(s, "alice", Mode.LOCAL, at(20), SETTINGS)),
    E.SET_REMOTE: set_remote,
    E.LEASE_LIVE: lease_live,
    E.LEASE_LOST: lease_lost,
    E.GRACE_OVER: grace_over,
    E.LINK_UP: link_up,
    E.LINK_DOWN: lambda s: ok(modes.link_down(s, at(20), SETTINGS)),
    E.HOLD_TAKEN: lambda s: ok(modes.take_hold(s, "alice", 30, at(20), SETTINGS)),
    E.HOLD_RELEASED: hold_released,
    E.HOLD_EXPIRED: hold_expired,
}


def test_the_table_is_total() -> None:
    assert set(TABLE) == {(p, e) for p in Phase for e in ModeEvent}


@pytest.mark.parametrize(
    ("before", "event", "after"),
    [(b, e, a) for (b, e), a in TABLE.items()],
    ids=[f"{b}-{e}-{a}" for (b, e), a in TABLE.items()],
)
def test_every_row_of_the_table(before: Phase, event: ModeEvent, after: Phase) -> None:
    state = BUILD[before]()
    assert state.phase is before
    assert DO[event](state).phase is after


@pytest.mark.parametrize("build", [pinned, auto], ids=["pinned", "auto"])
def test_remote_is_refused_without_a_live_contract(build: Callable[[], ModeState]) -> None:
    state = build()
    if state.contract is not None:
        state = terminate(state, 5)
    step = modes.set_mode(state, "alice", Mode.REMOTE, at(20), SETTINGS)
    assert step.refusal is not None
    assert str(step.refusal).startswith("RemoteControl needs a live contract: ")
    assert step.state is state
    assert (build().phase, E.SET_REMOTE) in NEEDS_LEASE


def test_remote_refusal_names_the_reason() -> None:
    down = ok(modes.link_down(auto(), at(5), SETTINGS))
    step = modes.set_mode(down, "alice", Mode.REMOTE, at(20), SETTINGS)
    assert str(step.refusal) == "RemoteControl needs a live contract: uplink down since 13:00 UTC"
    silent = ok(modes.set_mode(remote_state(), "alice", Mode.LOCAL, at(1), SETTINGS))
    step = modes.set_mode(silent, "alice", Mode.REMOTE, at(100), SETTINGS)
    assert str(step.refusal) == "RemoteControl needs a live contract: ATN silent since 13:00 UTC"


def test_a_live_contract_takes_over_by_itself_unless_pinned() -> None:
    assert remote_state().phase is R
    assert pinned().phase is P
    assert modes.boss(remote_state()) is CommandSource.ATN
    assert modes.boss(pinned()) is CommandSource.HOME_ALONE


def test_mode_and_requested() -> None:
    assert (pinned().mode, pinned().requested) == (Mode.LOCAL, Mode.LOCAL)
    assert (auto().mode, auto().requested) == (Mode.LOCAL, Mode.REMOTE)
    assert (remote_state().mode, grace().mode) == (Mode.REMOTE, Mode.REMOTE)


# ------------------------------------------------------------------------ grace timing


def test_lost_uplink_falls_back_just_after_the_grace_not_before() -> None:
    state = grace()  # link down at T0+10
    assert ok(modes.tick(state, at(10 + 299), SETTINGS)).phase is G
    assert ok(modes.tick(state, at(10 + 300), SETTINGS)).phase is G
    after = modes.tick(state, at(10 + 301), SETTINGS)
    assert ok(after).phase is A
    assert modes.boss(ok(after)) is CommandSource.HOME_ALONE
    assert any("for more than contract_grace_s (300 s)" in n for n in after.notes)


def test_silent_atn_enters_grace_at_timeout_and_falls_back_after_grace() -> None:
    state = remote_state()  # last heard at T0
    assert ok(modes.tick(state, at(90), SETTINGS)).phase is R
    silent = ok(modes.tick(state, at(91), SETTINGS))
    assert silent.phase is G
    assert silent.since == at(90)  # when the lease lapsed, not when the tick noticed
    assert modes.boss(silent) is CommandSource.ATN  # its last commands stand in the grace
    assert ok(modes.tick(silent, at(390), SETTINGS)).phase is G
    gone = ok(modes.tick(silent, at(391), SETTINGS))
    assert gone.phase is A
    assert gone.contract is not None
    assert gone.contract.status is ContractStatus.TERMINATED


def beating(state: ModeState, until_s: float) -> ModeState:
    """Heartbeats from the ATN every 60 s up to ``until_s``."""
    for t in range(60, int(until_s) + 1, 60):
        state = heartbeat(state, at(t))
    return state


def test_expired_contract_falls_back_after_the_grace() -> None:
    state = beating(remote_state(), 3590)
    ended = ok(modes.tick(state, at(3600), SETTINGS))
    assert ended.phase is G
    assert ok(modes.tick(ended, at(3900), SETTINGS)).phase is G
    assert ok(modes.tick(ended, at(3901), SETTINGS)).phase is A


def test_back_to_back_contracts_stay_remote() -> None:
    state = beating(remote_state(), 3590)
    state = ok(modes.tick(state, at(3600), SETTINGS))
    state = ok(modes.contract_message(state, Offer("c2", at(3620), 3600), at(3610), SETTINGS))
    state = ok(modes.contract_message(state, Accept("c2"), at(3610), SETTINGS))
    assert state.phase is G  # c2 starts at 3620
    assert ok(modes.tick(state, at(3620), SETTINGS)).phase is R


def test_a_contract_the_scada_terminated_falls_back_after_the_grace() -> None:
    state = terminate(remote_state(), 20)
    assert state.phase is G
    assert ok(modes.tick(state, at(320), SETTINGS)).phase is G
    assert ok(modes.tick(state, at(321), SETTINGS)).phase is A


def test_a_contract_the_atn_terminated_hands_control_back_at_once() -> None:
    """The grace bridges blips; an ATN that says it is done is done."""
    state = terminate(remote_state(), 20, by=Side.ATN)
    assert state.phase is A
    assert modes.boss(state, at(20)) is CommandSource.HOME_ALONE


def test_after_the_uplink_returns_stay_local_until_a_fresh_heartbeat() -> None:
    """The EVCC lesson: a connection is not a contract."""
    slow = make_settings(heartbeat_timeout_s=3600.0)
    state = ok(modes.tick(grace(slow), at(400), slow))
    assert state.phase is A
    state = ok(modes.link_up(state, at(410), slow))
    assert state.phase is A
    assert ok(modes.tick(state, at(415), slow)).phase is A
    assert heartbeat(state, at(420), slow).phase is R


def test_after_a_long_outage_the_silent_contract_is_gone_and_a_fresh_one_is_needed() -> None:
    state = ok(modes.tick(grace(), at(400), SETTINGS))
    assert state.phase is A
    assert state.contract is not None
    assert state.contract.status is ContractStatus.TERMINATED
    state = ok(modes.link_up(state, at(410), SETTINGS))
    msg = Heartbeat("c1", 1, None)
    assert modes.contract_message(state, msg, at(411), SETTINGS).refusal is not None
    state = ok(modes.contract_message(state, Offer("c2", at(411), 3600), at(411), SETTINGS))
    assert ok(modes.contract_message(state, Accept("c2"), at(412), SETTINGS)).phase is R


def test_a_heartbeat_from_before_the_uplink_came_back_is_not_fresh() -> None:
    slow = make_settings(heartbeat_timeout_s=3600.0)  # c1 still "live" by its timeout
    state = ok(modes.link_down(remote_state(slow), at(10), slow))
    state = ok(modes.link_up(state, at(20), slow))
    assert state.phase is G
    assert modes.lease_problem(state, at(30), slow) == (
        "no contract heartbeat since the uplink returned at 13:00 UTC"
    )
    assert ok(modes.tick(state, at(30), slow)).phase is G
    assert heartbeat(state, at(40), slow).phase is R


def test_repeated_link_reports_do_not_reset_the_uplink_time() -> None:
    state = auto()
    again = ok(modes.link_up(state, at(50), SETTINGS))
    assert again.link_since == state.link_since == T0


# ------------------------------------------------------------------------- the hold


def test_hold_makes_admin_boss_and_the_mode_resumes_after() -> None:
    state = ok(modes.take_hold(remote_state(), "alice", 600, at(5), SETTINGS))
    assert modes.boss(state) is CommandSource.ADMIN
    assert state.phase is R
    state = heartbeat(state, at(60))
    step = modes.release_hold(state, "alice", at(70), SETTINGS)
    assert modes.boss(ok(step)) is CommandSource.ATN
    assert step.notes[-1] == (
        "RemoteControl resumes: actuators return to what the mode wants (atn is boss)"
    )


def test_mode_underneath_keeps_moving_during_a_hold() -> None:
    state = ok(modes.take_hold(remote_state(), "alice", 3600, at(5), SETTINGS))
    state = ok(modes.tick(state, at(1000), SETTINGS))  # ATN silent since T0: lapsed at T0+90
    assert state.phase is A
    assert modes.boss(state) is CommandSource.ADMIN
    step = modes.tick(state, at(3605), SETTINGS)
    assert ok(step).hold is None
    assert step.notes == (
        "admin hold by alice expired at 14:00 UTC",
        "LocalControl resumes: actuators return to what the mode wants (home_alone is boss)",
    )


def test_boss_with_now_ignores_an_expired_hold_before_the_tick() -> None:
    state = ok(modes.take_hold(auto(), "alice", 60, T0, SETTINGS))
    assert modes.boss(state, at(59)) is CommandSource.ADMIN
    assert modes.boss(state, at(60)) is CommandSource.HOME_ALONE
    assert modes.boss(state) is CommandSource.ADMIN


def test_only_the_holder_may_change_the_mode_during_a_hold() -> None:
    state = ok(modes.take_hold(remote_state(), "alice", 600, at(5), SETTINGS))
    step = modes.set_mode(state, "bob", Mode.LOCAL, at(10), SETTINGS)
    assert str(step.refusal) == (
        "admin hold by alice until 13:10 UTC: only alice may change the mode now"
    )
    step = modes.set_mode(state, "alice", Mode.LOCAL, at(10), SETTINGS)
    assert ok(step).phase is P
    assert modes.boss(ok(step)) is CommandSource.ADMIN
    assert step.notes[-1] == (
        "admin stays boss until 13:10 UTC; then LocalControl (set by the installer) resumes"
    )
    released = ok(modes.release_hold(ok(step), "alice", at(20), SETTINGS))
    assert modes.boss(released) is CommandSource.HOME_ALONE


def test_hold_requests_are_passed_through_with_the_cap() -> None:
    step = modes.take_hold(auto(), "alice", 10**6, T0, SETTINGS)
    assert any("capped at 14400 s" in n for n in step.notes)
    refused = modes.take_hold(ok(step), "bob", 60, at(1), SETTINGS)
    assert str(refused.refusal) == "admin hold by alice until 17:00 UTC; ask alice to release it"
    kept = ok(modes.keep_hold_alive(ok(step), "alice", at(14_000), SETTINGS))
    assert kept.hold is not None
    assert kept.hold.until == at(28_400)
    assert modes.keep_hold_alive(ok(step), "bob", at(1), SETTINGS).refusal is not None
    assert modes.release_hold(ok(step), "bob", at(1), SETTINGS).refusal is not None


def test_contracts_run_during_a_hold() -> None:
    state = ok(modes.take_hold(auto(), "alice", 600, T0, SETTINGS))
    state = ok(modes.contract_message(state, Offer("c1", T0, 3600), at(1), SETTINGS))
    state = ok(modes.contract_message(state, Accept("c1"), at(1), SETTINGS))
    assert state.phase is R
    assert modes.boss(state) is CommandSource.ADMIN


def test_refused_contract_message_leaves_the_state_alone() -> None:
    state = remote_state()
    step = modes.contract_message(state, Accept("c9"), at(5), SETTINGS)
    assert step.state is state
    assert str(step.refusal) == "accept for contract c9, but the contract is c1"


def test_heartbeat_sent_records_the_digit() -> None:
    state = ok(modes.heartbeat_sent(remote_state(), 6, at(1)))
    assert state.contract is not None
    assert state.contract.my_digit == 6
    assert modes.heartbeat_sent(auto(), 6, at(1)).refusal is not None


def test_transitions_are_noted() -> None:
    step = modes.link_down(remote_state(), at(10), SETTINGS)
    assert step.notes == ("RemoteControl -> RemoteControl (grace): uplink down",)
    step = modes.contract_message(
        ok(modes.link_up(modes.initial(T0), T0, SETTINGS)), Offer("c1", T0, 60), T0, SETTINGS
    )
    step = modes.contract_message(ok(step), Accept("c1"), T0, SETTINGS)
    assert step.notes[-1] == "LocalControl -> RemoteControl: contract c1 is live"
