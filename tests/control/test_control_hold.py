"""The admin hold: take, cap, keep-alive (never shortening), release, expiry, refusals."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scada.control import hold
from scada.control.hold import Hold
from tests.control.control_support import T0, at

CAP_S = 4 * 3600.0


def take(operator: str = "alice", duration_s: float = 600, seconds: float = 0) -> Hold:
    step = hold.take(None, operator, duration_s, at(seconds), cap_s=CAP_S)
    assert step.ok, step.refusal
    assert step.state is not None
    return step.state


def test_take_grants_the_duration_and_the_scada_counts_down() -> None:
    h = take(duration_s=600)
    assert (h.operator, h.taken_at, h.until, h.duration_s) == ("alice", T0, at(600), 600)
    assert not h.capped
    assert h.remaining_s(at(0)) == 600
    assert h.remaining_s(at(599.5)) == 0.5
    assert hold.remaining_s(h, at(700)) == 0.0
    assert hold.remaining_s(None, at(0)) == 0.0


def test_take_caps_the_duration_and_says_so() -> None:
    step = hold.take(None, "alice", 86_400, T0, cap_s=CAP_S)
    assert step.ok
    assert step.state is not None
    assert step.state.until == at(CAP_S)
    assert step.state.capped
    assert step.state.requested_s == 86_400
    assert any("capped at 14400 s (hold_cap_s)" in n for n in step.notes)


def test_uncapped_take_has_no_cap_note() -> None:
    step = hold.take(None, "alice", 600, T0, cap_s=CAP_S)
    assert not any("capped" in n for n in step.notes)
    assert step.notes == ("admin hold by alice until 13:10 UTC",)


def test_hold_expires_at_until_not_before() -> None:
    h = take(duration_s=600)
    assert not h.expired(at(599.999))
    assert h.expired(at(600))
    assert hold.expired(h, at(600))
    assert not hold.expired(None, at(600))
    assert hold.active(h, at(600)) is None
    assert hold.active(h, at(599)) is h


def test_someone_else_cannot_take_a_hold_in_force() -> None:
    h = take("alice", 3900)
    step = hold.take(h, "bob", 600, at(10), cap_s=CAP_S)
    assert not step.ok
    assert step.state is h
    assert str(step.refusal) == "admin hold by alice until 14:05 UTC; ask alice to release it"


def test_someone_else_may_take_an_expired_hold() -> None:
    h = take("alice", 600)
    step = hold.take(h, "bob", 600, at(600), cap_s=CAP_S)
    assert step.ok
    assert step.state is not None
    assert step.state.operator == "bob"


def test_holder_taking_again_renews_but_never_shortens() -> None:
    h = take("alice", 3600)
    step = hold.take(h, "alice", 60, at(10), cap_s=CAP_S)
    assert step.ok
    assert step.state is not None
    assert step.state.until == at(3600)  # not cut down to 10 + 60
    assert step.state.duration_s == 60
    longer = hold.take(h, "alice", 7200, at(10), cap_s=CAP_S).state
    assert longer is not None
    assert longer.until == at(7210)


@pytest.mark.parametrize(
    ("operator", "duration_s", "reason"),
    [
        ("  ", 600, "an admin hold needs the operator's name"),
        ("alice", 0, "an admin hold needs a positive duration, not 0 s"),
        ("alice", -5, "an admin hold needs a positive duration, not -5 s"),
        ("alice", float("nan"), "an admin hold needs a positive duration, not nan s"),
        ("alice", float("inf"), "an admin hold needs a positive duration, not inf s"),
    ],
)
def test_take_refuses_bad_requests(operator: str, duration_s: float, reason: str) -> None:
    step = hold.take(None, operator, duration_s, T0, cap_s=CAP_S)
    assert step.state is None
    assert str(step.refusal) == reason


def test_keep_alive_extends_by_the_original_duration() -> None:
    h = take(duration_s=600)
    step = hold.keep_alive(h, "alice", at(500))
    assert step.ok
    assert step.state is not None
    assert step.state.until == at(1100)
    assert step.notes == ("admin hold by alice until 13:18 UTC (kept alive)",)


def test_keep_alive_never_shortens_a_longer_hold() -> None:
    """Defect 34: each command's timeout used to silently cut a longer hold short."""
    renewed = hold.take(take(duration_s=3600), "alice", 60, at(0), cap_s=CAP_S).state
    assert renewed is not None  # duration now 60 s, until still T0 + 3600 s
    step = hold.keep_alive(renewed, "alice", at(10))
    assert step.state is not None
    assert step.state.until == at(3600)


def test_keep_alive_by_someone_else_is_refused() -> None:
    h = take("alice", 600)
    step = hold.keep_alive(h, "bob", at(10))
    assert step.state is h
    assert str(step.refusal) == "admin hold by alice until 13:10 UTC; only alice may keep it alive"


def test_keep_alive_without_a_hold_is_refused() -> None:
    assert str(hold.keep_alive(None, "alice", T0).refusal) == "there is no admin hold to keep alive"
    h = take("alice", 600)
    step = hold.keep_alive(h, "alice", at(600))
    assert str(step.refusal) == ("there is no admin hold to keep alive: alice's ended at 13:10 UTC")


def test_release_ends_the_hold() -> None:
    step = hold.release(take("alice"), "alice", at(5))
    assert step.ok
    assert step.state is None
    assert step.notes == ("admin hold by alice released",)


def test_release_by_someone_else_or_without_a_hold_is_refused() -> None:
    h = take("alice", 600)
    assert str(hold.release(h, "bob", at(5)).refusal) == (
        "admin hold by alice until 13:10 UTC; only alice may release it"
    )
    assert str(hold.release(None, "bob", at(5)).refusal) == "there is no admin hold to release"


def test_naive_time_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="aware UTC"):
        hold.take(None, "alice", 60, T0.replace(tzinfo=None), cap_s=CAP_S)


@given(
    duration_s=st.floats(min_value=1, max_value=200_000),
    gaps=st.lists(st.floats(min_value=0, max_value=20_000), max_size=20),
)
def test_keep_alive_never_moves_the_end_back_nor_past_the_cap(
    duration_s: float, gaps: list[float]
) -> None:
    current = take(duration_s=duration_s)
    now_s = 0.0
    for gap in gaps:
        now_s += gap
        step = hold.keep_alive(current, "alice", at(now_s))
        if not step.ok:
            assert current.expired(at(now_s))
            break
        assert step.state is not None
        assert step.state.until >= current.until
        assert step.state.remaining_s(at(now_s)) <= CAP_S
        current = step.state
