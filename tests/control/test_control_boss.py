"""The boss rule: unknown nodes, expired commands, non-bosses are refused with a reason."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from scada.control import modes
from scada.control.boss import authorize, describe_boss
from scada.control.modes import ModeState
from scada.protocol import CommandSource
from tests.control.control_support import ELT, HP, NODES, SETTINGS, T0, at, auto, grace, ok, pinned
from tests.control.control_support import remote as remote_state

ADMIN, ATN, HOME, LOCK = (
    CommandSource.ADMIN,
    CommandSource.ATN,
    CommandSource.HOME_ALONE,
    CommandSource.INTERLOCK,
)


def held(state: ModeState) -> ModeState:
    """``state`` under alice's hold, taken at 13:05 for an hour."""
    return ok(modes.take_hold(state, "alice", 3600, at(300), SETTINGS))


def test_unknown_node_is_refused_first() -> None:
    refusal = authorize(auto(), HOME, "a.nope", NODES, at(5))
    assert str(refusal) == "no actuator 'a.nope'"
    assert str(authorize(auto(), LOCK, "x", NODES, at(5))) == "no actuator 'x'"


def test_expired_command_is_refused_even_from_the_boss() -> None:
    refusal = authorize(auto(), HOME, HP, NODES, at(5), expires_at=at(3))
    assert str(refusal) == (
        "command for a.hp.relay expired at 13:00:03 UTC (now 13:00:05 UTC); not carried out"
    )
    assert authorize(auto(), HOME, HP, NODES, at(5), expires_at=at(5.001)) is None
    assert authorize(auto(), HOME, HP, NODES, at(5), expires_at=at(5)) is not None


def test_a_non_boss_is_refused_with_who_is_boss() -> None:
    state = held(remote_state())
    refusal = authorize(state, ATN, ELT, NODES, at(310), operator=None)
    assert str(refusal) == (
        "a.elt1.relay obeys admin (hold by alice until 14:05 UTC); atn may not command it"
    )


BOSS_CASES = [
    ("local-auto", auto, HOME, "home_alone (LocalControl)"),
    ("pinned", pinned, HOME, "home_alone (LocalControl, set by the installer)"),
    ("remote", remote_state, ATN, "atn (RemoteControl, contract c1)"),
    ("grace", grace, ATN, "atn (RemoteControl, contract c1, in its grace period)"),
]


@pytest.mark.parametrize(
    ("build", "boss", "described"),
    [c[1:] for c in BOSS_CASES],
    ids=[c[0] for c in BOSS_CASES],
)
def test_only_the_boss_passes(
    build: Callable[[], ModeState], boss: CommandSource, described: str
) -> None:
    state = build()
    assert describe_boss(state, at(20)) == described
    for source in (ADMIN, ATN, HOME):
        refusal = authorize(state, source, HP, NODES, at(20), operator="alice")
        if source is boss:
            assert refusal is None
        else:
            assert str(refusal) == (
                f"a.hp.relay obeys {described}; {source.value} may not command it"
            )


@pytest.mark.parametrize("build", [auto, pinned, remote_state, grace])
def test_interlocks_pass_in_every_mode(build: Callable[[], ModeState]) -> None:
    state = build()
    assert authorize(state, LOCK, HP, NODES, at(20)) is None
    assert authorize(held(state), LOCK, HP, NODES, at(400)) is None


def test_admin_must_be_the_holder() -> None:
    state = held(auto())
    assert authorize(state, ADMIN, HP, NODES, at(400), operator="alice") is None
    assert str(authorize(state, ADMIN, HP, NODES, at(400), operator="bob")) == (
        "a.hp.relay obeys admin (hold by alice until 14:05 UTC); bob does not hold it"
    )
    assert "an unnamed operator does not hold it" in str(
        authorize(state, ADMIN, HP, NODES, at(400))
    )


def test_an_expired_hold_stops_counting_at_its_end() -> None:
    state = held(auto())
    assert authorize(state, ADMIN, HP, NODES, at(300 + 3599), operator="alice") is None
    refusal = authorize(state, ADMIN, HP, NODES, at(300 + 3600), operator="alice")
    assert str(refusal) == "a.hp.relay obeys home_alone (LocalControl); admin may not command it"
    assert authorize(state, HOME, HP, NODES, at(300 + 3600)) is None


def test_naive_now_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="aware"):
        authorize(auto(), HOME, HP, NODES, T0.replace(tzinfo=None))


def test_a_failsafe_relay_is_switched_only_under_an_installers_hold() -> None:
    """Whoever is boss, the ATN and the home-alone strategy may not switch a failsafe relay;
    the installer holding the hold may, and without the hold the installer is refused too."""
    for state in (remote_state(), auto()):
        for source in (ATN, HOME):
            refusal = authorize(state, source, HP, NODES, at(20), failsafes=(HP,))
            assert str(refusal) == (
                "a.hp.relay is a failsafe relay: the SCADA holds it energised while it runs, "
                f"and only an installer's admin hold may switch it; {source.value} may not"
            )
    assert (
        authorize(held(auto()), ADMIN, HP, NODES, at(400), operator="alice", failsafes=(HP,))
        is None
    )
    assert "obeys home_alone" in str(
        authorize(auto(), ADMIN, HP, NODES, at(20), operator="alice", failsafes=(HP,))
    )
