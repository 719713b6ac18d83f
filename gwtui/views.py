"""One channel and one actuator as the console knows them: pure data with their own rules
(which reading is newer, when a quiet channel is stale, what a command's outcome reads as)."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Final

from gwtui.format import BOSS_LABELS, format_age, relay_label
from gwtui.grouping import GroupKey
from scada.protocol import (
    ActuatorCommand,
    ActuatorSnapshot,
    ChannelHealth,
    CommandOutcome,
    CommandResult,
    CommandSource,
    RelayState,
)

HISTORY_POINTS: Final = 600
"""Readings kept per channel for its sparkline and detail plot (50 min at one per 5 s)."""

MIN_STALE_S: Final = 30.0
"""The console calls a channel stale on its own only after at least this long without news,
and after three of its usual reading intervals (the SCADA's own verdict comes first)."""

ACCEPTED: Final = CommandOutcome.ACCEPTED


@dataclass(slots=True)
class ChannelView:
    """One channel as the console knows it."""

    channel: str
    node: str
    quantity: str
    unit: str
    key: GroupKey
    device: str | None = None
    """The device that reads the channel (None from a SCADA that does not say)."""
    value: float | None = None
    read_at: datetime | None = None
    health: ChannelHealth = ChannelHealth.NEVER_READ
    reason: str | None = None
    history: deque[tuple[datetime, float]] = field(
        default_factory=lambda: deque(maxlen=HISTORY_POINTS)
    )
    changes: int = 0
    """Bumped whenever the value changes, so the table knows to flash the cell."""
    interval_s: float | None = None
    """The usual time between readings, learnt from the stream (for the console's own
    staleness check)."""

    def record(self, value: float, read_at: datetime) -> bool:
        """Take a reading; True when it moved the value shown (older duplicates are ignored)."""
        if self.read_at is not None and read_at <= self.read_at:
            return False
        if self.read_at is not None:
            gap = (read_at - self.read_at).total_seconds()
            self.interval_s = gap if self.interval_s is None else 0.8 * self.interval_s + 0.2 * gap
        moved = self.value != value
        if moved and self.value is not None:
            self.changes += 1
        self.value, self.read_at = value, read_at
        self.history.append((read_at, value))
        return True

    def age_s(self, now: datetime) -> float | None:
        return None if self.read_at is None else max(0.0, (now - self.read_at).total_seconds())

    def verdict(self, now: datetime) -> tuple[ChannelHealth, str | None]:
        """Health as shown: the SCADA's, or stale if the stream went quiet for too long."""
        if self.health is not ChannelHealth.OK:
            return self.health, self.reason
        age = self.age_s(now)
        limit = max(MIN_STALE_S, 3 * (self.interval_s or 0.0))
        if age is not None and age > limit:
            return ChannelHealth.STALE, f"no reading for {format_age(age)} (console)"
        return ChannelHealth.OK, None


class CommandPhase(StrEnum):
    """What the console knows of an actuator's last command."""

    NONE = "none"
    PENDING = "pending"
    CONFIRMED = "confirmed"
    REFUSED = "refused"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class ConsoleRefusal:
    """A request this console made that the SCADA turned down before it became a command."""

    at: datetime
    state: RelayState
    reason: str


@dataclass(slots=True)
class ActuatorView:
    node: str
    display_name: str
    boss: CommandSource
    state: RelayState | None = None
    commanded: RelayState | None = None
    last_command: ActuatorCommand | None = None
    last_result: CommandResult | None = None
    refusal: ConsoleRefusal | None = None

    def take(self, snap: ActuatorSnapshot) -> None:
        self.display_name = snap.display_name
        self.boss = snap.boss
        self.state = snap.state
        self.commanded = snap.commanded
        if snap.last_command is not None:
            self.command(snap.last_command)
        if snap.last_result is not None:
            self.result(snap.last_result)

    def command(self, cmd: ActuatorCommand) -> None:
        if self.last_command is None or cmd.issued_at >= self.last_command.issued_at:
            if self.last_command is None or self.last_command.id != cmd.id:
                self.last_result = None
            self.last_command = cmd
            self.refusal = None

    def result(self, res: CommandResult) -> None:
        cmd = self.last_command
        if cmd is not None and res.command_id != cmd.id:
            return  # the answer to an older command: the newer one is what matters
        final = self.last_result is not None and self.last_result.outcome is not ACCEPTED
        if final and res.outcome is ACCEPTED:
            return  # never step back from a final outcome to "accepted"
        self.last_result = res

    @property
    def phase(self) -> CommandPhase:
        if self.refusal is not None:
            return CommandPhase.REFUSED
        if self.last_command is None:
            return CommandPhase.NONE
        res = self.last_result
        if res is None or res.outcome is CommandOutcome.ACCEPTED:
            return CommandPhase.PENDING
        return CommandPhase(res.outcome.value)

    def describe_last(self) -> str:
        """``confirmed · ON by Jane`` and the like: the outcome first, so a narrow column
        still shows it."""
        if self.refusal is not None:
            reason = self.refusal.reason
            return f"refused: {reason} · {relay_label(self.refusal.state)} by you"
        cmd = self.last_command
        if cmd is None:
            return "-"
        who = cmd.operator or BOSS_LABELS.get(cmd.source, cmd.source.value)
        phase = self.phase
        res = self.last_result
        if phase is CommandPhase.PENDING:
            text = "pending read-back" if res is not None else "pending"
        else:
            text = phase.value
        if res is not None and res.interlock:
            text += f" (interlock {res.interlock})"
        if res is not None and res.reason and phase is not CommandPhase.CONFIRMED:
            text += f": {res.reason}"
        return f"{text} · {relay_label(cmd.state)} by {who}"
