"""The periods of the simulated ATN, and the one way its parts measure time between instants."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class AtnTiming:
    """The periods of a :class:`SimulatedAtn`, in seconds (see its arguments)."""

    contract_s: int = 3600
    heartbeat_s: float = 30.0
    command_period_s: float = 600.0
    command_ttl_s: float = 1200.0
    snapshot_period_s: float = 600.0
    reply_timeout_s: float = 10.0
    reading_max_age_s: float = 900.0

    def __post_init__(self) -> None:
        periods = (self.contract_s, self.heartbeat_s, self.command_period_s)
        if min(*periods, self.snapshot_period_s, self.reply_timeout_s) <= 0:
            raise ValueError("every period of the simulated ATN must be positive")
        if self.command_ttl_s <= self.command_period_s:
            raise ValueError("command_ttl_s must exceed command_period_s, or orders would lapse")


def seconds_between(earlier: datetime, later: datetime) -> float:
    """Seconds from ``earlier`` to ``later``; negative when ``later`` comes first."""
    return (later - earlier).total_seconds()
