"""What the simulated ATN heard and said: a bounded, inspectable log with complete counters."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TypeVar

from scada.protocol.base import WireMessage

M = TypeVar("M", bound=WireMessage)

KEEP = 20_000
"""Entries kept per direction; the oldest go first (counters keep counting)."""


@dataclass(frozen=True, slots=True)
class Entry:
    """``message`` received (or sent) by the ATN at ``at``."""

    at: datetime
    message: WireMessage


@dataclass(slots=True)
class AtnLog:
    """Every message received and sent, in order, and how many of each ``type``.

    ``received`` / ``sent`` keep the last :data:`KEEP` (``keep``) entries each, so a simulated
    month does not hold every status in memory; ``counts`` / ``sent_counts`` count everything,
    and ``listeners`` are called with every entry received, kept or not.
    """

    keep: int = KEEP
    received: list[Entry] = field(default_factory=list)
    sent: list[Entry] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)
    sent_counts: Counter[str] = field(default_factory=Counter)
    listeners: list[Callable[[Entry], None]] = field(default_factory=list)

    def record_in(self, at: datetime, message: WireMessage) -> None:
        self.counts[message.type] += 1
        entry = Entry(at, message)
        _append(self.received, entry, self.keep)
        for listener in self.listeners:
            listener(entry)

    def record_out(self, at: datetime, message: WireMessage) -> None:
        self.sent_counts[message.type] += 1
        _append(self.sent, Entry(at, message), self.keep)

    def of_type(self, kind: type[M], *, sent: bool = False) -> list[M]:
        """The kept messages of class ``kind``, received (or ``sent``), oldest first."""
        entries = self.sent if sent else self.received
        return [e.message for e in entries if isinstance(e.message, kind)]


def _append(entries: list[Entry], entry: Entry, keep: int) -> None:
    entries.append(entry)
    if len(entries) > 2 * keep:  # trim in batches: amortised O(1) per entry
        del entries[:-keep]
