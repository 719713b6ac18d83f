"""Deterministic example messages: one of every type, and realistic house-sized ones.

For tests (round trips, fuzz seeds, console snapshot tests), benchmarks and documentation.
Nothing here is read at run time by the SCADA. Every call builds fresh, valid objects from
fixed ids and times, so results are comparable across runs.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from scada.protocol.api_frames import EventFrame, Hello, Reply
from scada.protocol.api_requests import (
    AuditLog,
    GetSnapshot,
    KeepAliveHold,
    ListHouses,
    RecentEvents,
    ReleaseHold,
    SetMode,
    SetRelay,
    Subscribe,
    SwitchHouse,
    TakeHold,
)
from scada.protocol.base import PROTOCOL_VERSION, WireMessage
from scada.protocol.commands import ActuatorCommand, CommandResult
from scada.protocol.control import (
    ContractHeartbeat,
    DispatchContract,
    HoldEnded,
    HoldState,
    ModeChanged,
)
from scada.protocol.enums import (
    AtnState,
    ChannelHealth,
    CommandOutcome,
    CommandSource,
    ContractStatus,
    DeviceHealthState,
    EventKind,
    HoldEndReason,
    LinkState,
    LogLevel,
    Mode,
    OnlineState,
    ProblemKind,
    RelayState,
    Severity,
    Side,
)
from scada.protocol.events import AuditEntry, LogLine, ProblemEvent
from scada.protocol.readings import (
    AggregateReport,
    ChannelAggregate,
    ChannelSeries,
    PowerReading,
    Reading,
    Status,
)
from scada.protocol.snapshot import (
    ActuatorSnapshot,
    ChannelSnapshot,
    DeviceHealth,
    LinkStatus,
    Snapshot,
    StoreStats,
    TierSummary,
)
from scada.protocol.uplink import Ack, OnlineStatus, SnapshotRequest

T0 = datetime(2025, 1, 15, 12, 0, tzinfo=UTC)
"""The fixed 'now' of every example (aligned to 5 minutes and to the hour)."""

HOUSE = "dw1.isone.nh.orange.1"
SCADA = "dw1.isone.nh.orange.1.scada"
ATN = "dw1.isone.nh.orange.1"


def example_id(n: int) -> str:
    """A fixed, valid message id."""
    return str(uuid.UUID(int=n))


BOOT = example_id(0xB007)


def _channel(i: int) -> tuple[str, str]:
    """(channel, node) of the i-th channel of a tank-heavy house."""
    return f"tank{i // 4 + 1}-depth{i % 4 + 1}", f"a.tank{i // 4 + 1}.depth{i % 4 + 1}"


def example_reading() -> Reading:
    return Reading(
        channel="tank1-depth1", node="a.tank1.depth1", value=61.25, unit="degC", read_at=T0
    )


def example_power() -> PowerReading:
    return PowerReading(
        channel="hp-odu-pwr",
        node="a.hp.odu.pwr",
        power_w=3812.5,
        read_at=T0,
        seq=1041,
        boot_id=BOOT,
    )


def example_status(n_channels: int = 40, per_channel: int = 5) -> Status:
    """A 5-minute status with ``per_channel`` readings for each channel, evenly spread over
    the slot (one a minute for 5), each channel polled at its own phase."""
    step = timedelta(seconds=300) / max(per_channel, 1)
    series = tuple(
        ChannelSeries.of(
            _channel(i)[0],
            "degC",
            [
                (T0 + step * (k + i / n_channels), 40.0 + i * 0.5 + k * 0.125)
                for k in range(per_channel)
            ],
            slot_start=T0,
        )
        for i in range(n_channels)
    )
    return Status(
        id=example_id(1),
        house_alias=HOUSE,
        scada_alias=SCADA,
        boot_id=BOOT,
        seq=12,
        slot_start=T0,
        channels=series,
    )


def example_aggregate() -> AggregateReport:
    aggregates = tuple(
        ChannelAggregate(
            channel=_channel(i)[0],
            unit="degC",
            count=60,
            min=40.0 + i,
            mean=41.5 + i,
            max=43.0 + i,
            last=42.0 + i,
            last_read_at=T0 + timedelta(seconds=3599),
        )
        for i in range(4)
    )
    return AggregateReport.of(
        id=example_id(2),
        house_alias=HOUSE,
        scada_alias=SCADA,
        period_start=T0,
        period_s=3600,
        aggregates=aggregates,
    )


def example_contract() -> DispatchContract:
    return DispatchContract(
        contract_id=example_id(3),
        atn_alias=ATN,
        scada_alias=SCADA,
        start=T0,
        duration_s=3600,
        status=ContractStatus.ACTIVE,
    )


def example_hold() -> HoldState:
    return HoldState(
        operator="Jane Installer",
        started_at=T0,
        expires_at=T0 + timedelta(minutes=30),
        previous_mode=Mode.REMOTE,
    )


def example_command() -> ActuatorCommand:
    return ActuatorCommand(
        id=example_id(4),
        source=CommandSource.ADMIN,
        operator="Jane Installer",
        target="a.elt1.relay",
        state=RelayState.ON,
        issued_at=T0,
        expires_at=T0 + timedelta(seconds=30),
    )


def example_result() -> CommandResult:
    return CommandResult(
        command_id=example_id(4),
        target="a.elt1.relay",
        outcome=CommandOutcome.REFUSED,
        reason="tank above its maximum temperature",
        at=T0,
        interlock="tank-max-temp",
    )


def example_actuator(i: int = 0) -> ActuatorSnapshot:
    return ActuatorSnapshot(
        node=f"a.relay{i}",
        display_name=f"Relay {i}",
        state=RelayState.OFF,
        commanded=RelayState.OFF,
        boss=CommandSource.HOME_ALONE,
        last_command=example_command() if i == 0 else None,
        last_result=example_result() if i == 0 else None,
    )


def example_snapshot(n_channels: int = 40, n_actuators: int = 8) -> Snapshot:
    """A snapshot of a house with ``n_channels`` channels (one stale, one never read)."""
    channels = []
    for i in range(n_channels):
        name, node = _channel(i)
        if i == 1:
            channels.append(
                ChannelSnapshot(
                    channel=name,
                    node=node,
                    quantity="water_temp",
                    unit="degC",
                    health=ChannelHealth.NEVER_READ,
                    reason="no reading since start",
                )
            )
            continue
        stale = i == 2
        channels.append(
            ChannelSnapshot(
                channel=name,
                node=node,
                quantity="water_temp",
                unit="degC",
                value=40.0 + i / 4,
                read_at=T0 - timedelta(seconds=400 if stale else 3),
                age_s=400.0 if stale else 3.0,
                health=ChannelHealth.STALE if stale else ChannelHealth.OK,
                reason="silent for 400 s" if stale else None,
            )
        )
    return Snapshot(
        house_alias=HOUSE,
        taken_at=T0,
        mode=Mode.REMOTE,
        contract=example_contract(),
        hold=None,
        channels=tuple(channels),
        actuators=tuple(example_actuator(i) for i in range(n_actuators)),
        devices=(
            DeviceHealth(device="relay-board", state=DeviceHealthState.OK),
            DeviceHealth(
                device="tank-module",
                state=DeviceHealthState.FAILING,
                failing_since=T0 - timedelta(minutes=5),
                last_error="i2c read timeout",
            ),
        ),
        link=LinkStatus(broker=LinkState.UP, atn=AtnState.ALIVE),
        simulated=True,
        store=example_store(),
    )


def example_store() -> StoreStats:
    return StoreStats(
        pending_uplink=3,
        tier1_statuses=288,
        tier2_aggregates=1200,
        tier3_aggregates=400,
        size_bytes=4_200_000,
        cap_bytes=200_000_000,
        oldest_pending_at=T0 - timedelta(minutes=15),
        in_flight=2,
        quarantined=1,
        dropped=0,
        last_ack_at=T0 - timedelta(seconds=4),
        tiers=(
            TierSummary(
                name="statuses",
                rows=3,
                in_flight=2,
                size_bytes=41_000,
                oldest=T0 - timedelta(minutes=15),
                newest=T0,
            ),
        ),
    )


def example_problem() -> ProblemEvent:
    return ProblemEvent(
        id=example_id(5),
        at=T0,
        kind=ProblemKind.SENSOR_STALE,
        subject="tank1-depth3",
        summary="tank1-depth3 silent for 400 s",
        details="last read 2025-01-15T11:53:20Z\nprobe 28-0000",
        severity=Severity.WARNING,
    )


def example_audit() -> AuditEntry:
    return AuditEntry(
        id=example_id(6),
        at=T0,
        who="Jane Installer",
        action="set_relay",
        target="a.elt1.relay",
        outcome="refused",
        reason="no admin hold",
    )


def example_messages() -> tuple[WireMessage, ...]:
    """One of every top-level message type (optional fields filled where it matters)."""
    return (
        example_reading(),
        example_power(),
        example_status(n_channels=3, per_channel=3),
        example_aggregate(),
        example_snapshot(n_channels=4, n_actuators=2),
        example_actuator(),
        DeviceHealth(device="relay-board", state=DeviceHealthState.OK),
        LinkStatus(broker=LinkState.DOWN, atn=AtnState.SILENT, detail="connection refused"),
        example_store(),
        example_problem(),
        example_audit(),
        LogLine(at=T0, level=LogLevel.INFO, logger="scada.link", message="connected"),
        example_command(),
        example_result(),
        ModeChanged(mode=Mode.LOCAL, previous=Mode.REMOTE, reason="contract expired", at=T0),
        example_contract(),
        ContractHeartbeat(
            contract=example_contract(),
            sent_at=T0,
            my_digit=7,
            your_last_digit=3,
            from_side=Side.SCADA,
        ),
        example_hold(),
        HoldEnded(
            operator="Jane Installer",
            ended_at=T0,
            reason=HoldEndReason.EXPIRED,
            resumed_mode=Mode.REMOTE,
        ),
        Ack(message_ids=(example_id(1), example_id(2)), at=T0),
        SnapshotRequest(from_alias=ATN, at=T0),
        OnlineStatus(state=OnlineState.ONLINE, boot_id=BOOT, at=T0),
        Hello(
            protocol_version=PROTOCOL_VERSION,
            server_version="0.1.0",
            house_alias=HOUSE,
            simulated=True,
            capabilities=("hold", "switch-house"),
        ),
        GetSnapshot(id=1),
        SetRelay(id=2, node="a.elt1.relay", state=RelayState.ON, operator="Jane Installer"),
        TakeHold(id=3, operator="Jane Installer", minutes=30),
        KeepAliveHold(id=4, operator="Jane Installer"),
        ReleaseHold(id=5, operator="Jane Installer"),
        SetMode(id=6, mode=Mode.LOCAL, operator="Jane Installer"),
        ListHouses(id=7),
        SwitchHouse(
            id=8, house_alias=HOUSE, simulated=False, operator="Jane Installer", confirm=HOUSE
        ),
        RecentEvents(id=9, limit=50),
        AuditLog(id=10),
        Subscribe(id=11, topics=(EventKind.READING, EventKind.SNAPSHOT)),
        Reply(id=3, ok=True, result={"hold": example_hold().model_dump(mode="json")}),
        EventFrame(event=EventKind.READING, payload=example_reading(), at=T0),
    )
