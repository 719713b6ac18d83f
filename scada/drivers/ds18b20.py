"""DS18B20 probes (Adafruit 642) through the Linux 1-Wire files.

The kernel (``w1-gpio`` + ``w1-therm``) gives each probe a folder ``28-<serial>`` with a file
``w1_slave`` whose read starts a conversion (~750 ms at 12 bits) and returns two lines::

    72 01 4b 46 7f ff 0e 10 57 : crc=57 YES
    72 01 4b 46 7f ff 0e 10 57 t=23125

Line 1 ends in ``YES`` when the scratchpad's CRC is good; line 2 ends with the temperature in
milli-°C. What is not a reading is that channel's error, never a number (defect 17):

* a CRC failure (``NO``), a short or malformed file → :class:`DeviceGarbageError`;
* exactly 85 000 — the power-on value of the scratchpad: the conversion never ran;
* 0 with an all-zero scratchpad — the probe lost power mid-read (the CRC of zeros is zero, so
  the kernel says ``YES``);
* anything outside the sensor's -55..125 °C range;
* no folder for the probe → :class:`DeviceTimeoutError` ("not on the bus").

The file read blocks for the conversion, so it runs in a worker thread on a real bus; inline on
an emulated one (the emulator writes the files ready-made).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from pathlib import Path

from scada.drivers.base import ChannelValue
from scada.drivers.buses import Buses
from scada.drivers.errors import (
    BusMissingError,
    DeviceGarbageError,
    DeviceTimeoutError,
    DriverError,
)
from scada.layout import Channel, Device
from scada.layout.model import OneWireBus

POWER_ON_MILLI_C = 85_000
MIN_MILLI_C = -55_000
MAX_MILLI_C = 125_000
SCRATCHPAD_BYTES = 9


def parse_w1_slave(text: str) -> float | str:
    """The temperature in °C from a ``w1_slave`` file, or why it is not a reading."""
    lines = text.strip().splitlines()
    if len(lines) < 2:
        return f"short read ({len(lines)} line{'s' if len(lines) != 1 else ''})"
    crc_line, data_line = lines[0].strip(), lines[1].strip()
    if not crc_line.endswith("YES"):
        return "CRC error" + (" (kernel says NO)" if crc_line.endswith("NO") else "")
    head, sep, value = data_line.rpartition("t=")
    if not sep:
        return f"no t= in {data_line!r}"
    try:
        milli = int(value)
    except ValueError:
        return f"t={value!r} is not a number"
    data = head.split()
    if milli == POWER_ON_MILLI_C:
        return "85 °C power-on value: the conversion did not run (probe power?)"
    if milli == 0 and len(data) >= SCRATCHPAD_BYTES and all(b == "00" for b in data):
        return "all-zero scratchpad: the probe lost power during the read"
    if not MIN_MILLI_C <= milli <= MAX_MILLI_C:
        return f"{milli / 1000:g} °C is outside the sensor's -55..125 °C range"
    return milli / 1000


class Ds18b20Probes:
    """A :class:`~scada.drivers.base.SensorDevice`: DS18B20 probes on the 1-Wire bus.

    Args:
        device: the layout device (its ``sysfs_root``).
        channels: the layout channels of ``device``; ``hw_id`` is each probe's sysfs folder name
            (``28-000000033ffe``).
        buses: where the 1-Wire folder is (``/sys/bus/w1/devices``, or an emulator's).
    """

    def __init__(self, device: Device, channels: Sequence[Channel], buses: Buses) -> None:
        if not isinstance(device.bus, OneWireBus):
            raise TypeError(f"{device.name}: {device.make_model.value} needs a one_wire bus")
        self.name = device.name
        self._sysfs_root = device.bus.sysfs_root
        self._buses = buses
        self._root: Path | None = None
        self._probes: dict[str, str] = {}
        for ch in channels:
            if ch.device != device.name:
                continue
            if not ch.hw_id:
                raise ValueError(f"{ch.name}: a DS18B20 channel needs hw_id (28-<serial>)")
            self._probes[ch.name] = ch.hw_id
        self._paths: dict[str, Path] = {}  # hw_id -> its w1_slave file, under the root found

    async def open(self) -> None:
        self._find_root()

    async def read(self, channels: Sequence[str]) -> Mapping[str, ChannelValue]:
        root = self._find_root()
        out: dict[str, ChannelValue] = {}
        for name in channels:
            hw_id = self._probes.get(name)
            if hw_id is None:
                out[name] = DriverError(self.name, f"channel {name} is not on this device")
                continue
            out[name] = await self._read_probe(root, name, hw_id)
        return out

    async def close(self) -> None:
        self._root = None
        self._paths.clear()  # the root is looked for afresh

    def _find_root(self) -> Path:
        if self._root is None:
            try:
                self._root = self._buses.one_wire_root(self._sysfs_root)
            except BusMissingError as e:
                raise BusMissingError(self.name, e.reason) from None
        return self._root

    async def _read_probe(self, root: Path, name: str, hw_id: str) -> ChannelValue:
        path = self._paths.get(hw_id)
        if path is None:
            path = self._paths[hw_id] = root / hw_id / "w1_slave"
        try:
            if self._buses.emulated:
                text = path.read_text(encoding="ascii", errors="replace")
            else:
                text = await asyncio.to_thread(path.read_text, "ascii", "replace")
        except FileNotFoundError:
            return DeviceTimeoutError(self.name, f"{name}: sensor {hw_id} not on the bus")
        except OSError as e:
            # The kernel answers EIO/ENXIO when the probe stops answering mid-read.
            return DeviceTimeoutError(
                self.name, f"{name}: sensor {hw_id} read failed ({e.strerror or e})"
            )
        result = parse_w1_slave(text)
        if isinstance(result, str):
            return DeviceGarbageError(self.name, f"{name}: sensor {hw_id}: {result}")
        return result
