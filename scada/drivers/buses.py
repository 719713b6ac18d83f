"""Where the real drivers find their buses: the machine's, or an emulator's.

The real drivers never open a bus themselves; they ask a :class:`Buses` for it. On a Pi that is
:class:`SystemBuses` (``/dev/i2c-N``, ``/sys/bus/w1/devices``, the serial ports, the Modbus hosts
of the layout, gpiozero's default pin factory). Under ``--sim`` it is an emulator's, which hands
out emulated chips behind smbus2's method signatures, a 1-Wire tree in a temporary folder, a
pymodbus server on 127.0.0.1 and gpiozero mock pins — so a simulated house runs the very same
driver code as a real one.

The simulator lives in the ``sim`` package, which ``scada`` never imports. It registers its
provider under the entry-point group :data:`ENTRY_POINT_GROUP`; :func:`emulation` finds it
by name at run time (dependency inversion: ``scada`` owns the seam, ``sim`` plugs into it).
"""

from __future__ import annotations

import os
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, Protocol

from scada.clock import Clock
from scada.drivers.errors import BusMissingError
from scada.layout import Layout
from scada.link.base import Uplink

ENTRY_POINT_GROUP = "gwscada.buses"


class SMBusLike(Protocol):
    """The part of ``smbus2.SMBus`` the I2C drivers use (all blocking calls)."""

    def read_byte_data(self, i2c_addr: int, register: int) -> int: ...

    def write_byte_data(self, i2c_addr: int, register: int, value: int) -> None: ...

    def read_word_data(self, i2c_addr: int, register: int) -> int: ...

    def write_word_data(self, i2c_addr: int, register: int, value: int) -> None: ...

    def read_i2c_block_data(self, i2c_addr: int, register: int, length: int) -> list[int]: ...

    def write_i2c_block_data(self, i2c_addr: int, register: int, data: list[int]) -> None: ...

    def read_byte(self, i2c_addr: int) -> int: ...

    def write_byte(self, i2c_addr: int, value: int) -> None: ...

    def i2c_rdwr(self, *i2c_msgs: Any) -> None:
        """Combined raw transfers (the PCF8575 has no registers: plain two-byte reads)."""
        ...

    def close(self) -> None: ...


class Buses(Protocol):
    """The buses of one machine, real or emulated."""

    #: True when the buses are emulated: drivers may skip real-time waits that only a chip needs.
    emulated: bool

    def i2c(self, bus: int) -> SMBusLike:
        """An open I2C bus; :class:`BusMissingError` when ``/dev/i2c-<bus>`` does not exist."""
        ...

    def one_wire_root(self, sysfs_root: str) -> Path:
        """The folder holding ``28-*/w1_slave`` files."""
        ...

    def modbus_tcp(self, host: str, port: int) -> tuple[str, int]:
        """Where to connect for the Modbus TCP device the layout puts at ``host:port``."""
        ...

    def serial_port(self, port: str) -> str:
        """The serial device to open for the layout's ``port``."""
        ...

    def gpio_pin_factory(self) -> Any:
        """A gpiozero pin factory (``None`` means gpiozero's default, the Pi's own pins)."""
        ...


class SystemBuses:
    """The Pi's own buses."""

    emulated = False

    def i2c(self, bus: int) -> SMBusLike:
        dev = Path(f"/dev/i2c-{bus}")
        if not dev.exists():
            raise BusMissingError(
                f"i2c-{bus}", f"{dev} does not exist (enable I2C: raspi-config → Interface Options)"
            )
        from smbus2 import SMBus  # noqa: PLC0415 - only a Pi needs it loaded

        bus_obj: SMBusLike = SMBus(bus)
        return bus_obj

    def one_wire_root(self, sysfs_root: str) -> Path:
        root = Path(sysfs_root)
        if not root.is_dir():
            raise BusMissingError(
                "1-wire", f"{root} does not exist (enable 1-Wire: raspi-config → Interface Options)"
            )
        return root

    def modbus_tcp(self, host: str, port: int) -> tuple[str, int]:
        return host, port

    def serial_port(self, port: str) -> str:
        if not os.path.exists(port):  # noqa: PTH110 - a device node, not a file we read
            raise BusMissingError(
                port, f"serial port {port} does not exist (is the RS-485 adapter plugged in?)"
            )
        return port

    def gpio_pin_factory(self) -> Any:
        return None


class Emulation(Protocol):
    """A simulated machine for one house: its emulated buses and what drives their values.

    ``start()`` brings the emulators up (Modbus servers on 127.0.0.1, a 1-Wire tree), ``run()``
    keeps their values moving with the simulated house until cancelled, ``stop()`` tears them
    down. The simulator sees the relays through the emulated chips themselves.
    """

    buses: Buses
    #: An in-process uplink to a simulated ATN, or None (then the SCADA runs LocalControl, or
    #: uses the MQTT uplink it was given).
    uplink: Uplink | None

    async def start(self) -> None: ...

    async def run(self) -> None: ...

    async def stop(self) -> None: ...


class EmulationProvider(Protocol):
    """What the ``gwscada.buses`` entry point loads."""

    def __call__(
        self, layout: Layout, workdir: Path, clock: Clock, *, atn: bool, faults: Path | None
    ) -> Emulation: ...


class NoEmulatorError(Exception):
    """No package provides emulated buses (the ``sim`` package is not installed)."""


class EmulationError(ValueError):
    """The provider cannot simulate the house as asked. The message names the file at fault;
    ``option`` names the command-line option that gave it ("" when it is the house's own: a
    weather or price profile, its simulation settings)."""

    def __init__(self, message: str, *, option: str = "") -> None:
        super().__init__(message)
        self.option = option


def emulation(
    layout: Layout,
    workdir: Path,
    clock: Clock,
    *,
    atn: bool = True,
    faults: Path | None = None,
    name: str = "sim",
) -> Emulation:
    """A simulated machine for ``layout`` (with a simulated ATN in-process when ``atn``, and
    the faults of the plan file ``faults`` injected on the clock), from the provider
    registered as ``name``."""
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.name == name:
            provider: EmulationProvider = ep.load()
            return provider(layout, workdir, clock, atn=atn, faults=faults)
    raise NoEmulatorError(
        f"no bus emulator '{name}' is installed (entry point group {ENTRY_POINT_GROUP}); "
        "install the project with its sim package"
    )
