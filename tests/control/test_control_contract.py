"""The DispatchContract machine: one test per table row, every missing row refused, liveness."""

from __future__ import annotations

from datetime import datetime

import pytest

from scada.control.contract import (
    TRANSITIONS,
    Accept,
    Contract,
    ContractEvent,
    End,
    Heartbeat,
    Offer,
    Terminate,
    handle,
    sent,
    tick,
)
from scada.control.outcome import Step
from scada.protocol import ContractStatus, Side
from tests.control.control_support import SETTINGS, T0, at

S = ContractStatus
E = ContractEvent
HOUR_S = 3600.0
SILENT_S = SETTINGS.heartbeat_timeout_s + SETTINGS.contract_grace_s  # 390 s


def must(step: Step[Contract | None]) -> Contract:
    assert step.refusal is None, step.refusal
    assert step.state is not None
    return step.state


def contract_in(status: ContractStatus | None) -> tuple[Contract | None, datetime]:
    """Contract c1 ([T0, T0+1h)) brought to ``status`` through the API, and when it got there."""
    if status is None:
        return None, T0
    c = must(handle(None, Offer("c1", T0, HOUR_S), T0))
    if status is S.OFFERED:
        return c, T0
    if status is S.EXPIRED:
        return must(tick(c, at(HOUR_S), SETTINGS)), at(HOUR_S)
    c = must(handle(c, Accept("c1"), T0))
    if status is S.ACTIVE:
        return c, T0
    if status is S.ENDED:
        return must(handle(c, End("c1"), at(HOUR_S))), at(HOUR_S)
    return must(handle(c, Terminate("c1", Side.ATN, "price spike"), at(10))), at(10)


def fire(c: Contract | None, event: ContractEvent, when: datetime) -> Step[Contract | None]:
    """Apply ``event`` to ``c`` at a time that satisfies the event's own guards."""
    if event is E.OFFER:
        return handle(c, Offer("c2", at(HOUR_S + 60), HOUR_S), at(HOUR_S + 30))
    if event is E.ACCEPT:
        return handle(c, Accept("c1"), at(20))
    if event is E.HEARTBEAT:
        return handle(c, Heartbeat("c1", 7, None), at(20))
    if event is E.END:
        return handle(c, End("c1"), max(when, at(HOUR_S)) if c else at(HOUR_S))
    if event is E.TERMINATE:
        return handle(c, Terminate("c1", Side.SCADA, "installer pinned LocalControl"), at(20))
    if event is E.DEADLINE:
        return tick(c, at(HOUR_S), SETTINGS)
    return tick(c, at(SILENT_S + 1), SETTINGS)


@pytest.mark.parametrize(
    ("before", "event", "after"),
    [(b, e, a) for (b, e), a in TRANSITIONS.items()],
    ids=[f"{b}-{e}-{a}" for (b, e), a in TRANSITIONS.items()],
)
def test_every_row_of_the_table(
    before: ContractStatus | None, event: ContractEvent, after: ContractStatus
) -> None:
    c, when = contract_in(before)
    step = fire(c, event, when)
    assert step.ok, step.refusal
    assert step.state is not None
    assert step.state.status is after


REQUESTS = (E.OFFER, E.ACCEPT, E.HEARTBEAT, E.END, E.TERMINATE)
MISSING = [(b, e) for b in (None, *ContractStatus) for e in REQUESTS if (b, e) not in TRANSITIONS]


@pytest.mark.parametrize(("before", "event"), MISSING, ids=[f"{b}-{e}" for b, e in MISSING])
def test_every_missing_row_is_refused_not_raised(
    before: ContractStatus | None, event: ContractEvent
) -> None:
    c, when = contract_in(before)
    step = fire(c, event, when)
    assert step.refusal is not None
    assert step.state is c


def test_missing_row_reasons_name_the_contract_and_its_status() -> None:
    c, _ = contract_in(S.EXPIRED)
    refused = handle(c, Heartbeat("c1", 1, None), at(HOUR_S + 5)).refusal
    assert str(refused) == "contract c1 is expired; it cannot take a heartbeat"
    assert str(handle(None, Accept("c1"), T0).refusal) == "there is no contract to accept"
    active, _ = contract_in(S.ACTIVE)
    refused = handle(active, Offer("c2", at(60), HOUR_S), at(30)).refusal
    assert str(refused) == (
        "contract c1 (active until 14:00 UTC) must end or be terminated before a new offer"
    )


@pytest.mark.parametrize("status", [S.ENDED, S.EXPIRED, S.TERMINATED, None])
def test_tick_on_a_finished_contract_changes_nothing(status: ContractStatus | None) -> None:
    c, _ = contract_in(status)
    step = tick(c, at(10 * HOUR_S), SETTINGS)
    assert step.ok
    assert step.state is c
    assert step.notes == ()


def test_offer_checks() -> None:
    assert str(handle(None, Offer(" ", T0, HOUR_S), T0).refusal) == "an offer needs a contract id"
    assert "not positive" in str(handle(None, Offer("c1", T0, 0), T0).refusal)
    naive = T0.replace(tzinfo=None)
    assert "no time zone" in str(handle(None, Offer("c1", naive, HOUR_S), T0).refusal)
    late = handle(None, Offer("c1", T0, 60), at(60)).refusal
    assert str(late) == "offer c1 ended at 13:01 UTC, before it arrived"


def test_a_newer_offer_replaces_a_pending_one() -> None:
    c, _ = contract_in(S.OFFERED)
    step = handle(c, Offer("c2", at(60), HOUR_S), at(30))
    assert must(step).contract_id == "c2"
    assert step.notes == ("contract c2 offered for 13:01 UTC-14:01 UTC (replaces offer c1)",)


def test_messages_for_another_contract_are_refused() -> None:
    c, _ = contract_in(S.ACTIVE)
    step = handle(c, Heartbeat("c9", 1, None), at(5))
    assert str(step.refusal) == "heartbeat for contract c9, but the contract is c1"
    assert step.state is c


def test_accept_after_the_end_is_refused() -> None:
    c, _ = contract_in(S.OFFERED)
    assert str(handle(c, Accept("c1"), at(HOUR_S)).refusal) == "offer c1 ended at 14:00 UTC"


def test_end_before_the_end_is_refused_with_advice() -> None:
    c, _ = contract_in(S.ACTIVE)
    step = handle(c, End("c1"), at(HOUR_S - 1))
    assert str(step.refusal) == "contract c1 runs until 14:00 UTC; terminate it to stop it early"


def test_terminate_records_who_and_why() -> None:
    c, _ = contract_in(S.TERMINATED)
    assert c is not None
    assert c.terminated_by is Side.ATN
    assert c.cause == "terminated by atn: price spike"
    assert c.status_since == at(10)


def test_deadline_of_an_offer_says_it_was_never_accepted() -> None:
    c, _ = contract_in(S.EXPIRED)
    assert c is not None
    assert c.cause == "its end 14:00 UTC passed, never accepted"


def test_silence_terminates_just_after_timeout_plus_grace_not_before() -> None:
    c, _ = contract_in(S.ACTIVE)
    assert must(tick(c, at(SILENT_S), SETTINGS)).status is S.ACTIVE
    late = must(tick(c, at(SILENT_S + 1), SETTINGS))
    assert late.status is S.TERMINATED
    assert late.terminated_by is Side.SCADA
    assert "ATN silent since 13:00 UTC" in late.cause


def test_deadline_wins_over_silence() -> None:
    c, _ = contract_in(S.ACTIVE)
    assert must(tick(c, at(HOUR_S + 1000), SETTINGS)).status is S.EXPIRED


def test_live_needs_active_inside_the_window_and_heard_within_the_timeout() -> None:
    offered, _ = contract_in(S.OFFERED)
    assert offered is not None
    assert not offered.live(T0, 90)
    c, _ = contract_in(S.ACTIVE)
    assert c is not None
    assert c.live(at(90), 90)
    assert not c.live(at(90.001), 90)
    beat = must(handle(c, Heartbeat("c1", 3, None), at(3550)))
    assert beat.live(at(3599), 90)
    assert not beat.live(at(HOUR_S), 90)
    future = must(handle(None, Offer("c1", at(600), HOUR_S), T0))
    future = must(handle(future, Accept("c1"), T0))
    assert not future.live(at(10), 90)


def test_heartbeat_records_digits_and_notes_a_missed_echo() -> None:
    c, _ = contract_in(S.ACTIVE)
    c = must(sent(c, 5, at(1)))
    assert c.my_digit == 5
    good = handle(c, Heartbeat("c1", 8, 5), at(20))
    assert must(good).atn_digit == 8
    assert must(good).last_heard == at(20)
    assert good.notes == ()
    bad = handle(c, Heartbeat("c1", 2, 3), at(20))
    assert must(bad).echo_misses == 1
    assert must(bad).last_heard == at(20)  # the ATN is alive all the same
    assert bad.notes == (
        "contract c1: the ATN echoed 3, the SCADA last sent 5: a SCADA heartbeat went missing",
    )


@pytest.mark.parametrize(("mine", "echo"), [(10, 1), (-1, 1), (1, 10)])
def test_digits_outside_0_to_9_are_refused(mine: int, echo: int) -> None:
    c, _ = contract_in(S.ACTIVE)
    assert str(handle(c, Heartbeat("c1", mine, echo), at(5)).refusal) == "heartbeat digits are 0-9"


def test_sent_checks() -> None:
    c, _ = contract_in(S.ACTIVE)
    assert str(sent(None, 1, T0).refusal) == "there is no contract to send a heartbeat for"
    assert str(sent(c, 12, T0).refusal) == "a heartbeat digit is 0-9, not 12"


def test_status_changes_are_noted() -> None:
    c, _ = contract_in(S.OFFERED)
    step = handle(c, Accept("c1"), at(1))
    assert step.notes == ("contract c1 offered -> active: accepted by the SCADA",)


def test_an_offer_records_the_atn_digit_so_the_first_heartbeat_echoes_it() -> None:
    step = handle(None, Offer("c9", at(0), 3600, atn_digit=7), at(0))
    assert step.state is not None
    assert step.state.atn_digit == 7
