"""The console's notion of "now", injected so tests and snapshots never read the wall clock."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    """Where the console gets the time from."""

    def now(self) -> datetime:
        """An aware UTC instant."""
        ...

    def monotonic(self) -> float:
        """Seconds on a clock that never jumps (for latency and back-off)."""
        ...


class SystemClock:
    """The real clock (production)."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return time.monotonic()


@dataclass
class FrozenClock:
    """A clock that only moves when a test moves it, so every age on screen is deterministic."""

    current: datetime
    mono: float = 1000.0

    def now(self) -> datetime:
        return self.current

    def monotonic(self) -> float:
        return self.mono

    def advance(self, seconds: float) -> None:
        self.current += timedelta(seconds=seconds)
        self.mono += seconds
