"""NCD PR8-14 SPST relay board: four relays on GP0-GP3 of an MCP23008 I/O expander over I2C.

Registers used: IODIR (0x00, 1 = input), GPIO (0x09, the pin levels) and OLAT (0x0A, the output
latch, i.e. what was commanded). The driver

* sets the relay pins to outputs **without pulsing a load** (defect 35): pins that are already
  outputs (a SCADA restart on a powered board) keep their latch untouched; pins that are still
  inputs (the board just powered up, or was reset) drive nothing yet, so their latch bits are
  set to the *released* level first and only then does IODIR make them outputs;
* switches one relay by a read-modify-write of OLAT under the one lock of its physical bus, so
  two relays or two boards never overwrite each other (defect 2);
* confirms every switch by reading the pin back from GPIO (defect 36: state is the hardware's,
  not software's) and raises :class:`ReadBackMismatchError` when the pin disagrees;
* re-runs the set-up whenever it finds the relay pins back at inputs (the board lost power).

``active_low`` of a layout actuator inverts that pin: energized means the pin is low.
"""

from __future__ import annotations

from collections.abc import Sequence

from scada.drivers.buses import Buses, SMBusLike
from scada.drivers.errors import DeviceGarbageError, DriverError, ReadBackMismatchError
from scada.drivers.i2c_io import I2cEndpoint
from scada.layout import Actuator, Device

IODIR = 0x00
GPIO = 0x09
OLAT = 0x0A

#: Relays of an NCD PR8-14 SPST board: GP0-GP3 (GP4-GP7 stay inputs).
PR8_14_RELAYS = 4


class Mcp23008RelayBoard:
    """A :class:`~scada.drivers.base.RelayBoard` on an MCP23008.

    Args:
        device: the layout device (its I2C bus and address).
        actuators: the layout actuators; those on ``device`` give each channel's polarity.
        buses: where to find ``/dev/i2c-<bus>`` (the Pi's, or an emulator's).
        relay_pins: how many low GP pins drive relays (4 on the PR8-14).
    """

    def __init__(
        self,
        device: Device,
        actuators: Sequence[Actuator],
        buses: Buses,
        *,
        relay_pins: int = PR8_14_RELAYS,
    ) -> None:
        if not 1 <= relay_pins <= 8:
            raise ValueError(f"{device.name}: an MCP23008 has 8 pins, not {relay_pins}")
        self.name = device.name
        self._io = I2cEndpoint(device, buses)
        self._relays = relay_pins
        self._out_mask = (1 << relay_pins) - 1
        self._iodir = 0xFF & ~self._out_mask
        self._active_low = {
            a.board_channel: a.active_low for a in actuators if a.device == device.name
        }
        for ch in self._active_low:
            if not 0 <= ch < relay_pins:
                raise ValueError(f"{device.name}: relay {ch} is not on this board")
        # The latch bits of every relay pin at its released level.
        self._released = sum(1 << ch for ch, low in self._active_low.items() if low)

    # ------------------------------------------------------------------ the seam

    async def open(self) -> None:
        await self._io.transact("setting up IODIR", self._set_up)

    async def write(self, channel: int, energized: bool) -> None:
        self._check(channel)
        mask = 1 << channel
        high = self._level(channel, energized)

        def switch(bus: SMBusLike) -> int:
            self._set_up(bus)
            olat = bus.read_byte_data(self._io.address, OLAT)
            new = olat | mask if high else olat & ~mask
            if new != olat:
                bus.write_byte_data(self._io.address, OLAT, new)
            return bus.read_byte_data(self._io.address, GPIO)

        gpio = await self._io.transact(f"switching relay {channel}", switch)
        if bool(gpio & mask) != high:
            want = "energized" if energized else "released"
            raise ReadBackMismatchError(
                self.name,
                f"relay {channel} was {want} but GP{channel} reads "
                f"{'high' if gpio & mask else 'low'} (GPIO=0x{gpio:02x}; output stuck?)",
            )

    async def read(self, channel: int) -> bool:
        self._check(channel)
        gpio = await self._io.transact(f"reading relay {channel}", self._read_pins)
        return self._energized(gpio, channel)

    async def read_all(self, channels: Sequence[int]) -> dict[int, bool]:
        for ch in channels:
            self._check(ch)
        gpio = await self._io.transact("reading the relays", self._read_pins)
        return {ch: self._energized(gpio, ch) for ch in channels}

    async def close(self) -> None:
        self._io.close()

    # ------------------------------------------------------------------ helpers

    def _check(self, channel: int) -> None:
        if not 0 <= channel < self._relays:
            raise DriverError(
                self.name, f"relay {channel} is not on this board (relays 0-{self._relays - 1})"
            )

    def _read_pins(self, bus: SMBusLike) -> int:
        self._set_up(bus)
        return bus.read_byte_data(self._io.address, GPIO)

    def _energized(self, gpio: int, channel: int) -> bool:
        return bool(gpio & (1 << channel)) != self._active_low.get(channel, False)

    def _level(self, channel: int, energized: bool) -> bool:
        """The pin level that puts ``channel`` in the ``energized`` state."""
        return energized != self._active_low.get(channel, False)

    def _set_up(self, bus: SMBusLike) -> None:
        """Make the relay pins outputs without moving any of them. Runs under the bus lock."""
        addr = self._io.address
        iodir = bus.read_byte_data(addr, IODIR)
        if iodir == self._iodir:
            return
        inputs = iodir & self._out_mask
        if inputs:
            # These pins drive nothing yet: latch the released level before they become outputs.
            olat = bus.read_byte_data(addr, OLAT)
            new = (olat & ~inputs) | (self._released & inputs)
            if new != olat:
                bus.write_byte_data(addr, OLAT, new)
        bus.write_byte_data(addr, IODIR, self._iodir)
        seen = bus.read_byte_data(addr, IODIR)
        if seen != self._iodir:
            raise DeviceGarbageError(
                self.name,
                f"IODIR reads 0x{seen:02x} after writing 0x{self._iodir:02x} at "
                f"{self._io.where} (is this an MCP23008?)",
            )
