"""The driver factory: the layout's make/model and bus settings choose each device's driver.

``memory`` gives in-memory devices (unit tests, ``--drivers memory``); ``real`` gives the real
drivers on the :class:`Buses` passed in — the Pi's own, or an emulator's under ``--sim``. A device
whose driver cannot even be built (a bus that does not exist here, a layout it cannot serve) is
left out with one line saying why, and the SCADA starts without it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from scada.clock import Clock
from scada.drivers.ads1115 import Ads1115Thermistors
from scada.drivers.base import RelayBoard, SensorDevice
from scada.drivers.buses import Buses
from scada.drivers.ds18b20 import Ds18b20Probes
from scada.drivers.errors import DriverError
from scada.drivers.gpio_relay import GpioRelayBoard
from scada.drivers.mcp23008 import Mcp23008RelayBoard
from scada.drivers.memory import MemoryBench, memory_devices
from scada.drivers.meters import ModbusMeter
from scada.drivers.modbus_pool import ModbusBusPool
from scada.drivers.pcf8575 import Pcf8575RelayBoard
from scada.drivers.pulse_flow import PulseFlowMeter
from scada.layout import Channel, Device, Layout, MakeModel

log = logging.getLogger("scada.drivers")

DriverFamily = Literal["memory", "real"]


@dataclass(slots=True)
class Devices:
    """The device objects of a house, by layout device name."""

    sensors: dict[str, SensorDevice] = field(default_factory=dict)
    boards: dict[str, RelayBoard] = field(default_factory=dict)
    bench: MemoryBench | None = None
    #: Devices left out at start, with the reason (shown by `scada status` and the log).
    missing: dict[str, str] = field(default_factory=dict)


class DriversUnavailableError(Exception):
    """The requested driver family cannot run here; the message says why and what to do."""


def build_devices(
    layout: Layout, family: DriverFamily, clock: Clock, buses: Buses | None = None
) -> Devices:
    """One driver object per layout device, of ``family``."""
    if family == "memory":
        bench = MemoryBench(time_s=clock.monotonic)
        sensors, boards = memory_devices(layout, bench)
        return Devices(dict(sensors), dict(boards), bench)
    if buses is None:
        raise DriversUnavailableError("real drivers need buses (the Pi's, or an emulator's)")
    return _real(layout, clock, buses)


def _real(layout: Layout, clock: Clock, buses: Buses) -> Devices:
    out = Devices()
    pool = ModbusBusPool.for_buses(buses, clock)
    builders = _builders(layout, clock, buses, pool)
    for dev in layout.devices:
        build = builders[dev.make_model]
        try:
            built = build(dev)
        except (DriverError, ValueError, TypeError, OSError) as e:
            reason = str(e)
            out.missing[dev.name] = reason
            log.error("device %s left out: %s", dev.name, reason)  # noqa: TRY400 - one line, no trace
            continue
        if dev.make_model in _RELAY_BOARDS:
            assert isinstance(built, RelayBoard)
            out.boards[dev.name] = built
        else:
            assert isinstance(built, SensorDevice)
            out.sensors[dev.name] = built
    return out


_RELAY_BOARDS = {MakeModel.NCD_PR8_14_SPST, MakeModel.KRIDA_EMR16_I2C, MakeModel.GPIO_RELAY}


def _builders(
    layout: Layout, clock: Clock, buses: Buses, pool: ModbusBusPool
) -> dict[MakeModel, Callable[[Device], SensorDevice | RelayBoard]]:
    acts, chans = layout.actuators, layout.channels

    def mine(dev: Device) -> list[Channel]:
        return [c for c in chans if c.device == dev.name]

    return {
        MakeModel.NCD_PR8_14_SPST: lambda d: Mcp23008RelayBoard(d, acts, buses),
        MakeModel.KRIDA_EMR16_I2C: lambda d: Pcf8575RelayBoard(d, acts, buses),
        MakeModel.GPIO_RELAY: lambda d: GpioRelayBoard(d, acts, buses),
        MakeModel.NCD_ADS1115: lambda d: Ads1115Thermistors(d, mine(d), buses),
        MakeModel.ADAFRUIT_642: lambda d: Ds18b20Probes(d, mine(d), buses),
        MakeModel.PULSE_FLOW_METER: lambda d: PulseFlowMeter(d, mine(d), buses, clock),
        MakeModel.EGAUGE_4030: lambda d: ModbusMeter(d, mine(d), buses, clock, pool=pool),
        MakeModel.SCHNEIDER_IEM3455: lambda d: ModbusMeter(d, mine(d), buses, clock, pool=pool),
    }
