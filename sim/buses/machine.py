"""The emulated machine: a :class:`scada.drivers.buses.Buses` over the bus emulators.

``EmulatedBuses`` hands the real drivers emulated I2C buses, a 1-Wire tree in a folder and
gpiozero mock pins. A bus that was not added is missing, as on a Pi without it enabled:
:class:`~scada.drivers.errors.BusMissingError` with the path. :meth:`EmulatedBuses.populate`
puts an emulated chip at every I2C address of a layout, every DS18B20 probe in the tree and
every GPIO pin in the mock factory, each reading a plain mid-range value until the simulator
gives them physics.

``emulated=True`` (the default) lets the drivers run bus calls inline and skip chip waits; with
``emulated=False`` the very same emulators are driven through the real-bus code path (worker
threads, conversion waits), which the tests use to cover that path too.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from scada.drivers.buses import SMBusLike
from scada.drivers.errors import BusMissingError
from scada.layout import Layout, MakeModel
from scada.layout.model import I2cBus
from sim.buses.gpio import MockGpio
from sim.buses.i2c import EmulatedAds1115, EmulatedI2c, EmulatedMcp23008, EmulatedPcf8575
from sim.buses.one_wire import OneWireTree


class EmulatedBuses:
    """The buses of an emulated Pi."""

    def __init__(self, *, emulated: bool = True, one_wire_root: Path | None = None) -> None:
        self.emulated = emulated
        self.i2c_buses: dict[int, EmulatedI2c] = {}
        self.one_wire = OneWireTree(one_wire_root) if one_wire_root is not None else None
        self.gpio = MockGpio()
        #: Modbus TCP endpoints by the layout's (host, port); the meter emulators fill this.
        self.modbus: dict[tuple[str, int], tuple[str, int]] = {}
        #: Serial ports by the layout's name (a pseudo-terminal for an emulated RTU meter).
        self.serial: dict[str, str] = {}

    def add_i2c(self, bus: int = 1) -> EmulatedI2c:
        return self.i2c_buses.setdefault(bus, EmulatedI2c(bus))

    # ------------------------------------------------------------ the Buses seam

    def i2c(self, bus: int) -> SMBusLike:
        emulated = self.i2c_buses.get(bus)
        if emulated is None:
            raise BusMissingError(f"i2c-{bus}", f"/dev/i2c-{bus} does not exist (emulated)")
        return emulated

    def one_wire_root(self, sysfs_root: str) -> Path:
        if self.one_wire is None:
            raise BusMissingError("1-wire", f"{sysfs_root} does not exist (emulated)")
        return self.one_wire.root

    def modbus_tcp(self, host: str, port: int) -> tuple[str, int]:
        return self.modbus.get((host, port), (host, port))

    def serial_port(self, port: str) -> str:
        if port not in self.serial:
            raise BusMissingError(port, f"serial port {port} does not exist (emulated)")
        return self.serial[port]

    def gpio_pin_factory(self) -> Any:
        return self.gpio.factory

    # ------------------------------------------------------------ a whole house

    def populate(self, layout: Layout, one_wire_root: Path) -> None:
        """An emulated chip for every I2C device of ``layout``, a probe for every DS18B20."""
        if self.one_wire is None:
            self.one_wire = OneWireTree(one_wire_root)
        for dev in layout.devices:
            if isinstance(dev.bus, I2cBus):
                bus = self.add_i2c(dev.bus.bus)
                if dev.make_model is MakeModel.NCD_PR8_14_SPST:
                    bus.attach(dev.bus.address, EmulatedMcp23008())
                elif dev.make_model is MakeModel.KRIDA_EMR16_I2C:
                    bus.attach(dev.bus.address, EmulatedPcf8575())
                elif dev.make_model is MakeModel.NCD_ADS1115:
                    adc = bus.attach(dev.bus.address, EmulatedAds1115())
                    for ch in layout.channels:
                        if ch.device == dev.name and ch.device_channel is not None:
                            lo, hi = ch.plausible_range
                            adc.set_temperature(ch.device_channel, (lo + hi) / 2, ch.thermistor)
            elif dev.make_model is MakeModel.ADAFRUIT_642:
                for ch in layout.channels:
                    if ch.device == dev.name and ch.hw_id:
                        lo, hi = ch.plausible_range
                        self.one_wire.set_temperature(ch.hw_id, (lo + hi) / 2)

    def close(self) -> None:
        self.gpio.close()
