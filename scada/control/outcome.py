"""What every control function returns: the new state, and either nothing wrong or a refusal.

The control core never raises for a request it will not carry out: a refused request is an
ordinary answer (:class:`Refusal`) whose ``reason`` is written for the person who asked and for
the audit log. It raises only for programming errors, such as a naive ``now``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Generic, TypeVar

S = TypeVar("S")


@dataclass(frozen=True, slots=True)
class Refusal:
    """A request that was not carried out, and why (one sentence, names who or what blocked it)."""

    reason: str

    def __str__(self) -> str:
        return self.reason


@dataclass(frozen=True, slots=True)
class Step(Generic[S]):
    """The result of one request or tick: ``state`` after it, ``refusal`` if it was refused.

    A refused step carries the *unchanged* state. ``notes`` are short sentences about what
    happened (a cap applied, a mode change, a hold that ended) for the log and the console.
    """

    state: S
    refusal: Refusal | None = None
    notes: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        """True when the request was carried out."""
        return self.refusal is None


def refuse(state: S, reason: str) -> Step[S]:
    """A refused step: ``state`` unchanged, ``reason`` for whoever asked."""
    return Step(state, Refusal(reason))


def check_now(now: datetime) -> datetime:
    """Return ``now`` if it is timezone-aware; a naive time is a programming error."""
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError(f"control functions take aware UTC times, got naive {now.isoformat()}")
    return now


def seconds(s: float) -> timedelta:
    """A duration of ``s`` seconds."""
    return timedelta(seconds=s)


def hhmm(t: datetime) -> str:
    """``t`` as ``14:05 UTC`` for reasons shown to people (minutes are precise enough there)."""
    return f"{t.astimezone(UTC):%H:%M} UTC"


def hhmmss(t: datetime) -> str:
    """``t`` as ``14:05:03 UTC``, for reasons where seconds matter (command expiry)."""
    return f"{t.astimezone(UTC):%H:%M:%S} UTC"
