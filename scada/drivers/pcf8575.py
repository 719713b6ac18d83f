"""Krida EMR16 16-relay board: a PCF8575-style 16-bit quasi-bidirectional port over I2C.

The chip has no registers: a write transaction sends two bytes (P00-P07, then P10-P17) and a
read transaction returns the two bytes of pin levels. The driver therefore speaks plain I2C
transactions (``i2c_rdwr``), never the SMBus register calls, whose command byte would itself be
written to the port.

* Relays energise when their pin is **low** (``active_low`` on the layout's actuators).
* Board channel → pin comes from a table (:data:`KRIDA_EMR16_PINS`): relays 1-8 of a board run in
  reverse pin order (relay 1 is P07), relays 9-16 straight (relay 9 is P10).
* ``open`` only reads the port: writing at start would move every pin at once (the original
  energised every relay for a moment at start, defect 35). At power-up the port is all high,
  so every relay is released.
* A switch is a read-modify-write of the port under the one lock of the physical bus, confirmed
  by reading the port back (defects 2 and 36).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from smbus2 import i2c_msg

from scada.drivers.buses import Buses, SMBusLike
from scada.drivers.errors import DeviceGarbageError, DriverError, ReadBackMismatchError
from scada.drivers.i2c_io import I2cEndpoint
from scada.layout import Actuator, Device

#: Board channel (0-based; relay number - 1) → port pin (0-7 = P00-P07, 8-15 = P10-P17).
KRIDA_EMR16_PINS: tuple[int, ...] = (7, 6, 5, 4, 3, 2, 1, 0, 8, 9, 10, 11, 12, 13, 14, 15)


class Pcf8575RelayBoard:
    """A :class:`~scada.drivers.base.RelayBoard` on a PCF8575-style expander.

    Args:
        device: the layout device (its I2C bus and address).
        actuators: the layout actuators; those on ``device`` give each channel's polarity
            (Krida boards are active low; a channel without an actuator is taken as active low).
        buses: where to find ``/dev/i2c-<bus>``.
        pins: board channel → port pin; the Krida EMR16 table by default.
    """

    def __init__(
        self,
        device: Device,
        actuators: Sequence[Actuator],
        buses: Buses,
        *,
        pins: Sequence[int] = KRIDA_EMR16_PINS,
    ) -> None:
        if sorted(pins) != list(range(len(pins))) or len(pins) > 16:
            raise ValueError(f"{device.name}: the pin table must be a permutation of 0-15")
        self.name = device.name
        self._io = I2cEndpoint(device, buses)
        self._pins = tuple(pins)
        self._active_low = {
            a.board_channel: a.active_low for a in actuators if a.device == device.name
        }
        for ch in self._active_low:
            if not 0 <= ch < len(self._pins):
                raise ValueError(f"{device.name}: relay {ch} is not on this board")

    async def open(self) -> None:
        await self._io.transact("reading the port", self._read_port)

    async def write(self, channel: int, energized: bool) -> None:
        mask = 1 << self._pin(channel)
        high = energized != self._active_low.get(channel, True)

        def switch(bus: SMBusLike) -> int:
            port = self._read_port(bus)
            new = port | mask if high else port & ~mask
            if new != port:
                self._write_port(bus, new)
            return self._read_port(bus)

        port = await self._io.transact(f"switching relay {channel}", switch)
        if bool(port & mask) != high:
            want = "energized" if energized else "released"
            raise ReadBackMismatchError(
                self.name,
                f"relay {channel} (pin {self._pin_name(channel)}) was {want} but the pin reads "
                f"{'high' if port & mask else 'low'} (port=0x{port:04x}; output stuck?)",
            )

    async def read(self, channel: int) -> bool:
        mask = 1 << self._pin(channel)
        port = await self._io.transact(f"reading relay {channel}", self._read_port)
        return bool(port & mask) != self._active_low.get(channel, True)

    async def read_all(self, channels: Sequence[int]) -> dict[int, bool]:
        masks = {ch: 1 << self._pin(ch) for ch in channels}
        port = await self._io.transact("reading the relays", self._read_port)
        return {
            ch: bool(port & mask) != self._active_low.get(ch, True) for ch, mask in masks.items()
        }

    async def close(self) -> None:
        self._io.close()

    # ------------------------------------------------------------------ helpers

    def _pin(self, channel: int) -> int:
        if not 0 <= channel < len(self._pins):
            raise DriverError(
                self.name, f"relay {channel} is not on this board (0-{len(self._pins) - 1})"
            )
        return self._pins[channel]

    def _pin_name(self, channel: int) -> str:
        pin = self._pins[channel]
        return f"P{pin // 8}{pin % 8}"

    def _read_port(self, bus: SMBusLike) -> int:
        msg = i2c_msg.read(self._io.address, 2)
        bus.i2c_rdwr(msg)
        data: list[int] = list(cast("Any", msg))
        if len(data) != 2:
            raise DeviceGarbageError(self.name, f"short read of the port: {len(data)} bytes")
        return data[0] | data[1] << 8

    def _write_port(self, bus: SMBusLike, port: int) -> None:
        bus.i2c_rdwr(i2c_msg.write(self._io.address, [port & 0xFF, port >> 8]))
