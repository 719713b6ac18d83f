"""The snapshot: the whole live state of a house in one message, and its pieces.

A snapshot is what a console shows and what the ATN gets on request: latest value and age
per channel (with an explicit health, never a magic number), every actuator with its boss,
device health, link liveness and the store's backlog. The pieces that can change on their own
(:class:`ActuatorSnapshot`, :class:`DeviceHealth`, :class:`LinkStatus`, :class:`StoreStats`)
are messages too, so the local API can push them as events.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from scada.protocol.base import (
    Alias,
    ChannelName,
    DeviceName,
    Label,
    Name,
    Text,
    Unit,
    UtcTime,
    WireMessage,
    WirePart,
    check_unique,
)
from scada.protocol.commands import ActuatorCommand, CommandResult
from scada.protocol.control import DispatchContract, HoldState
from scada.protocol.enums import (
    AtnState,
    ChannelHealth,
    CommandSource,
    DeviceHealthState,
    LinkState,
    Mode,
    RelayState,
)

Count = Annotated[int, Field(ge=0)]


class ChannelSnapshot(WirePart):
    """Latest state of one channel.

    ``value`` and ``read_at`` are both present or both absent; ``age_s`` (seconds since
    ``read_at`` when the snapshot was taken) goes with them. ``ok`` needs a value;
    ``never_read`` has none. A stale or out-of-range channel may keep its last value for
    display, flagged by ``health`` and explained by ``reason``. ``device`` names the device
    that reads the channel (its health is in the snapshot's ``devices``); ``None`` from a SCADA
    that predates the field.
    """

    channel: ChannelName
    node: Alias
    quantity: Name
    unit: Unit
    device: DeviceName | None = None
    value: float | None = None
    read_at: UtcTime | None = None
    age_s: Annotated[float, Field(ge=0)] | None = None
    health: ChannelHealth
    reason: Text | None = None

    @model_validator(mode="after")
    def _check(self) -> ChannelSnapshot:
        if (self.value is None) != (self.read_at is None) or (
            (self.read_at is None) != (self.age_s is None)
        ):
            raise ValueError(f"channel {self.channel}: value, read_at and age_s go together")
        if self.health is ChannelHealth.OK and self.value is None:
            raise ValueError(f"channel {self.channel}: health ok needs a value")
        if self.health is ChannelHealth.NEVER_READ and self.value is not None:
            raise ValueError(f"channel {self.channel}: health never_read cannot have a value")
        return self


class ActuatorSnapshot(WireMessage):
    """One actuator: ``state`` as read back from the hardware (``None`` if unknown),
    ``commanded`` as last ordered, its current ``boss`` and its last command and result."""

    type: Literal["actuator"] = "actuator"
    version: Literal[1] = 1
    node: Alias
    display_name: Label
    state: RelayState | None = None
    commanded: RelayState | None = None
    boss: CommandSource
    last_command: ActuatorCommand | None = None
    last_result: CommandResult | None = None


class DeviceHealth(WireMessage):
    """Health of one device; ``failing_since`` is set exactly when it is failing."""

    type: Literal["device.health"] = "device.health"
    version: Literal[1] = 1
    device: DeviceName
    state: DeviceHealthState
    failing_since: UtcTime | None = None
    last_error: Text | None = None

    @model_validator(mode="after")
    def _check(self) -> DeviceHealth:
        if (self.state is DeviceHealthState.FAILING) != (self.failing_since is not None):
            raise ValueError(f"device {self.device}: failing_since is set exactly when failing")
        return self


class LinkStatus(WireMessage):
    """Uplink liveness: the broker connection and the ATN, told apart."""

    type: Literal["link.status"] = "link.status"
    version: Literal[1] = 1
    broker: LinkState
    atn: AtnState
    detail: Text | None = None


class TierSummary(WirePart):
    """One retention tier of the store: ``rows`` awaiting the ATN's ack (``in_flight`` of them
    sent), their data in bytes, and the time they cover (first slot start to last slot end)."""

    name: Label
    rows: Count
    in_flight: Count
    size_bytes: Count
    oldest: UtcTime | None = None
    newest: UtcTime | None = None


class StoreStats(WireMessage):
    """The store-and-forward backlog and retention tiers, in messages / rows and bytes.

    ``pending_uplink`` counts what awaits an ack, ``in_flight`` of it sent; ``quarantined`` is
    what the ATN rejected or could not be decoded (never retried); ``dropped`` what retention
    gave up (too old, or over the cap) since the store was created; ``fill_alarm`` is raised
    near the cap. The fields after ``oldest_pending_at`` are absent (zero, empty) from a SCADA
    that predates them.
    """

    type: Literal["store.stats"] = "store.stats"
    version: Literal[1] = 1
    pending_uplink: Count
    tier1_statuses: Count
    tier2_aggregates: Count
    tier3_aggregates: Count
    size_bytes: Count
    cap_bytes: Count
    oldest_pending_at: UtcTime | None = None
    in_flight: Count = 0
    quarantined: Count = 0
    dropped: Count = 0
    fill_alarm: bool = False
    last_ack_at: UtcTime | None = None
    tiers: tuple[TierSummary, ...] = ()


class Snapshot(WireMessage):
    """The whole live state of house ``house_alias`` at ``taken_at``.

    ``contract`` is the current DispatchContract, ``hold`` the admin hold in force (either
    may be ``None``); ``simulated`` says whether this is a simulated house; ``store`` is
    ``None`` when the SCADA runs without a store.
    """

    type: Literal["snapshot"] = "snapshot"
    version: Literal[1] = 1
    house_alias: Alias
    taken_at: UtcTime
    mode: Mode
    contract: DispatchContract | None = None
    hold: HoldState | None = None
    channels: tuple[ChannelSnapshot, ...]
    actuators: tuple[ActuatorSnapshot, ...]
    devices: tuple[DeviceHealth, ...]
    link: LinkStatus
    simulated: bool
    store: StoreStats | None = None

    @model_validator(mode="after")
    def _check(self) -> Snapshot:
        check_unique([c.channel for c in self.channels], "channels")
        check_unique([a.node for a in self.actuators], "actuators")
        check_unique([d.device for d in self.devices], "devices")
        return self
