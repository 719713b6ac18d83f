"""The simulated machine behind ``scada serve --sim``: emulated buses for a house, kept moving.

Registered as the ``gwscada.buses`` entry point ``sim``: the runtime asks for it by name and
runs the real drivers on what it hands out — emulated I2C chips, a 1-Wire tree in a folder,
gpiozero mock pins and real pymodbus servers on 127.0.0.1 — exactly as on a Pi.

Each channel's true value comes from a :class:`ChannelSource`: the house physics
(:class:`~sim.physics_source.PhysicsSource`, stepped every second of simulated time with the
relays as the drivers left them), or :class:`GentleSignals`, which keeps every channel near the
middle of its plausible range — for driver tests that want no physics.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from scada.clock import Clock
from scada.layout import Channel, Layout, MakeModel, Quantity
from scada.layout.model import ModbusRtuBus, ModbusTcpBus
from scada.link.base import Uplink
from scada.link.inprocess import InProcessLink
from sim.atn import SimulatedAtn
from sim.buses.i2c import EmulatedAds1115
from sim.buses.machine import EmulatedBuses
from sim.buses.modbus import EmulatedModbusRtu, EmulatedModbusTcp
from sim.house.errors import ProfileError
from sim.house.profiles import Profile, load_prices
from sim.physics_source import PhysicsSource

log = logging.getLogger("sim.emulation")

UPDATE_PERIOD_S = 1.0


class ChannelSource(Protocol):
    """The true value of each channel at the moment of asking (°C, W, gpm)."""

    def value(self, channel: Channel) -> float: ...

    def advance(self, dt_s: float) -> None: ...


class GentleSignals:
    """Mid-range values with a slow, per-channel wobble; power and flow near the low end."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock

    def value(self, channel: Channel) -> float:
        lo, hi = channel.plausible_range
        low_end = channel.quantity in {Quantity.POWER, Quantity.FLOW}
        mid = lo + (hi - lo) * (0.1 if low_end else 0.45)
        phase = (sum(map(ord, channel.name)) % 97) / 97 * 2 * math.pi
        return mid + (hi - lo) * 0.02 * math.sin(self._clock.monotonic() / 600 + phase)

    def advance(self, dt_s: float) -> None:  # noqa: ARG002 - nothing to step: a pure function of time
        return None


class SimEmulation:
    """Emulated buses for one layout (see the module docstring)."""

    def __init__(
        self,
        layout: Layout,
        workdir: Path,
        clock: Clock,
        *,
        physics: bool = True,
        atn: bool = True,
    ) -> None:
        self.layout = layout
        self.clock = clock
        self.buses = EmulatedBuses()
        self.buses.populate(layout, workdir / "w1")
        self.source: ChannelSource = (
            PhysicsSource(layout, self.buses, clock) if physics else GentleSignals(clock)
        )
        self.link: InProcessLink | None = InProcessLink() if atn else None
        self.uplink: Uplink | None = self.link.scada if self.link is not None else None
        self.atn: SimulatedAtn | None = None
        if self.link is not None:
            prices = _prices(layout)
            self.atn = SimulatedAtn(layout, self.link.atn, clock, prices.at if prices else None)
        self.tcp: dict[str, EmulatedModbusTcp] = {}
        self.rtu: dict[str, EmulatedModbusRtu] = {}
        self._by_register: dict[tuple[str, str], Channel] = {
            (c.device, c.register_name): c for c in layout.channels if c.register_name
        }

    async def start(self) -> None:
        """Modbus servers up, every chip and probe at its first value."""
        for dev in self.layout.devices:
            values = self._register_values(dev.name)
            if isinstance(dev.bus, ModbusTcpBus):
                tcp = EmulatedModbusTcp.for_device(dev, values)
                port = await tcp.start()
                self.tcp[dev.name] = tcp
                self.buses.modbus[(dev.bus.host, dev.bus.port)] = ("127.0.0.1", port)
            elif isinstance(dev.bus, ModbusRtuBus):
                line = self.rtu.get(dev.bus.port)
                if line is None:
                    self.rtu[dev.bus.port] = EmulatedModbusRtu.for_device(dev, values)
                else:
                    line.add_device(dev, values)
        for serial, line in self.rtu.items():
            self.buses.serial[serial] = await line.start()
        self.update()

    async def run(self) -> None:
        async with asyncio.TaskGroup() as tg:
            if self.atn is not None:
                tg.create_task(self.atn.run(), name="simulated-atn")
            tg.create_task(self._physics(), name="physics")

    async def _physics(self) -> None:
        while True:
            await self.clock.sleep(UPDATE_PERIOD_S)
            self.source.advance(UPDATE_PERIOD_S)
            self.update()

    async def stop(self) -> None:
        for tcp in self.tcp.values():
            await tcp.stop()
        for line in self.rtu.values():
            await line.stop()
        self.buses.close()

    def update(self) -> None:
        """Put every I2C and 1-Wire channel's true value on its emulated chip."""
        devices = {d.name: d for d in self.layout.devices}
        for ch in self.layout.channels:
            dev = devices[ch.device]
            if dev.make_model is MakeModel.NCD_ADS1115 and ch.device_channel is not None:
                assert dev.bus.kind == "i2c"
                chip = self.buses.i2c_buses[dev.bus.bus].chips.get(dev.bus.address)
                if isinstance(chip, EmulatedAds1115):
                    chip.set_temperature(ch.device_channel, self.source.value(ch), ch.thermistor)
            elif dev.make_model is MakeModel.ADAFRUIT_642 and ch.hw_id and self.buses.one_wire:
                self.buses.one_wire.set_temperature(ch.hw_id, self.source.value(ch))

    def _register_values(self, device: str) -> Callable[[str], float]:
        def value(register: str) -> float:
            ch = self._by_register.get((device, register))
            return self.source.value(ch) if ch is not None else 0.0

        return value


def _prices(layout: Layout) -> Profile | None:
    sim = layout.simulation
    if sim is None:
        return None
    try:
        return load_prices(sim.price_profile, tz=layout.house.time_zone)
    except ProfileError as e:
        log.warning("no price profile for the simulated ATN: %s", e)
        return None


def provide(layout: Layout, workdir: Path, clock: Clock, *, atn: bool = True) -> SimEmulation:
    """The ``gwscada.buses`` entry point."""
    return SimEmulation(layout, workdir, clock, atn=atn)
