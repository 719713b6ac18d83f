"""A deterministic dw1 house for console tests: its channels and relays from the layout file,
fixed values, a fixed "now" (T0) and a recent history for the sparklines."""

from __future__ import annotations

import json
import math
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final

from scada.protocol import (
    ActuatorSnapshot,
    AtnState,
    AuditEntry,
    ChannelHealth,
    ChannelSnapshot,
    CommandSource,
    ContractStatus,
    DeviceHealth,
    DeviceHealthState,
    DispatchContract,
    EventFrame,
    EventKind,
    HouseInfo,
    HouseList,
    LinkState,
    LinkStatus,
    LogLevel,
    LogLine,
    Mode,
    ProblemEvent,
    ProblemKind,
    Reading,
    RelayState,
    Severity,
    Snapshot,
    StoreStats,
)

ROOT: Final = Path(__file__).resolve().parents[2]
HOUSES: Final = ROOT / "input_data" / "houses"
DW1: Final = "dw1.isone.nh.orange.1"
T0: Final = datetime(2025, 1, 15, 17, 0, tzinfo=UTC)
"""The frozen "now" of every console test."""

HISTORY_STEPS: Final = 60
STEP_S: Final = 5

VALUES: Final = {
    "tank-temp0": 61.25,
    "tank-temp1": 58.40,
    "tank-temp2": 52.10,
    "tank-temp3": 47.35,
    "tank-temp4": 41.05,
    "pipe-out-temp": 55.30,
    "pipe-in-temp": 38.20,
    "garage-temp": 18.40,
    "outdoor-temp": -3.20,
    "dist-flow": 2.95,
    "hp-power": 2450.0,
    "elt1-power": 0.0,
    "pump-power": 42.0,
}
STALE: Final = {"dist-flow": "silent for 47 s (sample period 5 s)"}
NOT_LIVE: Final = frozenset(STALE)


def fixed_id(n: int) -> str:
    return str(uuid.UUID(int=n))


def layout(alias: str = DW1) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((HOUSES / f"{alias}.json").read_text())
    return data


def value_at(channel: str, step: int) -> float:
    """A gentle deterministic wiggle around the channel's fixed value; ``step`` 0 is now."""
    base = VALUES[channel]
    if channel.endswith("power") and base == 0.0:
        return 0.0
    scale = 0.02 * max(1.0, abs(base)) if channel.endswith("power") else 0.6
    phase = sum(map(ord, channel)) % 7
    return round(base + scale * math.sin((step + phase) / 6.0) - scale * math.sin(phase / 6.0), 2)


def channels(at: datetime, *, step: int = 0) -> tuple[ChannelSnapshot, ...]:
    """Every channel as a snapshot taken at ``at`` sees it (read 3 s before; stale ones 47 s)."""
    out = []
    for spec in layout()["channels"]:
        name = spec["name"]
        stale = name in STALE
        age = 47.0 if stale else 3.0
        out.append(
            ChannelSnapshot(
                channel=name,
                node=spec["node"],
                quantity=spec["quantity"],
                unit=spec["unit"],
                device=spec["device"],
                value=value_at(name, step),
                read_at=at - timedelta(seconds=age),
                age_s=age,
                health=ChannelHealth.STALE if stale else ChannelHealth.OK,
                reason=STALE.get(name),
            )
        )
    return tuple(out)


def actuators() -> tuple[ActuatorSnapshot, ...]:
    nodes = {n["alias"]: n for n in layout()["nodes"]}
    states = {
        "a.elt1.relay": RelayState.OFF,
        "a.tank.out.pump.relay": RelayState.ON,
        "a.hp.relay": RelayState.ON,
    }
    return tuple(
        ActuatorSnapshot(
            node=a["node"],
            display_name=nodes[a["node"]]["display_name"],
            state=states[a["node"]],
            commanded=states[a["node"]],
            boss=CommandSource.ATN,
        )
        for a in layout()["actuators"]
    )


def contract() -> DispatchContract:
    return DispatchContract(
        contract_id=fixed_id(0xC0),
        atn_alias=DW1,
        scada_alias=f"{DW1}.scada",
        start=T0 - timedelta(minutes=20),
        duration_s=3600,
        status=ContractStatus.ACTIVE,
    )


def devices() -> tuple[DeviceHealth, ...]:
    return tuple(
        DeviceHealth(device=d["name"], state=DeviceHealthState.OK) for d in layout()["devices"]
    )


def snapshot(*, at: datetime = T0, simulated: bool = True, step: int = 0) -> Snapshot:
    return Snapshot(
        house_alias=DW1,
        taken_at=at,
        mode=Mode.REMOTE,
        contract=contract(),
        hold=None,
        channels=channels(at, step=step),
        actuators=actuators(),
        devices=devices(),
        link=LinkStatus(broker=LinkState.UP, atn=AtnState.ALIVE),
        simulated=simulated,
        store=StoreStats(
            pending_uplink=0,
            tier1_statuses=288,
            tier2_aggregates=0,
            tier3_aggregates=0,
            size_bytes=1_250_000,
            cap_bytes=200_000_000,
        ),
    )


def history_prelude() -> list[EventFrame]:
    """Five minutes of history before the console's snapshot: a snapshot from back then, then
    every live channel's readings since, oldest first (the fake sends its current snapshot,
    taken at T0, after these, so the console's idea of the SCADA's "now" is exactly T0)."""
    start = T0 - timedelta(seconds=HISTORY_STEPS * STEP_S)
    old = snapshot(at=start, step=HISTORY_STEPS)
    frames: list[EventFrame] = [EventFrame(event=EventKind.SNAPSHOT, payload=old, at=start)]
    specs = [c for c in layout()["channels"] if c["name"] not in NOT_LIVE]
    for step in range(HISTORY_STEPS - 1, -1, -1):
        at = T0 - timedelta(seconds=3 + step * STEP_S)
        for spec in specs:
            reading = Reading(
                channel=spec["name"],
                node=spec["node"],
                value=value_at(spec["name"], step),
                unit=spec["unit"],
                read_at=at,
            )
            frames.append(EventFrame(event=EventKind.READING, payload=reading, at=at))
    return frames


def recent_events() -> list[EventFrame]:
    """What the SCADA remembers of the last hour (the log's backfill)."""
    problem = ProblemEvent(
        id=fixed_id(0xE1),
        at=T0 - timedelta(seconds=47),
        kind=ProblemKind.SENSOR_STALE,
        subject="dist-flow",
        summary="dist-flow stale: silent for 47 s (sample period 5 s)",
        severity=Severity.WARNING,
    )
    audit = AuditEntry(
        id=fixed_id(0xE2),
        at=T0 - timedelta(minutes=20),
        who="atn",
        action="start_contract",
        target=DW1,
        outcome="accepted",
    )
    return [
        EventFrame(event=EventKind.AUDIT, payload=audit, at=audit.at),
        EventFrame(event=EventKind.CONTRACT, payload=contract(), at=T0 - timedelta(minutes=20)),
        EventFrame(event=EventKind.PROBLEM, payload=problem, at=problem.at),
    ]


def houses(current: str = DW1) -> HouseList:
    return HouseList(
        houses=(
            HouseInfo(
                alias=DW1,
                display_name="Little Orange House (simulated)",
                simulated=True,
                layout_path="input_data/houses/dw1.isone.nh.orange.1.json",
            ),
            HouseInfo(
                alias="hw25.isone.me.versant.keene.beech",
                display_name="Beech House, Keene Road (2025 install)",
                simulated=False,
                layout_path="input_data/houses/hw25.isone.me.versant.keene.beech.json",
            ),
            HouseInfo(
                alias="w.isone.nh.orange.1",
                display_name="Little Orange House garage test rig",
                simulated=False,
                layout_path="input_data/houses/w.isone.nh.orange.1.json",
            ),
        ),
        current=current,
    )


def mark_line() -> LogLine:
    """A private marker the in-process fake uses to slot injected items into its stream."""
    return LogLine(at=T0, level=LogLevel.DEBUG, logger="fake", message="mark")
