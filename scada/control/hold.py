"""The installer's admin hold: a time-boxed lease during which the console is boss.

Contract:

* The SCADA owns the countdown. A hold is ``operator`` + ``until``; :func:`remaining_s` and
  :func:`expired` answer from ``now``. Nothing here reads a clock.
* :func:`take` grants at most ``cap_s`` seconds (``ControlSettings.hold_cap_s``) and says so
  in the step's notes when it capped the request. Taking a hold someone else holds is refused
  with a reason naming the holder; the holder taking it again renews it (never shortening it).
* :func:`keep_alive` (holder only) moves ``until`` to ``now + duration_s`` where
  ``duration_s`` is the granted duration of the hold. It never moves ``until`` back: a
  keep-alive never shortens a longer hold (defect 34 of the original, where each command's
  timeout silently replaced the hold's). Since ``duration_s <= cap_s`` a hold never has more
  than the cap *remaining*; a console that keeps sending keep-alives keeps its hold, which is
  the point of a keep-alive (a dead console loses it within one duration).
* :func:`release` (holder only) ends it. A stuck hold of an absent operator ends by itself.

States are immutable; every function returns a :class:`~scada.control.outcome.Step` whose
``state`` is the new ``Hold | None``. Durations are seconds; times are aware UTC.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from datetime import datetime

from scada.control.outcome import Step, check_now, hhmm, refuse, seconds


@dataclass(frozen=True, slots=True)
class Hold:
    """An admin hold: ``operator`` is boss from ``taken_at`` until ``until``.

    ``duration_s`` is the granted duration (after the cap), the step a keep-alive extends by;
    ``requested_s`` is what the operator asked for.
    """

    operator: str
    taken_at: datetime
    until: datetime
    duration_s: float
    requested_s: float

    @property
    def capped(self) -> bool:
        """True when the operator asked for more than the cap allowed."""
        return self.requested_s > self.duration_s

    def remaining_s(self, now: datetime) -> float:
        """Seconds left at ``now``, never negative."""
        return max(0.0, (self.until - check_now(now)).total_seconds())

    def expired(self, now: datetime) -> bool:
        """True from ``until`` on."""
        return check_now(now) >= self.until

    def describe(self) -> str:
        """``hold by alice until 14:05 UTC``: who holds it and till when, for reasons."""
        return f"hold by {self.operator} until {hhmm(self.until)}"


def active(hold: Hold | None, now: datetime) -> Hold | None:
    """The hold if it is still in force at ``now``, else ``None``."""
    return hold if hold is not None and not hold.expired(now) else None


def remaining_s(hold: Hold | None, now: datetime) -> float:
    """Seconds left on ``hold`` at ``now``; 0 with no hold."""
    return 0.0 if hold is None else hold.remaining_s(now)


def expired(hold: Hold | None, now: datetime) -> bool:
    """True when there is a hold and its time is up at ``now`` (the caller should end it)."""
    return hold is not None and hold.expired(now)


def take(
    hold: Hold | None, operator: str, duration_s: float, now: datetime, *, cap_s: float
) -> Step[Hold | None]:
    """Take (or, for the holder, renew) the admin hold for ``duration_s`` seconds, capped.

    Refused: blank operator, a duration that is not a positive finite number, a hold in force
    by another operator.
    """
    check_now(now)
    operator = operator.strip()
    if not operator:
        return refuse(hold, "an admin hold needs the operator's name")
    if not (math.isfinite(duration_s) and duration_s > 0):
        return refuse(hold, f"an admin hold needs a positive duration, not {duration_s} s")
    current = active(hold, now)
    if current is not None and current.operator != operator:
        return refuse(current, f"admin {current.describe()}; ask {current.operator} to release it")
    granted = min(duration_s, cap_s)
    notes: list[str] = []
    if granted < duration_s:
        notes.append(f"asked for {duration_s:g} s; capped at {granted:g} s (hold_cap_s)")
    until = now + seconds(granted)
    if current is None:
        new = Hold(operator, now, until, granted, duration_s)
        notes.insert(0, f"admin {new.describe()}")
    else:
        # Renewal by the holder: the new duration applies from now on, but never cuts the
        # time already granted short (defect 34).
        new = replace(
            current, until=max(current.until, until), duration_s=granted, requested_s=duration_s
        )
        notes.insert(0, f"admin {new.describe()} (renewed)")
    return Step(new, None, tuple(notes))


def keep_alive(hold: Hold | None, operator: str, now: datetime) -> Step[Hold | None]:
    """Extend the holder's hold to ``now + duration_s``, never shortening it."""
    check_now(now)
    current = active(hold, now)
    if current is None:
        return refuse(hold, _no_hold(hold, "keep alive"))
    if current.operator != operator.strip():
        return refuse(
            current, f"admin {current.describe()}; only {current.operator} may keep it alive"
        )
    new = replace(current, until=max(current.until, now + seconds(current.duration_s)))
    return Step(new, None, (f"admin {new.describe()} (kept alive)",))


def release(hold: Hold | None, operator: str, now: datetime) -> Step[Hold | None]:
    """End the holder's hold now."""
    check_now(now)
    current = active(hold, now)
    if current is None:
        return refuse(hold, _no_hold(hold, "release"))
    if current.operator != operator.strip():
        return refuse(
            current, f"admin {current.describe()}; only {current.operator} may release it"
        )
    return Step(None, None, (f"admin hold by {current.operator} released",))


def _no_hold(hold: Hold | None, verb: str) -> str:
    if hold is None:
        return f"there is no admin hold to {verb}"
    return f"there is no admin hold to {verb}: {hold.operator}'s ended at {hhmm(hold.until)}"
