"""The driver factory: the layout's make/model and bus settings choose each device's driver."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from scada.clock import Clock
from scada.drivers.base import RelayBoard, SensorDevice
from scada.drivers.memory import MemoryBench, memory_devices
from scada.layout import Layout

DriverFamily = Literal["memory", "real"]


@dataclass(slots=True)
class Devices:
    """The device objects of a house, by layout device name."""

    sensors: dict[str, SensorDevice] = field(default_factory=dict)
    boards: dict[str, RelayBoard] = field(default_factory=dict)
    bench: MemoryBench | None = None


class DriversUnavailableError(Exception):
    """The requested driver family cannot run here; the message says why and what to do."""


def build_devices(layout: Layout, family: DriverFamily, clock: Clock) -> Devices:
    """One driver object per layout device, of ``family``."""
    if family == "memory":
        bench = MemoryBench(time_s=clock.monotonic)
        sensors, boards = memory_devices(layout, bench)
        return Devices(dict(sensors), dict(boards), bench)
    raise DriversUnavailableError(
        "real hardware drivers are not part of this build yet; run with --sim (memory drivers)"
    )
