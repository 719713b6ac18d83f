"""The console's view-model: everything the screens show, built from snapshots and events.

Pure (no Textual, no asyncio): :meth:`ConsoleState.apply_snapshot` and :meth:`ConsoleState.apply`
take wire objects and return a :class:`Changes` saying which parts of the screen are now out of
date, so the widgets redraw only what moved. Every collection here is bounded, so a console left
open for weeks holds the same memory as one opened a minute ago.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import Flag, StrEnum, auto
from typing import Final, assert_never

from gwtui import log_text
from gwtui.format import MODE_LABELS
from gwtui.grouping import group_key
from gwtui.views import HISTORY_POINTS, ActuatorView, ChannelView, CommandPhase, ConsoleRefusal

__all__ = [
    "HISTORY_POINTS",
    "ActuatorView",
    "Changed",
    "Changes",
    "ChannelView",
    "CommandPhase",
    "ConsoleState",
    "LinkPhase",
    "LogEntry",
]
from scada.api.client import UnknownEvent
from scada.protocol import (
    ActuatorCommand,
    ActuatorSnapshot,
    AuditEntry,
    ChannelHealth,
    ChannelSnapshot,
    CommandOutcome,
    CommandResult,
    ContractHeartbeat,
    DeviceHealth,
    DeviceHealthState,
    DispatchContract,
    EventFrame,
    EventKind,
    HoldEnded,
    HoldState,
    LinkStatus,
    LogLine,
    Mode,
    ModeChanged,
    PowerReading,
    ProblemEvent,
    Reading,
    RelayState,
    Snapshot,
    StoreStats,
)

LOG_ENTRIES: Final = 1000
"""Event log entries kept; older ones fall off."""


class LinkPhase(StrEnum):
    """Where the console's connection to the SCADA stands."""

    CONNECTING = "connecting"
    LIVE = "live"
    DISCONNECTED = "disconnected"


class Changed(Flag):
    """Which parts of the screen an update made stale."""

    NONE = 0
    HEADER = auto()
    CHANNEL_LAYOUT = auto()
    CHANNEL_VALUES = auto()
    ACTUATORS = auto()
    DEVICES = auto()
    LOG = auto()
    CONNECTION = auto()


@dataclass(slots=True)
class Changes:
    """The outcome of one update: flags plus the channels whose values moved."""

    flags: Changed = Changed.NONE
    channels: set[str] = field(default_factory=set)

    def merge(self, other: Changes) -> None:
        self.flags |= other.flags
        self.channels |= other.channels

    def __bool__(self) -> bool:
        return bool(self.flags) or bool(self.channels)


@dataclass(frozen=True, slots=True)
class LogEntry:
    """One line of the event log."""

    at: datetime
    kind: str
    level: str
    text: str

    def matches(self, needle: str) -> bool:
        needle = needle.lower()
        return needle in self.text.lower() or needle in self.kind or needle in self.level


@dataclass(slots=True)
class ConnectionView:
    phase: LinkPhase = LinkPhase.CONNECTING
    detail: str = ""
    retry_at: float | None = None
    """Monotonic time of the next attempt while disconnected."""


class ConsoleState:
    """Everything the console shows. Feed it; read it; it never blocks or grows unbounded."""

    def __init__(self) -> None:
        self.connection = ConnectionView()
        self.house_alias: str | None = None
        self.house_name: str | None = None
        self.simulated: bool | None = None
        self.server_version: str | None = None
        self.mode: Mode | None = None
        self.contract: DispatchContract | None = None
        self.last_heartbeat_at: datetime | None = None
        self.hold: HoldState | None = None
        self.link: LinkStatus | None = None
        self.store: StoreStats | None = None
        self.channels: dict[str, ChannelView] = {}
        self.actuators: dict[str, ActuatorView] = {}
        self.devices: dict[str, DeviceHealth] = {}
        self.log: deque[LogEntry] = deque(maxlen=LOG_ENTRIES)
        self.log_serial = 0
        """Count of entries ever logged (a widget compares it to what it has drawn)."""
        self.events_seen = 0
        self.unknown_events = 0
        self._server_at: datetime | None = None
        self._local_at: datetime | None = None

    # ------------------------------------------------------------------ time

    def server_now(self, local_now: datetime) -> datetime:
        """The SCADA's "now", which runs ahead of ours in an accelerated simulation: the time
        of its latest frame plus what our clock says passed since it arrived."""
        if self._server_at is None or self._local_at is None:
            return local_now
        return self._server_at + max(timedelta(0), local_now - self._local_at)

    def _saw_server_time(self, at: datetime, local_now: datetime) -> None:
        if self._server_at is None or at >= self._server_at:
            self._server_at, self._local_at = at, local_now

    @property
    def live(self) -> bool:
        return self.connection.phase is LinkPhase.LIVE

    def holder_is(self, operator: str | None) -> bool:
        return self.hold is not None and operator is not None and self.hold.operator == operator

    # ------------------------------------------------------------------ connection

    def connecting(self, detail: str) -> Changes:
        self.connection = ConnectionView(LinkPhase.CONNECTING, detail)
        return Changes(Changed.CONNECTION | Changed.HEADER)

    def connected(
        self, alias: str, *, simulated: bool, server_version: str, at: datetime
    ) -> Changes:
        changes = Changes(Changed.CONNECTION | Changed.HEADER | Changed.LOG)
        if self.house_alias != alias:
            self.house_name = None
        self.house_alias, self.simulated, self.server_version = alias, simulated, server_version
        self.connection = ConnectionView(LinkPhase.LIVE, "")
        kind = "simulated" if simulated else "REAL"
        self.note(at, "console", "info", f"connected to {alias} ({kind}, SCADA {server_version})")
        return changes

    def disconnected(self, detail: str, retry_at: float | None, at: datetime) -> Changes:
        was_live = self.live
        self.connection = ConnectionView(LinkPhase.DISCONNECTED, detail, retry_at)
        changes = Changes(Changed.CONNECTION | Changed.HEADER)
        if was_live:
            # Every value on screen is now history: redraw them all greyed.
            changes.flags |= Changed.CHANNEL_VALUES | Changed.ACTUATORS | Changed.LOG
            self.note(at, "console", "error", f"lost the SCADA: {detail}")
        return changes

    # ------------------------------------------------------------------ log

    def note(self, at: datetime, kind: str, level: str, text: str) -> None:
        self.log.append(LogEntry(at, kind, level, text))
        self.log_serial += 1

    # ------------------------------------------------------------------ snapshot

    def apply_snapshot(self, snap: Snapshot, local_now: datetime) -> Changes:
        changes = Changes(Changed.HEADER | Changed.ACTUATORS | Changed.DEVICES)
        self._saw_server_time(snap.taken_at, local_now)
        if self.house_alias != snap.house_alias:
            self.house_name = None
        self.house_alias, self.simulated = snap.house_alias, snap.simulated
        self.mode, self.contract, self.hold = snap.mode, snap.contract, snap.hold
        self.link, self.store = snap.link, snap.store
        self.devices = {d.device: d for d in snap.devices}
        if [c.channel for c in snap.channels] != list(self.channels):
            self.channels = {}
            changes.flags |= Changed.CHANNEL_LAYOUT
        for pos, ch in enumerate(snap.channels):
            view = self.channels.get(ch.channel)
            if view is None:
                view = ChannelView(
                    ch.channel,
                    ch.node,
                    ch.quantity,
                    ch.unit,
                    group_key(ch.node, ch.quantity, pos),
                )
                self.channels[ch.channel] = view
            self._take_channel(view, ch)
            changes.channels.add(ch.channel)
        changes.flags |= Changed.CHANNEL_VALUES
        if [a.node for a in snap.actuators] != list(self.actuators):
            self.actuators = {}
        for act in snap.actuators:
            view_a = self.actuators.get(act.node)
            if view_a is None:
                view_a = ActuatorView(act.node, act.display_name, act.boss)
                self.actuators[act.node] = view_a
            view_a.take(act)
        return changes

    @staticmethod
    def _take_channel(view: ChannelView, ch: ChannelSnapshot) -> None:
        view.device = ch.device
        view.health, view.reason = ch.health, ch.reason
        if ch.value is not None and ch.read_at is not None:
            view.record(ch.value, ch.read_at)

    # ------------------------------------------------------------------ events

    def apply(self, item: EventFrame | UnknownEvent, local_now: datetime) -> Changes:
        """Fold one pushed event in."""
        self.events_seen += 1
        if isinstance(item, UnknownEvent):
            return self._unknown(item, local_now)
        self._saw_server_time(item.at, local_now)
        p = item.payload
        if isinstance(p, Reading):
            return self._reading(p.channel, p.value, p.read_at)
        if isinstance(p, PowerReading):
            return self._reading(p.channel, p.power_w, p.read_at)
        if isinstance(p, Snapshot):
            return self.apply_snapshot(p, local_now)
        if isinstance(p, ActuatorSnapshot | ActuatorCommand | CommandResult):
            return self._actuator(p)
        if isinstance(p, DeviceHealth):
            return self._device(p, item.at)
        if isinstance(p, ModeChanged):
            self.mode = p.mode
            self.note(p.at, "mode", "warning", log_text.mode_text(p))
            return Changes(Changed.HEADER | Changed.LOG)
        if isinstance(p, DispatchContract | ContractHeartbeat):
            return self._contract(p, item.at)
        if isinstance(p, LinkStatus):
            return self._link(p, item.at)
        if isinstance(p, StoreStats):
            self.store = p
            return Changes(Changed.HEADER)
        if isinstance(p, ProblemEvent):
            return self._problem(p)
        if isinstance(p, AuditEntry):
            self.note(p.at, "audit", log_text.audit_level(p), log_text.audit_text(p))
            return Changes(Changed.LOG)
        if isinstance(p, LogLine):
            self.note(p.at, "log", p.level.value, f"{p.logger}: {p.message.splitlines()[0]}")
            return Changes(Changed.LOG)
        if isinstance(p, HoldState):
            return self._hold(p)
        if isinstance(p, HoldEnded):
            self.hold = None
            self.mode = p.resumed_mode
            self.note(
                p.ended_at,
                "hold",
                "warning",
                f"admin hold of {p.operator} {p.reason.value}; "
                f"{MODE_LABELS.get(p.resumed_mode, p.resumed_mode)} resumes",
            )
            return Changes(Changed.HEADER | Changed.LOG | Changed.ACTUATORS)
        # Every payload the protocol can carry is handled above; mypy proves it here. A newer
        # SCADA's events arrive as UnknownEvent instead and are logged as such.
        assert_never(p)

    def _unknown(self, item: UnknownEvent, local_now: datetime) -> Changes:
        self.unknown_events += 1
        raw = item.raw
        if isinstance(raw, dict):
            label = f"{raw.get('event', '?')} / {log_text.payload_type(raw)}"
        else:
            label = raw[:60] or "(empty frame)"
        self.note(local_now, "unknown", "warning", f"unknown event {label}: {item.error[:200]}")
        return Changes(Changed.LOG)

    def _reading(self, channel: str, value: float, read_at: datetime) -> Changes:
        view = self.channels.get(channel)
        if view is None:
            return Changes()
        if not view.record(value, read_at):
            return Changes()
        # The SCADA publishes readings only for healthy channels, so a reading is news of health.
        view.health, view.reason = ChannelHealth.OK, None
        return Changes(Changed.CHANNEL_VALUES, {channel})

    def _actuator(self, p: ActuatorSnapshot | ActuatorCommand | CommandResult) -> Changes:
        node = p.node if isinstance(p, ActuatorSnapshot) else p.target
        view = self.actuators.get(node)
        if view is None:
            if not isinstance(p, ActuatorSnapshot):
                return Changes()
            view = ActuatorView(p.node, p.display_name, p.boss)
            self.actuators[p.node] = view
        changes = Changes(Changed.ACTUATORS)
        if isinstance(p, ActuatorSnapshot):
            view.take(p)
        elif isinstance(p, ActuatorCommand):
            view.command(p)
            self.note(p.issued_at, "command", "info", log_text.command_text(p, view.display_name))
            changes.flags |= Changed.LOG
        else:
            view.result(p)
            if p.outcome is not CommandOutcome.ACCEPTED or p.interlock:
                self.note(
                    p.at,
                    "result",
                    log_text.result_level(p),
                    log_text.result_text(p, view.display_name),
                )
                changes.flags |= Changed.LOG
        return changes

    def _device(self, p: DeviceHealth, at: datetime) -> Changes:
        before = self.devices.get(p.device)
        self.devices[p.device] = p
        changes = Changes(Changed.DEVICES | Changed.CHANNEL_VALUES)
        if before is None or before.state is not p.state:
            if p.state is DeviceHealthState.FAILING:
                why = p.last_error or "no detail"
                self.note(at, "device", "error", f"device {p.device} failing: {why}")
            else:
                self.note(at, "device", "info", f"device {p.device} ok")
            changes.flags |= Changed.LOG
        return changes

    def _contract(self, p: DispatchContract | ContractHeartbeat, at: datetime) -> Changes:
        contract = p.contract if isinstance(p, ContractHeartbeat) else p
        if isinstance(p, ContractHeartbeat):
            self.last_heartbeat_at = p.sent_at
        before = self.contract
        self.contract = contract
        changes = Changes(Changed.HEADER)
        if (
            before is None
            or before.contract_id != contract.contract_id
            or (before.status is not contract.status)
        ):
            self.note(at, "contract", "info", log_text.contract_text(contract))
            changes.flags |= Changed.LOG
        return changes

    def _link(self, p: LinkStatus, at: datetime) -> Changes:
        before = self.link
        self.link = p
        changes = Changes(Changed.HEADER)
        if before is None or (before.broker, before.atn) != (p.broker, p.atn):
            level = "info" if p.broker.value in ("up", "not_configured") else "warning"
            detail = f" ({p.detail})" if p.detail else ""
            self.note(at, "link", level, f"uplink {p.broker.value}, ATN {p.atn.value}{detail}")
            changes.flags |= Changed.LOG
        return changes

    def _problem(self, p: ProblemEvent) -> Changes:
        self.note(p.at, "problem", p.severity.value, p.summary)
        changes = Changes(Changed.LOG)
        view = self.channels.get(p.subject)
        if view is not None:
            kind = p.kind.value
            if kind == "sensor_stale":
                view.health, view.reason = ChannelHealth.STALE, p.summary
            elif kind == "sensor_out_of_range":
                view.health, view.reason = ChannelHealth.OUT_OF_RANGE, p.summary
            elif kind == "sensor_recovered" and view.value is not None:
                view.health, view.reason = ChannelHealth.OK, None
            changes.flags |= Changed.CHANNEL_VALUES
            changes.channels.add(p.subject)
        return changes

    def _hold(self, p: HoldState) -> Changes:
        before = self.hold
        self.hold = p
        changes = Changes(Changed.HEADER | Changed.ACTUATORS)
        if before is None or before.operator != p.operator or before.started_at != p.started_at:
            until = p.expires_at.strftime("%H:%M:%S")
            self.note(p.started_at, "hold", "warning", f"admin hold by {p.operator} until {until}")
            changes.flags |= Changed.LOG
        return changes

    def backfill(self, frames: Iterable[EventFrame], local_now: datetime) -> int:
        """Put the SCADA's recent events into the log (oldest first, no duplicates) without
        letting old news overwrite the live state; returns how many entries were added."""
        scratch = ConsoleState()
        scratch.actuators = {
            n: ActuatorView(n, a.display_name, a.boss) for n, a in self.actuators.items()
        }
        for frame in frames:
            if frame.event not in (EventKind.READING, EventKind.SNAPSHOT):
                scratch.apply(frame, local_now)
        seen = {(e.at, e.text) for e in self.log}
        new = [e for e in scratch.log if (e.at, e.text) not in seen]
        if not new:
            return 0
        merged = sorted([*new, *self.log], key=lambda e: e.at)
        self.log.clear()
        self.log.extend(merged[-LOG_ENTRIES:])
        self.log_serial += len(new)
        return len(new)

    # ------------------------------------------------------------------ console actions

    def refused(self, node: str, state: RelayState, reason: str, at: datetime) -> Changes:
        """This console's relay request was refused before it became a command."""
        view = self.actuators.get(node)
        if view is not None:
            view.refusal = ConsoleRefusal(at, state, reason)
        return Changes(Changed.ACTUATORS)

    def failing_devices(self) -> list[DeviceHealth]:
        """Devices failing now."""
        return [d for d in self.devices.values() if d.state is DeviceHealthState.FAILING]
