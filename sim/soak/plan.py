"""The soak's fault plan: one fault an hour of simulated time, and the file that carries the
in-process ones to ``scada serve --sim-faults``.

Pure: a plan is a function of (layout, start, hours, kill period); :func:`dump_faults` /
:func:`load_faults` are the only I/O, at the edge.

Each simulated hour ``h`` (from ``start``, which the orchestrator puts on a whole hour) has one
fault at ``h:20`` (clear of the 5-minute status boundaries): a SIGKILL of ``scada serve`` in
the last hour of every ``kill_every_h``, otherwise the next kind of :data:`CYCLE`, so every kind
comes round equally often. The last hour of the plan has no fault: it is the drain, in which
everything outstanding must reach the ATN.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from pathlib import Path

from scada.layout import Layout, MakeModel
from scada.layout.model import ModbusTcpBus

HOUR_S = 3600
FAULT_OFFSET_S = 20 * 60
"""Where in its hour a fault starts, in seconds (clear of the status boundaries)."""


class FaultKind(StrEnum):
    BROKER_RESTART = "broker_restart"
    """mosquitto stopped for the fault's duration, then started again on the same port."""
    METER_TIMEOUT = "meter_timeout"
    """The emulated Modbus TCP meter ``target`` answers nothing (the driver times out)."""
    SENSOR_STUCK = "sensor_stuck"
    """The DS18B20 probe of channel ``target`` gone from the 1-Wire bus: its read fails."""
    ATN_SILENT = "atn_silent"
    """The ATN process stopped (SIGSTOP) for the duration, then continued (SIGCONT)."""
    CONSOLE_DROP = "console_drop"
    """A console attaches and subscribes, then drops; another drops in the middle of a frame."""
    SCADA_KILL = "scada_kill"
    """``scada serve`` killed with SIGKILL, started again after the duration (same data dir,
    same time anchor)."""


CYCLE = (
    FaultKind.BROKER_RESTART,
    FaultKind.METER_TIMEOUT,
    FaultKind.SENSOR_STUCK,
    FaultKind.ATN_SILENT,
    FaultKind.CONSOLE_DROP,
)
IN_PROCESS = frozenset({FaultKind.METER_TIMEOUT, FaultKind.SENSOR_STUCK})
"""The kinds ``scada serve``'s emulation injects itself (:mod:`sim.soak.inject`)."""

DURATION_S: dict[FaultKind, float] = {
    FaultKind.BROKER_RESTART: 300.0,
    FaultKind.METER_TIMEOUT: 600.0,
    FaultKind.SENSOR_STUCK: 600.0,
    # Past the SCADA's heartbeat timeout and its contract grace: LocalControl must take over.
    FaultKind.ATN_SILENT: 900.0,
    FaultKind.CONSOLE_DROP: 0.0,
    FaultKind.SCADA_KILL: 120.0,
}
"""How long each kind lasts, in simulated seconds."""


@dataclass(frozen=True, slots=True)
class Fault:
    """``kind`` on ``target`` from ``at`` (aware UTC, simulated) for ``duration_s``."""

    at: datetime
    kind: FaultKind
    target: str
    duration_s: float

    @property
    def end(self) -> datetime:
        return self.at + timedelta(seconds=self.duration_s)

    def covers(self, now: datetime) -> bool:
        return self.at <= now < self.end


class PlanError(ValueError):
    """A fault plan that cannot be made or read; the message says why."""


def meter_targets(layout: Layout) -> list[str]:
    """The Modbus TCP meters of ``layout``, by device name."""
    return [d.name for d in layout.devices if isinstance(d.bus, ModbusTcpBus)]


def probe_targets(layout: Layout) -> list[str]:
    """The DS18B20 channels of ``layout`` (each a probe of its own on the 1-Wire bus)."""
    probes = {d.name for d in layout.devices if d.make_model is MakeModel.ADAFRUIT_642}
    return [c.name for c in layout.channels if c.device in probes and c.hw_id]


def build_plan(layout: Layout, start: datetime, hours: int, kill_every_h: int) -> list[Fault]:
    """The faults of ``hours`` simulated hours from ``start`` (see the module docstring).

    Raises:
        PlanError: fewer than two hours, a kill period under 2 h, or a layout with no Modbus
            TCP meter or no DS18B20 probe to fail.
    """
    if hours < 2 or kill_every_h < 2:
        raise PlanError("a soak needs at least two hours and a kill period of two hours or more")
    meters, probes = meter_targets(layout), probe_targets(layout)
    if not meters or not probes:
        raise PlanError(f"{layout.house.alias} has no Modbus TCP meter or no DS18B20 probe to fail")
    faults: list[Fault] = []
    turn = 0
    for h in range(hours - 1):
        at = start + timedelta(seconds=h * HOUR_S + FAULT_OFFSET_S)
        if h % kill_every_h == kill_every_h - 1:
            kind, target = FaultKind.SCADA_KILL, "scada"
        else:
            kind = CYCLE[turn % len(CYCLE)]
            turn += 1
            target = {
                FaultKind.METER_TIMEOUT: meters[turn % len(meters)],
                FaultKind.SENSOR_STUCK: probes[turn % len(probes)],
            }.get(kind, kind.value.split("_")[0])
        faults.append(Fault(at, kind, target, DURATION_S[kind]))
    return faults


def dump_faults(faults: list[Fault], path: Path) -> None:
    """Write the in-process faults of ``faults`` to ``path`` (JSON) for ``--sim-faults``."""
    rows = [
        {
            "at": f.at.isoformat(),
            "kind": f.kind.value,
            "target": f.target,
            "duration_s": f.duration_s,
        }
        for f in faults
        if f.kind in IN_PROCESS
    ]
    path.write_text(json.dumps({"faults": rows}, indent=1) + "\n")


def load_faults(path: Path) -> list[Fault]:
    """The faults in the plan file ``path``.

    Raises:
        PlanError: unreadable, not a plan, or a fault without an aware time.
    """
    try:
        rows = json.loads(path.read_text())["faults"]
        faults = [
            Fault(
                datetime.fromisoformat(r["at"]),
                FaultKind(r["kind"]),
                str(r["target"]),
                float(r["duration_s"]),
            )
            for r in rows
        ]
    except KeyError as e:
        raise PlanError(f"{path}: not a fault plan (no {e})") from None
    except (OSError, ValueError, TypeError) as e:
        raise PlanError(f"{path}: not a fault plan ({e})") from None
    if any(f.at.tzinfo is None for f in faults):
        raise PlanError(f"{path}: every fault's time must carry its UTC offset")
    return faults
