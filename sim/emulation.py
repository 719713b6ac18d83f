"""The simulated machine behind ``scada serve --sim``: emulated buses for a house, kept moving.

Registered as the ``gwscada.buses`` entry point ``sim``: the runtime asks for it by name and
runs the real drivers on what it hands out — emulated I2C chips, a 1-Wire tree in a folder,
gpiozero mock pins and real pymodbus servers on 127.0.0.1 — exactly as on a Pi.

Each channel's true value comes from a :class:`ChannelSource`: the house physics
(:class:`~sim.physics_source.PhysicsSource`, stepped every second of simulated time with the
relays as the drivers left them), or :class:`GentleSignals`, which keeps every channel near the
middle of its plausible range — for driver tests that want no physics.

The physics is stepped every ``physics_period_s`` of simulated time (1 s by default; the
walkthroughs take longer steps). ADS1115 inputs are *pulled* from the source at each conversion,
so a thermistor reads the house as it is at that instant; DS18B20 files, which must exist on
disk, are rewritten at twice their channel's sample rate; Modbus registers are pulled per request.

Sensor faults for the walkthroughs: :meth:`SimEmulation.fail_channel` (a thermistor open or
shorted, a DS18B20 gone from the bus or answering with a bad CRC) and
:meth:`SimEmulation.heal_channel`. A fault plan (``faults``, from ``scada serve --sim-faults``;
:mod:`sim.soak.inject`) silences meters and fails probes by itself on the clock.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Literal, Protocol

from scada.clock import RANK_WORLD, TIMER_RANK, Clock
from scada.drivers.buses import EmulationError
from scada.layout import Channel, Layout, MakeModel, Quantity, Thermistor
from scada.layout.model import I2cBus, ModbusRtuBus, ModbusTcpBus
from scada.link.base import Uplink
from scada.link.inprocess import InProcessLink
from sim.atn import SimulatedAtn
from sim.buses.i2c import EmulatedAds1115
from sim.buses.machine import EmulatedBuses
from sim.buses.modbus import EmulatedModbusRtu, EmulatedModbusTcp
from sim.buses.thermistor import divider_volts
from sim.house.errors import HouseModelError, ProfileError
from sim.house.profiles import Profile, load_prices
from sim.physics_source import PhysicsSource
from sim.soak.inject import check_targets, inject
from sim.soak.plan import Fault, PlanError, load_faults

UPDATE_PERIOD_S = 1.0

SensorFault = Literal["disconnected", "garbled"]
"""How an emulated probe fails: a thermistor open (``disconnected``) or shorted (``garbled``);
a DS18B20 gone from the bus or answering with a bad CRC."""

FAULTY_KINDS = (MakeModel.NCD_ADS1115, MakeModel.ADAFRUIT_642)
"""Devices whose channels :meth:`SimEmulation.fail_channel` can break one by one."""


class ChannelFaultError(ValueError):
    """A channel that the emulation cannot break on its own."""


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
        physics_period_s: float = UPDATE_PERIOD_S,
        faults: Sequence[Fault] = (),
    ) -> None:
        if physics_period_s <= 0:
            raise ValueError(f"physics_period_s must be positive, not {physics_period_s}")
        self.layout = layout
        self.clock = clock
        self.physics_period_s = physics_period_s
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
        self.faults: dict[str, SensorFault] = {}
        """Broken channels (see :meth:`fail_channel`), by name."""
        self._by_register: dict[tuple[str, str], Channel] = {
            (c.device, c.register_name): c for c in layout.channels if c.register_name
        }
        devices = {d.name: d for d in layout.devices}
        self._device_of = {c.name: devices[c.device] for c in layout.channels}
        self._probes = [
            c
            for c in layout.channels
            if self._device_of[c.name].make_model is MakeModel.ADAFRUIT_642
        ]
        self._probe_due: dict[str, float] = {}
        self._pull_thermistors(layout)
        self.fault_plan = tuple(faults)
        check_targets(self, self.fault_plan)

    def _pull_thermistors(self, layout: Layout) -> None:
        """Each ADS1115 input reads its channel's value from the source at conversion time."""
        for dev in layout.devices:
            if dev.make_model is not MakeModel.NCD_ADS1115 or not isinstance(dev.bus, I2cBus):
                continue
            chip = self.buses.i2c_buses[dev.bus.bus].chips.get(dev.bus.address)
            if not isinstance(chip, EmulatedAds1115):
                continue
            inputs = {
                c.device_channel: c
                for c in layout.channels
                if c.device == dev.name and c.device_channel is not None
            }
            chip.volts = self._input_volts(inputs, chip.levels)

    def _input_volts(
        self, inputs: dict[int, Channel], levels: dict[int, float]
    ) -> Callable[[int], float]:
        default = Thermistor()  # built once: a model per conversion is a cost

        def volts(ain: int) -> float:
            ch = inputs.get(ain)
            if ch is None:
                return levels[ain]
            th = ch.thermistor or default
            fault = self.faults.get(ch.name)
            if fault == "disconnected":
                return th.supply_v  # open: the divider's resistor pulls the node to the supply
            if fault == "garbled":
                return 0.0  # shorted to ground
            return divider_volts(self.source.value(ch), th)

        return volts

    # ------------------------------------------------------------------ faults

    def fail_channel(self, channel: str, how: SensorFault = "disconnected") -> None:
        """Break one thermistor or DS18B20 probe until :meth:`heal_channel`.

        Raises:
            ChannelFaultError: no such channel, or it is not a probe of its own (a meter
                register, a flow meter: their whole device would fail).
        """
        dev = self._device_of.get(channel)
        if dev is None:
            raise ChannelFaultError(f"no channel '{channel}' in {self.layout.house.alias}")
        if dev.make_model not in FAULTY_KINDS:
            kinds = " and ".join(k.value for k in FAULTY_KINDS)
            raise ChannelFaultError(
                f"{channel} is on {dev.name} ({dev.make_model.value}); only the channels of "
                f"{kinds} devices fail one by one"
            )
        self.faults[channel] = how
        self._probe_due.pop(channel, None)
        self.update()

    def heal_channel(self, channel: str) -> None:
        """Undo :meth:`fail_channel`: the probe reads the house again."""
        self.faults.pop(channel, None)
        self._probe_due.pop(channel, None)
        self.update()

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
            if self.fault_plan:
                tg.create_task(inject(self, self.fault_plan, self.clock), name="fault-plan")

    async def _physics(self) -> None:
        TIMER_RANK.set(RANK_WORLD)
        # Step by the time that really passed: at N x real time a busy loop wakes late, and the
        # house must not fall behind the clock the runtime reads.
        last = self.clock.monotonic()
        while True:
            await self.clock.sleep(self.physics_period_s)
            now = self.clock.monotonic()
            if now > last:
                self.source.advance(now - last)
                last = now
            self.update()

    async def stop(self) -> None:
        for tcp in self.tcp.values():
            await tcp.stop()
        for line in self.rtu.values():
            await line.stop()
        self.buses.close()

    def update(self) -> None:
        """Put the 1-Wire probes' values in their files (the ADS1115 inputs and the Modbus
        registers read the source themselves). A probe's file is rewritten at twice its
        channel's sample rate, not every physics step: the driver only sees it when it reads."""
        tree = self.buses.one_wire
        if tree is None:
            return
        now = self.clock.monotonic()
        for ch in self._probes:
            if not ch.hw_id or self._probe_due.get(ch.name, -math.inf) > now:
                continue
            self._probe_due[ch.name] = now + ch.sample_period_s / 2
            fault = self.faults.get(ch.name)
            if fault == "disconnected":
                tree.remove(ch.hw_id)
            elif fault == "garbled":
                tree.crc_error(ch.hw_id, self.source.value(ch))
            else:
                tree.set_temperature(ch.hw_id, self.source.value(ch))

    def _register_values(self, device: str) -> Callable[[str], float]:
        def value(register: str) -> float:
            ch = self._by_register.get((device, register))
            return self.source.value(ch) if ch is not None else 0.0

        return value


def _prices(layout: Layout) -> Profile | None:
    """The house's price profile for the simulated ATN; ``None`` without simulation settings.

    Raises:
        ProfileError: the profile is missing or wrong (never quietly replaced: an ATN on other
            prices would dispatch another house).
    """
    sim = layout.simulation
    if sim is None:
        return None
    return load_prices(sim.price_profile, tz=layout.house.time_zone)


#: Messages per direction the in-process ATN keeps where nobody reads its log (``scada serve
#: --sim``, walkthroughs).
UNREAD_ATN_LOG_KEEP = 200


def provide(
    layout: Layout, workdir: Path, clock: Clock, *, atn: bool = True, faults: Path | None = None
) -> SimEmulation:
    """The ``gwscada.buses`` entry point; ``faults``: a fault plan file (:mod:`sim.soak.plan`).

    Raises:
        EmulationError: the plan file cannot be read, or names a meter or probe the house
            lacks (``option`` ``--sim-faults``); the house's weather or price profile, or its
            simulation settings, are missing or wrong.
    """
    try:
        plan = load_faults(faults) if faults is not None else []
    except PlanError as e:
        raise EmulationError(str(e), option="--sim-faults") from None
    try:
        emu = SimEmulation(layout, workdir, clock, atn=atn, faults=plan)
    except PlanError as e:
        raise EmulationError(f"{faults}: {e}", option="--sim-faults") from None
    except (ProfileError, HouseModelError) as e:
        raise EmulationError(str(e)) from None
    if emu.atn is not None:
        # Under `scada serve` nobody reads the simulated ATN's log, and its default (kept
        # for tests) holds thousands of whole statuses: tens of MB on a Pi after a day of
        # the largest house. A short one keeps the runtime's memory flat.
        emu.atn.log.keep = UNREAD_ATN_LOG_KEEP
    return emu
