"""Physics behind the buses: the house model feeds the emulated chips, the relays drive it.

Each :meth:`PhysicsSource.advance` reads the relays as the real drivers left them on the
emulated boards (MCP23008 pins, PCF8575 port, GPIO mock pins), steps the house model, and
caches the readings the sensors will see — with sensor noise on temperatures, and pulses on
the flow meters' input pins — so a simulated house runs the very driver code a real one does.
"""

from __future__ import annotations

import random
from datetime import timedelta
from typing import TYPE_CHECKING

from scada.clock import Clock
from scada.drivers.pcf8575 import KRIDA_EMR16_PINS
from scada.layout import Actuator, Channel, Layout, MakeModel, Quantity
from sim.buses.i2c import EmulatedMcp23008, EmulatedPcf8575
from sim.house.model import HouseModel

if TYPE_CHECKING:
    from sim.buses.machine import EmulatedBuses

NOISE_SEED = 2022


class PhysicsSource:
    """A :class:`~sim.emulation.ChannelSource` backed by :class:`HouseModel`."""

    def __init__(self, layout: Layout, buses: EmulatedBuses, clock: Clock) -> None:
        self.layout = layout
        self.buses = buses
        self.clock = clock
        self.model = HouseModel.from_layout(layout, start=clock.now())
        sim = layout.simulation
        self._noise_c = sim.sensor_noise_c if sim is not None else 0.05
        self._rng = random.Random(NOISE_SEED)
        self._devices = {d.name: d for d in layout.devices}
        self._values: dict[str, float] = dict(self.model.readings())
        self._pulse_debt: dict[str, float] = {}
        # Worked out once, not at every step: the flow meters' (channel, input pin, pulses a
        # gallon) and whether a channel's readings get noise.
        self._flow_meters = [
            (ch.name, ch.device_channel, self._devices[ch.device].pulses_per_gallon or 1.0)
            for ch in layout.channels
            if self._devices[ch.device].make_model is MakeModel.PULSE_FLOW_METER
            and ch.device_channel is not None
        ]
        self._noisy = {
            ch.name
            for ch in layout.channels
            if ch.quantity in {Quantity.WATER_TEMP, Quantity.AIR_TEMP}
        }

    def value(self, channel: Channel) -> float:
        v = self._values.get(channel.name)
        if v is None:
            lo, hi = channel.plausible_range
            return (lo + hi) / 2
        if self._noise_c and channel.name in self._noisy:
            v += self._rng.gauss(0.0, self._noise_c)
        return v

    def advance(self, dt_s: float) -> None:
        """Step the house ``dt_s`` seconds, ending now, with the relays as the boards hold them."""
        start = self.clock.now() - timedelta(seconds=dt_s)
        self.model.step(dt_s, self.relay_states(), start)
        self._values = dict(self.model.readings())
        self._pulse_flow(dt_s)

    def relay_states(self) -> dict[str, bool]:
        """Every relay node → closed (True) or open, read off the emulated hardware."""
        return {a.node: self._closed(a) for a in self.layout.actuators}

    def _closed(self, a: Actuator) -> bool:
        energized = self._energized(a)
        return energized if a.contact == "normally_open" else not energized

    def _energized(self, a: Actuator) -> bool:
        dev = self._devices[a.device]
        if dev.make_model is MakeModel.GPIO_RELAY:
            return self.buses.gpio.level(a.board_channel) != a.active_low
        if dev.bus.kind != "i2c":
            return False
        chip = self.buses.i2c_buses[dev.bus.bus].chips.get(dev.bus.address)
        if isinstance(chip, EmulatedMcp23008):
            return chip.pin(a.board_channel) != a.active_low
        if isinstance(chip, EmulatedPcf8575):
            return chip.pin(KRIDA_EMR16_PINS[a.board_channel]) != a.active_low
        return False

    def _pulse_flow(self, dt_s: float) -> None:
        debt = self._pulse_debt
        for name, pin, ppg in self._flow_meters:
            pulses = self._values.get(name, 0.0) / 60.0 * dt_s * ppg + debt.get(name, 0.0)
            whole = int(pulses)
            debt[name] = pulses - whole
            if whole:
                self.buses.gpio.pulse_train(pin, whole, bulk=True)
