"""Pulse-output flow meters on GPIO inputs (Hall or reed), counted with gpiozero.

Each channel's ``device_channel`` is the BCM pin of its meter; the device's
``pulses_per_gallon`` converts counts to volume (SAIER SEN-HZG1WA ≈ 1111 pulses/gal, EKM
HOT-SPWM-075-HD ≈ 13.4). A read reports gallons per minute over the last :data:`WINDOW_S`
seconds at least (over everything since ``open`` until then), on the injected monotonic clock:
pulses are whole numbers, so a one-second rate swings by a whole pulse's worth (a reed meter at
13 pulses a gallon reads 0 or 4.5 gpm at 1 gpm), and a window of several reads evens that out.

Counting happens in gpiozero's callback, which on a Pi runs in the pin library's thread, so the
counter is guarded by a thread lock. The meters' outputs are open-collector or a switch to
ground: the pin is pulled up and a pulse is the pin going low.

An emulated pin may offer a :data:`PULSE_COUNTER` attribute: the driver puts its counter there
and the emulator adds a whole train of pulses at once, where one gpiozero event per edge
would cost a simulated day millions of calls. Real pins have no such attribute, so every pulse
there goes through gpiozero.
"""

from __future__ import annotations

import contextlib
import threading
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from gpiozero import DigitalInputDevice

from scada.clock import Clock
from scada.drivers.base import ChannelValue
from scada.drivers.buses import Buses
from scada.drivers.errors import DriverError, NotYetMeasuredError
from scada.drivers.gpio_relay import gpio_call
from scada.layout import Channel, Device

PULSE_COUNTER = "pulse_counter"
"""The pin attribute through which an emulated pin takes :meth:`_Meter.add` (see above)."""


#: The shortest span a rate is measured over, in seconds.
WINDOW_S = 10.0


@dataclass(slots=True)
class _Meter:
    pin: int
    count: int = 0
    history: deque[tuple[float, int]] = field(default_factory=deque)
    """(time, count) of past reads, oldest first: the newest one at least WINDOW_S old, then
    every later one."""
    last_gpm: float | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)
    input: Any = None

    def pulse(self) -> None:
        self.add(1)

    def add(self, pulses: int) -> None:
        with self.lock:
            self.count += pulses


class PulseFlowMeter:
    """A :class:`~scada.drivers.base.SensorDevice`: GPM from pulses on GPIO inputs.

    Args:
        device: the layout device (``pulses_per_gallon`` is required).
        channels: the layout channels of ``device``; ``device_channel`` is the BCM pin.
        buses: gives the gpiozero pin factory.
        clock: the monotonic clock the intervals are measured on.
        pull_up: pull the pins up and count falling edges (True), or pull down and count
            rising ones.
        bounce_s: gpiozero debounce for reed switches (None: none).
    """

    def __init__(
        self,
        device: Device,
        channels: Sequence[Channel],
        buses: Buses,
        clock: Clock,
        *,
        pull_up: bool = True,
        bounce_s: float | None = None,
    ) -> None:
        if device.pulses_per_gallon is None:
            raise ValueError(f"{device.name}: a pulse flow meter needs pulses_per_gallon")
        self.name = device.name
        self._ppg = device.pulses_per_gallon
        self._buses = buses
        self._clock = clock
        self._pull_up = pull_up
        self._bounce_s = bounce_s
        self._meters: dict[str, _Meter] = {}
        for ch in channels:
            if ch.device != device.name:
                continue
            if ch.device_channel is None:
                raise ValueError(f"{ch.name}: a pulse flow channel needs device_channel (BCM pin)")
            self._meters[ch.name] = _Meter(ch.device_channel)
        self._opened = False

    async def open(self) -> None:
        if self._opened:
            return
        factory = gpio_call(self.name, "finding the pin factory", self._buses.gpio_pin_factory)
        now = self._clock.monotonic()
        try:
            for meter in self._meters.values():
                meter.input = gpio_call(
                    self.name, f"claiming GPIO{meter.pin}", partial(self._claim, meter, factory)
                )
                with meter.lock:
                    meter.history.clear()
                    meter.history.append((now, meter.count))
        except DriverError:
            await self.close()
            raise
        self._opened = True

    async def read(self, channels: Sequence[str]) -> Mapping[str, ChannelValue]:
        await self.open()
        now = self._clock.monotonic()
        out: dict[str, ChannelValue] = {}
        for name in channels:
            meter = self._meters.get(name)
            if meter is None:
                out[name] = DriverError(self.name, f"channel {name} is not on this device")
                continue
            out[name] = self._rate(name, meter, now)
        return out

    async def close(self) -> None:
        self._opened = False
        for meter in self._meters.values():
            dev, meter.input = meter.input, None
            if dev is not None:
                if hasattr(dev.pin, PULSE_COUNTER):
                    setattr(dev.pin, PULSE_COUNTER, None)
                with contextlib.suppress(DriverError):  # a pin that cannot be released is gone
                    gpio_call(self.name, f"releasing GPIO{meter.pin}", dev.close)

    def _claim(self, meter: _Meter, factory: Any) -> Any:
        dev = DigitalInputDevice(
            meter.pin, pull_up=self._pull_up, bounce_time=self._bounce_s, pin_factory=factory
        )
        dev.when_activated = meter.pulse
        if hasattr(dev.pin, PULSE_COUNTER):
            setattr(dev.pin, PULSE_COUNTER, meter.add)
        return dev

    def _rate(self, name: str, meter: _Meter, now: float) -> ChannelValue:
        with meter.lock:
            history, count = meter.history, meter.count
            while len(history) > 1 and now - history[1][0] >= WINDOW_S:
                history.popleft()
            since, then = history[0]
            dt = now - since
            if dt <= 0:
                # No time has passed since the last read: the last rate still holds.
                if meter.last_gpm is None:
                    return NotYetMeasuredError(self.name, f"{name}: no interval to measure yet")
                return meter.last_gpm
            history.append((now, count))
        gpm = (count - then) / self._ppg / dt * 60.0
        meter.last_gpm = gpm
        return gpm
