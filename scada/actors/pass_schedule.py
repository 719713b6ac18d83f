"""When the controller passes: memos of its pure decisions, and the schedule of its passes.

The controller (:mod:`scada.actors.controller`) passes every :data:`CONTROL_PERIOD_S` after its
last pass, at once when woken, and not at all while its last pass was *quiet* (it switched
nothing) and nothing it reads has changed: it then sleeps to the first period boundary at which
time alone ends the quiet (:func:`periods_to_next_pass`). Every shortcut here must leave the
house exactly as passing every period would (``tests/sim/test_quiet_passes.py``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Generic, TypeVar

from scada.control import ModeState

CONTROL_PERIOD_S = 5.0
#: A quiet controller still passes this many periods after its last pass: a safety net, as
#: every change of what a pass reads stirs it (see ``Controller.run``).
QUIET_PERIODS_MAX = 12
#: Loop times closer than this are the same instant (a timer may fire a hair early).
TIME_SLACK_S = 1e-6

K = TypeVar("K")
R = TypeVar("R")


@dataclass(frozen=True, slots=True)
class Memo(Generic[K, R]):
    """The ``result`` of a pure control function for inputs ``key`` at ``at``, which holds
    for the same inputs until ``until`` (``None``: for ever), as the function itself says."""

    key: K
    at: datetime
    until: datetime | None
    result: R

    def fits(self, key: K, now: datetime) -> bool:
        return self.at <= now and (self.until is None or now < self.until) and self.key == key


def earliest(*times: datetime | None) -> datetime | None:
    """The earliest of ``times`` that is not ``None`` (``None`` if none is)."""
    return min((t for t in times if t is not None), default=None)


def periods_to_next_pass(
    since_last_s: float, quiet_until: datetime | None, now: datetime, *, quiet: bool
) -> int:
    """How many periods after the last pass the next one is due, ``since_last_s`` after it
    (at ``now``): the next period boundary; or, while the last pass's quiet holds
    (``quiet``), the first boundary at or after ``quiet_until`` (``None``: no deadline), at
    most :data:`QUIET_PERIODS_MAX` periods after the last pass."""
    nxt = max(1, math.ceil(since_last_s / CONTROL_PERIOD_S - TIME_SLACK_S))
    if not quiet:
        return nxt
    if quiet_until is None:
        return max(nxt, QUIET_PERIODS_MAX)
    ahead_s = since_last_s + (quiet_until - now).total_seconds()
    return max(nxt, min(QUIET_PERIODS_MAX, math.ceil(ahead_s / CONTROL_PERIOD_S - TIME_SLACK_S)))


def heartbeat_only(before: ModeState, after: ModeState) -> bool:
    """True when ``after`` differs from ``before`` only in the contract's heartbeat bookkeeping:
    when the ATN was last heard, the digits and the count of missed echoes.

    Such a change decides nothing: the boss, the mode and the wishes are as they were, and the
    state's deadlines (silence, lapse) only move later. So it needs no pass of its own, and a
    quiet pass's deadline taken before it is early, never late."""
    cb, ca = before.contract, after.contract
    return (
        cb is not None
        and ca is not None
        and cb.contract_id == ca.contract_id
        and cb.status is ca.status
        and cb.status_since == ca.status_since
        and cb.start == ca.start
        and cb.duration_s == ca.duration_s
        and cb.cause == ca.cause
        and cb.terminated_by is ca.terminated_by
        and before.phase is after.phase
        and before.since == after.since
        and before.hold == after.hold
        and before.link_up is after.link_up
        and before.link_since == after.link_since
    )


def decision_view(state: ModeState) -> ModeState:
    """``state`` without the contract's heartbeat bookkeeping (see :func:`heartbeat_only`):
    what a pass decides from, so two states that differ only in it compare equal."""
    c = state.contract
    if c is not None:
        c = replace(c, last_heard=c.start, atn_digit=None, my_digit=None, echo_misses=0)
    return replace(state, contract=c)
