"""The controller's pass schedule (:func:`scada.actors.pass_schedule.periods_to_next_pass`):
passes stay on the 5 s grid of the last pass, and a quiet stretch ends on the first boundary at
or after its deadline."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from scada.actors.pass_schedule import (
    CONTROL_PERIOD_S,
    QUIET_PERIODS_MAX,
    periods_to_next_pass,
)

NOW = datetime(2024, 1, 8, 5, 0, tzinfo=UTC)
P = CONTROL_PERIOD_S


def test_not_quiet_the_next_pass_is_the_next_boundary_after_the_last_pass() -> None:
    assert periods_to_next_pass(0.0, None, NOW, quiet=False) == 1
    assert periods_to_next_pass(3.0, None, NOW, quiet=False) == 1
    assert periods_to_next_pass(P, None, NOW, quiet=False) == 1  # on the boundary: pass now
    assert periods_to_next_pass(P + 0.1, None, NOW, quiet=False) == 2
    assert periods_to_next_pass(2 * P - 1e-9, None, NOW, quiet=False) == 2


def test_quiet_the_next_pass_is_the_first_boundary_at_or_after_the_deadline() -> None:
    # last pass 1 s ago; deadline 12 s from now = 13 s after the last pass -> boundary 15 s
    assert periods_to_next_pass(1.0, NOW + timedelta(seconds=12), NOW, quiet=True) == 3
    # a deadline exactly on a boundary is that boundary (a hair of float error is forgiven)
    assert periods_to_next_pass(0.0, NOW + timedelta(seconds=2 * P), NOW, quiet=True) == 2
    # a deadline already passed: the next boundary, as if not quiet
    assert periods_to_next_pass(7.0, NOW - timedelta(seconds=1), NOW, quiet=True) == 2


def test_quiet_without_deadline_or_far_off_still_passes_after_the_safety_period() -> None:
    assert periods_to_next_pass(0.0, None, NOW, quiet=True) == QUIET_PERIODS_MAX
    far = NOW + timedelta(hours=3)
    assert periods_to_next_pass(0.0, far, NOW, quiet=True) == QUIET_PERIODS_MAX
    # woken late, past the safety period: still the next boundary, never one already gone
    late = (QUIET_PERIODS_MAX + 1) * P + 1
    assert periods_to_next_pass(late, None, NOW, quiet=True) == QUIET_PERIODS_MAX + 2
