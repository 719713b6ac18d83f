"""Shared pieces of the Modbus meter tests: the houses' meters, buses that point at emulators,
a fast back-off, and value sources the tests can change."""

from __future__ import annotations

import random
from collections.abc import Sequence
from functools import cache
from pathlib import Path

from scada.clock import Clock, SystemClock
from scada.drivers.buses import Buses, SystemBuses
from scada.drivers.errors import BusMissingError
from scada.drivers.meters import ModbusMeter
from scada.drivers.modbus_bus import Backoff
from scada.drivers.modbus_pool import ModbusBusPool
from scada.layout import Channel, Device, Layout, load_layout
from scada.layout.model import ModbusRtuBus, ModbusTcpBus

HOUSES = Path(__file__).resolve().parents[2] / "input_data" / "houses"
HW25 = "hw25.isone.me.versant.keene.beech"  # eGauge 4030 on Modbus TCP
GARAGE = "w.isone.nh.orange.1"  # Schneider iEM3455 on Modbus RTU

#: Short timeouts keep fault tests fast; the layouts' own are 3 s (eGauge) and 1 s (iEM3455).
FAST_TIMEOUT_S = 0.25


@cache
def house(alias: str) -> Layout:
    return load_layout(HOUSES / f"{alias}.json")


def meter_device(alias: str, name: str) -> tuple[Device, list[Channel]]:
    layout = house(alias)
    return layout.device(name), [c for c in layout.channels if c.device == name]


def with_tcp(device: Device, **changes: object) -> Device:
    assert isinstance(device.bus, ModbusTcpBus)
    return device.model_copy(update={"bus": device.bus.model_copy(update=changes)})


def with_rtu(device: Device, **changes: object) -> Device:
    assert isinstance(device.bus, ModbusRtuBus)
    return device.model_copy(update={"bus": device.bus.model_copy(update=changes)})


class RedirectBuses(SystemBuses):
    """The machine's buses, except that Modbus endpoints and serial ports lead to emulators."""

    emulated = True

    def __init__(self) -> None:
        self.tcp: dict[tuple[str, int], tuple[str, int]] = {}
        self.serial: dict[str, str] = {}

    def modbus_tcp(self, host: str, port: int) -> tuple[str, int]:
        return self.tcp.get((host, port), (host, port))

    def serial_port(self, port: str) -> str:
        if port in self.serial:
            return self.serial[port]
        raise BusMissingError(port, f"serial port {port} does not exist")


class Signal:
    """A value per register that a test sets; unknown registers read ``default``."""

    def __init__(self, default: float = 0.0, **values: float) -> None:
        self.default = default
        self.values: dict[str, float | str] = {k.replace("_", "-"): v for k, v in values.items()}

    def __call__(self, register: str) -> float | str:
        return self.values.get(register, self.default)

    def set(self, register: str, value: float | str) -> None:
        self.values[register] = value


def fast_pool(clock: Clock | None = None) -> ModbusBusPool:
    """A pool whose reconnect back-off is short (50 ms doubling to 200 ms) and seeded."""
    rng = random.Random(4)
    return ModbusBusPool(
        clock or SystemClock(), backoff=lambda: Backoff(first_s=0.05, max_s=0.2, rng=rng)
    )


def make_meter(
    device: Device,
    channels: Sequence[Channel],
    buses: Buses,
    pool: ModbusBusPool | None = None,
) -> ModbusMeter:
    return ModbusMeter(device, channels, buses, SystemClock(), pool=pool or fast_pool())
