"""The live state of one house and the events it produces.

:class:`HouseState` is the sink every sensor and relay actor reports to. It keeps the channel
book, device health and observed coil states, and turns each change into a wire message on
the event hub (for consoles and the uplink), into the recent-events ring and into the log.
Single-threaded: only the event loop touches it.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable
from datetime import datetime

from scada.actors.channels import ChannelBook, HealthChange
from scada.actors.health import DeviceHealthBook, DeviceTransition
from scada.clock import Clock
from scada.hub import EventHub
from scada.layout import Layout
from scada.protocol.api_frames import EventFrame
from scada.protocol.base import WireMessage, new_id
from scada.protocol.enums import (
    ChannelHealth,
    DeviceHealthState,
    EventKind,
    ProblemKind,
    Severity,
)
from scada.protocol.events import AuditEntry, ProblemEvent
from scada.protocol.readings import PowerReading, Reading
from scada.protocol.snapshot import ChannelSnapshot, DeviceHealth

log = logging.getLogger("scada.house")

RECENT_EVENTS = 1000
AUDIT_ENTRIES = 1000

_PROBLEM_OF = {
    ChannelHealth.STALE: (ProblemKind.SENSOR_STALE, Severity.WARNING),
    ChannelHealth.OUT_OF_RANGE: (ProblemKind.SENSOR_OUT_OF_RANGE, Severity.WARNING),
    ChannelHealth.DEVICE_FAILING: (ProblemKind.SENSOR_STALE, Severity.WARNING),
    ChannelHealth.OK: (ProblemKind.SENSOR_RECOVERED, Severity.INFO),
}


class HouseState:
    """Readings, health and coil states of a house, and the events they make."""

    def __init__(self, layout: Layout, clock: Clock, hub: EventHub, boot_id: str) -> None:
        self.layout = layout
        self.clock = clock
        self.hub = hub
        self.boot_id = boot_id
        self.book = ChannelBook(layout)
        self.devices = DeviceHealthBook([d.name for d in layout.devices])
        self.coils: dict[tuple[str, int], bool] = {}
        self.recent: deque[EventFrame] = deque(maxlen=RECENT_EVENTS)
        self.audit: deque[AuditEntry] = deque(maxlen=AUDIT_ENTRIES)
        # Channels that went bad only because their whole device failed: the device's problem
        # reports them (once, not once per channel), and its recovery reports them back.
        self._muted: set[str] = set()
        # Per channel, worked out once (a house reads tens of channels a second): node alias, unit
        # and, for power channels, the change that triggers a power report.
        self._meta = {c.name: (c.node, c.unit.value) for c in layout.channels}
        self._power_threshold_w = {
            c.name: layout.control.power_report_share * _nameplate(layout, c.node)
            for c in layout.channels
            if c.quantity.value == "power"
        }
        self._power_sent: dict[str, float] = {}
        self._power_seq = 0
        self.on_power: Callable[[PowerReading], None] | None = None
        self.on_problem: Callable[[ProblemEvent], None] | None = None
        self.on_coil: Callable[[str, int, bool], None] | None = None
        #: Called after a device's health changes.
        self.on_device: Callable[[], None] | None = None

    # ------------------------------------------------------------ sink: sensors
    def reading(self, channel: str, value: float) -> None:
        now = self.clock.now()
        change = self.book.record(channel, value, now)
        if change is not None:
            self._health_changed(change)
        if self.book.states[channel].health is not ChannelHealth.OK:
            return
        if self.hub.wants(EventKind.READING):
            node, unit = self._meta[channel]
            self.publish(
                EventKind.READING,
                Reading(channel=channel, node=node, value=value, unit=unit, read_at=now),
                remember=False,
                at=now,
            )
        if channel in self._power_threshold_w:
            self._maybe_power(channel, value, now)

    def channel_fault(self, channel: str, reason: str) -> None:
        now = self.clock.now()
        change = self.book.fault(channel, reason, now)
        if change is None and channel in self._muted:
            # Its device answers again but this channel does not: a fault of its own now.
            change = HealthChange(
                channel, ChannelHealth.DEVICE_FAILING, ChannelHealth.DEVICE_FAILING, reason, now
            )
        if change is not None:
            self._health_changed(change)

    def device_ok(self, device: str) -> None:
        st = self.devices.devices.get(device)
        if st is not None and st.state is DeviceHealthState.OK:
            return  # the common case, every poll: nothing to record
        t = self.devices.ok(device, self.clock.now())
        if t is not None:
            self._device_changed(t)

    def device_failed(self, device: str, reason: str) -> None:
        now = self.clock.now()
        t = self.devices.failed(device, reason, now)
        if t is not None:
            self._device_changed(t)
            for change in self.book.device_failing(device, reason, now):
                if change.old in (ChannelHealth.OK, ChannelHealth.NEVER_READ):
                    self._muted.add(change.channel)  # the device problem above says it
                else:
                    self._health_changed(change)

    # ------------------------------------------------------------- sink: relays
    def coil_observed(self, board: str, channel: int, energized: bool) -> None:
        before = self.coils.get((board, channel))
        self.coils[(board, channel)] = energized
        if before != energized and self.on_coil is not None:
            self.on_coil(board, channel, energized)

    # ------------------------------------------------------------------ sweeps
    def sweep(self) -> None:
        for change in self.book.sweep(self.clock.now()):
            self._health_changed(change)

    # ------------------------------------------------------------------ events
    def publish(
        self,
        kind: EventKind,
        payload: WireMessage,
        *,
        remember: bool = True,
        at: datetime | None = None,
    ) -> None:
        """Push ``payload`` to subscribers; ``remember`` keeps it in the recent-events ring."""
        now = self.clock.now() if at is None else at
        self.hub.publish(kind, payload, now)
        if remember:
            self.recent.append(EventFrame(event=kind, payload=payload, at=now))

    def problem(
        self,
        kind: ProblemKind,
        subject: str,
        summary: str,
        severity: Severity,
        details: str | None = None,
    ) -> None:
        ev = ProblemEvent(
            id=new_id(),
            at=self.clock.now(),
            kind=kind,
            subject=subject,
            summary=summary,
            details=details,
            severity=severity,
        )
        self.publish(EventKind.PROBLEM, ev)
        if self.on_problem is not None:
            self.on_problem(ev)

    def record_audit(
        self, who: str, action: str, target: str | None, outcome: str, reason: str | None = None
    ) -> AuditEntry:
        entry = AuditEntry(
            id=new_id(),
            at=self.clock.now(),
            who=who,
            action=action,
            target=target,
            outcome=outcome,
            reason=reason,
        )
        self.audit.append(entry)
        self.publish(EventKind.AUDIT, entry)
        log.info(
            "audit: %s %s %s -> %s%s",
            who,
            action,
            target or "",
            outcome,
            f" ({reason})" if reason else "",
        )
        return entry

    # ---------------------------------------------------------------- snapshots
    def channel_snapshots(self, now: datetime) -> tuple[ChannelSnapshot, ...]:
        out = []
        for name, st in self.book.states.items():
            has = st.value is not None and st.read_at is not None
            out.append(
                ChannelSnapshot(
                    channel=name,
                    node=st.spec.node,
                    quantity=st.spec.quantity.value,
                    unit=st.spec.unit.value,
                    device=st.spec.device,
                    value=st.value if has else None,
                    read_at=st.read_at if has else None,
                    age_s=max(0.0, (now - st.read_at).total_seconds())
                    if has and st.read_at
                    else None,
                    health=st.health
                    if has or st.health is not ChannelHealth.OK
                    else ChannelHealth.NEVER_READ,
                    reason=st.reason,
                )
            )
        return tuple(out)

    def device_snapshots(self) -> tuple[DeviceHealth, ...]:
        return tuple(
            _device_health(s.device, s.state, s.failing_since, s.last_error)
            for s in self.devices.devices.values()
        )

    # ----------------------------------------------------------------- private
    def _health_changed(self, c: HealthChange) -> None:
        muted = c.channel in self._muted
        self._muted.discard(c.channel)
        if c.new is ChannelHealth.OK and (c.old is ChannelHealth.NEVER_READ or muted):
            return  # a first reading, or back with its device (whose recovery says so)
        kind, severity = _PROBLEM_OF.get(c.new, (ProblemKind.SENSOR_STALE, Severity.WARNING))
        what = "not read" if c.new is ChannelHealth.DEVICE_FAILING else c.new.value
        summary = f"{c.channel} {what.replace('_', ' ')}" + (f": {c.reason}" if c.reason else "")
        if c.new is ChannelHealth.OK:
            summary = f"{c.channel} reading again after {c.old.value.replace('_', ' ')}"
        log.log(
            logging.INFO if c.new is ChannelHealth.OK else logging.WARNING, "channel %s", summary
        )
        self.problem(kind, c.channel, summary, severity)

    def _device_changed(self, t: DeviceTransition) -> None:
        if self.on_device is not None:
            self.on_device()
        st = self.devices.devices[t.device]
        self.publish(
            EventKind.DEVICE, _device_health(t.device, t.state, st.failing_since, st.last_error)
        )
        if t.state is DeviceHealthState.FAILING:
            self.problem(
                ProblemKind.DEVICE_FAILING,
                t.device,
                f"{t.device} failing: {t.error}",
                Severity.ERROR,
            )
        else:
            self.problem(
                ProblemKind.DEVICE_RECOVERED, t.device, f"{t.device} answering again", Severity.INFO
            )

    def _maybe_power(self, channel: str, value: float, now: datetime) -> None:
        last = self._power_sent.get(channel)
        if last is not None and abs(value - last) <= self._power_threshold_w[channel]:
            return
        self._power_sent[channel] = value
        self._power_seq += 1
        msg = PowerReading(
            channel=channel,
            node=self._meta[channel][0],
            power_w=value,
            read_at=now,
            seq=self._power_seq,
            boot_id=self.boot_id,
        )
        self.publish(EventKind.READING, msg, remember=False, at=now)
        if self.on_power is not None:
            self.on_power(msg)


def _nameplate(layout: Layout, node: str) -> float:
    return layout.node(node).nameplate_power_w or _house_nameplate(layout)


def _house_nameplate(layout: Layout) -> float:
    # With no nameplate anywhere, fall back to the house's total nameplate, and to 1 kW, so the
    # share never divides by zero (defect 23 of the original).
    total = sum(n.nameplate_power_w or 0.0 for n in layout.nodes)
    return total or 1000.0


def _device_health(
    device: str, state: DeviceHealthState, since: datetime | None, err: str | None
) -> DeviceHealth:
    failing = state is DeviceHealthState.FAILING
    return DeviceHealth(
        device=device, state=state, failing_since=since if failing else None, last_error=err
    )
