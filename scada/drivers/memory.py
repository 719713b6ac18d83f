"""In-memory drivers: devices whose values live in a :class:`MemoryBench`.

Used by unit tests (set a value, inject a fault, watch the runtime react) and by
``scada serve --drivers memory``, where each channel follows a gentle, plausible signal so a
console has something alive to show without hardware or a simulator.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from scada.drivers.base import ChannelValue
from scada.drivers.errors import DeviceTimeoutError, DriverError
from scada.layout import Channel, Layout


@dataclass
class MemoryBench:
    """The shared state behind memory devices. Tests poke it; drivers read and write it.

    ``values`` override the built-in signal per channel; ``device_faults`` fail a whole device;
    ``channel_faults`` fail one channel; ``stuck_relays`` ignore writes (for read-back tests).
    """

    time_s: Callable[[], float] = lambda: 0.0
    values: dict[str, float] = field(default_factory=dict)
    device_faults: dict[str, DriverError] = field(default_factory=dict)
    channel_faults: dict[str, DriverError] = field(default_factory=dict)
    relays: dict[tuple[str, int], bool] = field(default_factory=dict)
    stuck_relays: set[tuple[str, int]] = field(default_factory=set)
    writes: list[tuple[str, int, bool]] = field(default_factory=list)
    _shapes: dict[str, tuple[float, float, float]] = field(default_factory=dict, repr=False)

    def signal(self, ch: Channel) -> float:
        """A plausible value for ``ch``: mid-range with a slow wobble, or the value set for it."""
        value = self.values.get(ch.name)
        if value is not None:
            return value
        shape = self._shapes.get(ch.name)
        if shape is None:
            lo, hi = ch.plausible_range
            mid = lo + (hi - lo) * (0.15 if ch.quantity.value in {"power", "flow"} else 0.45)
            phase = (sum(map(ord, ch.name)) % 97) / 97 * 2 * math.pi
            shape = self._shapes[ch.name] = (mid, (hi - lo) * 0.02, phase)
        mid, amplitude, phase = shape
        return round(mid + amplitude * math.sin(self.time_s() / 600 + phase), 3)

    def fail(self, device: str, reason: str = "no answer") -> None:
        self.device_faults[device] = DeviceTimeoutError(device, reason)

    def heal(self, device: str) -> None:
        self.device_faults.pop(device, None)


class MemorySensor:
    """A sensor device whose channels read from the bench."""

    def __init__(self, name: str, channels: Mapping[str, Channel], bench: MemoryBench) -> None:
        self.name = name
        self._channels = dict(channels)
        self._bench = bench

    async def open(self) -> None:
        self._raise_if_failed()

    async def read(self, channels: Sequence[str]) -> Mapping[str, ChannelValue]:
        self._raise_if_failed()
        out: dict[str, ChannelValue] = {}
        for name in channels:
            fault = self._bench.channel_faults.get(name)
            out[name] = fault if fault is not None else self._bench.signal(self._channels[name])
        return out

    async def close(self) -> None:
        return None

    def _raise_if_failed(self) -> None:
        fault = self._bench.device_faults.get(self.name)
        if fault is not None:
            raise fault


class MemoryRelayBoard:
    """A relay board whose coils are entries in the bench."""

    def __init__(self, name: str, bench: MemoryBench) -> None:
        self.name = name
        self._bench = bench

    async def open(self) -> None:
        self._raise_if_failed()

    async def write(self, channel: int, energized: bool) -> None:
        self._raise_if_failed()
        key = (self.name, channel)
        self._bench.writes.append((self.name, channel, energized))
        if key not in self._bench.stuck_relays:
            self._bench.relays[key] = energized

    async def read(self, channel: int) -> bool:
        self._raise_if_failed()
        return self._bench.relays.get((self.name, channel), False)

    async def read_all(self, channels: Sequence[int]) -> dict[int, bool]:
        return {ch: await self.read(ch) for ch in channels}

    async def close(self) -> None:
        return None

    def _raise_if_failed(self) -> None:
        fault = self._bench.device_faults.get(self.name)
        if fault is not None:
            raise fault


def memory_devices(
    layout: Layout, bench: MemoryBench
) -> tuple[dict[str, MemorySensor], dict[str, MemoryRelayBoard]]:
    """One memory device per layout device: sensors for devices with channels, boards for relays."""
    sensors: dict[str, MemorySensor] = {}
    boards: dict[str, MemoryRelayBoard] = {}
    relay_devices = {a.device for a in layout.actuators}
    for dev in layout.devices:
        chans = {c.name: c for c in layout.channels if c.device == dev.name}
        if chans:
            sensors[dev.name] = MemorySensor(dev.name, chans, bench)
        if dev.name in relay_devices:
            boards[dev.name] = MemoryRelayBoard(dev.name, bench)
    return sensors, boards


__all__ = [
    "MemoryBench",
    "MemoryRelayBoard",
    "MemorySensor",
    "memory_devices",
]
