"""The channel book: the latest value, health and status window of every channel.

Single-threaded state owned by the runtime (all access is from the event loop). Health follows
DESIGN's data rules: a value outside the plausible range, or a channel silent for more than
:data:`STALE_AFTER_PERIODS` sample periods, is not a real value and is never offered as one.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from scada.layout import Channel, Layout
from scada.protocol import ChannelHealth

STALE_AFTER_PERIODS = 2.1
"""Missed sample periods after which a channel is stale (the 2025 system used 2.1 too)."""

_NEVER = datetime.max.replace(tzinfo=UTC)

MAX_WINDOW = 20_000
"""Readings kept per channel for one status window, whatever the sample period."""


@dataclass(frozen=True, slots=True)
class HealthChange:
    """A channel moved from one health to another; ``reason`` is for people."""

    channel: str
    old: ChannelHealth
    new: ChannelHealth
    reason: str | None
    at: datetime


@dataclass(slots=True)
class ChannelState:
    spec: Channel
    value: float | None = None
    read_at: datetime | None = None
    last_good_at: datetime | None = None
    health: ChannelHealth = ChannelHealth.NEVER_READ
    reason: str | None = "no reading yet"
    window: deque[tuple[datetime, float]] = field(default_factory=lambda: deque(maxlen=MAX_WINDOW))


class ChannelBook:
    """Latest readings of a house's channels, with health and the current status window."""

    def __init__(self, layout: Layout) -> None:
        self.states: dict[str, ChannelState] = {c.name: ChannelState(c) for c in layout.channels}
        self._limit = {
            name: timedelta(seconds=STALE_AFTER_PERIODS * st.spec.sample_period_s)
            for name, st in self.states.items()
        }
        # No channel can go stale before this instant, so most sweeps need not look at all.
        # Readings only move a channel's deadline later; a channel that becomes ok again
        # brings it forward (see record).
        self._quiet_until = _NEVER
        self._shortest_limit = min(self._limit.values(), default=timedelta(seconds=1))
        self._watched: frozenset[str] = frozenset()
        #: Counts the changes of the value or health of the watched channels (see :meth:`watch`).
        self.version = 0
        #: Called with the channel's name after each of those changes (the book already holds
        #: the new value and health).
        self.on_change: Callable[[str], None] | None = None

    def watch(self, names: Iterable[str]) -> None:
        """Count the changes of ``names`` in :attr:`version`, for a reader that acts on them
        alone (the controller): an unchanged count is unchanged :meth:`fresh_values`."""
        self._watched = frozenset(names)

    def record(self, name: str, value: float, at: datetime) -> HealthChange | None:
        """Take a reading. An implausible value is kept out of the window and marks the channel."""
        st = self.states[name]
        lo, hi = st.spec.plausible_range
        if not lo <= value <= hi:
            return self._set(
                st,
                ChannelHealth.OUT_OF_RANGE,
                f"{value:g} {st.spec.unit} outside [{lo:g}, {hi:g}]",
                at,
            )
        changed = name in self._watched and value != st.value
        st.value = value
        st.read_at = at
        st.last_good_at = at
        st.window.append((at, value))
        change = self._set(st, ChannelHealth.OK, None, at)
        if changed:
            self._changed(name)  # once the book holds the new value (a reader may look)
        if change is not None:
            self._quiet_until = min(self._quiet_until, at + self._limit[name])
        return change

    def fault(self, name: str, reason: str, at: datetime) -> HealthChange | None:
        """The device could not read this channel (a dead probe, a bad CRC)."""
        return self._set(self.states[name], ChannelHealth.DEVICE_FAILING, reason, at)

    def device_failing(self, device: str, reason: str, at: datetime) -> list[HealthChange]:
        """The whole device failed: every channel of it is failing."""
        changes = [
            self._set(st, ChannelHealth.DEVICE_FAILING, reason, at)
            for st in self.states.values()
            if st.spec.device == device
        ]
        return [c for c in changes if c is not None]

    def sweep(self, now: datetime) -> list[HealthChange]:
        """Mark channels stale that have been silent for too long."""
        if now <= self._quiet_until:
            return []
        out: list[HealthChange] = []
        quiet_until = _NEVER
        for name, st in self.states.items():
            if st.health is not ChannelHealth.OK or st.last_good_at is None:
                continue
            deadline = st.last_good_at + self._limit[name]
            if now > deadline:
                silent_s = (now - st.last_good_at).total_seconds()
                change = self._set(st, ChannelHealth.STALE, f"no reading for {silent_s:.0f} s", now)
                if change is not None:
                    out.append(change)
            else:
                quiet_until = min(quiet_until, deadline)
        self._quiet_until = quiet_until
        return out

    def quiet_for_s(self, now: datetime) -> float:
        """Seconds after ``now`` in which no channel can go stale, as the last sweep left it:
        until the earliest deadline of the channels that are ok, and never longer than the
        shortest stale limit (a channel that becomes ok later has a deadline no sooner)."""
        until = min(self._quiet_until, now + self._shortest_limit)
        return max(0.0, (until - now).total_seconds())

    def fresh(self, name: str) -> float | None:
        """The channel's value if it may be acted on, else None."""
        st = self.states.get(name)
        if st is None or st.health is not ChannelHealth.OK:
            return None
        return st.value

    def fresh_values(self, names: Iterable[str]) -> dict[str, float | None]:
        """:meth:`fresh` of each of ``names`` (the controller asks on every pass)."""
        ok = ChannelHealth.OK
        states = self.states
        return {
            name: st.value if (st := states.get(name)) is not None and st.health is ok else None
            for name in names
        }

    def take_window(self, until: datetime) -> dict[str, list[tuple[datetime, float]]]:
        """Remove and return every reading before ``until``, per channel (empty ones omitted)."""
        out: dict[str, list[tuple[datetime, float]]] = {}
        for name, st in self.states.items():
            taken: list[tuple[datetime, float]] = []
            while st.window and st.window[0][0] < until:
                taken.append(st.window.popleft())
            if taken:
                out[name] = taken
        return out

    def _changed(self, name: str) -> None:
        self.version += 1
        if self.on_change is not None:
            self.on_change(name)

    def _set(
        self, st: ChannelState, health: ChannelHealth, reason: str | None, at: datetime
    ) -> HealthChange | None:
        if st.health is health and st.reason == reason:
            return None
        old = st.health
        st.health = health
        st.reason = reason
        if st.spec.name in self._watched:
            self._changed(st.spec.name)
        if health is not old:
            return HealthChange(st.spec.name, old, health, reason, at)
        return None
