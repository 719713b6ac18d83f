"""An emulated Linux 1-Wire sysfs tree: ``<root>/28-<serial>/w1_slave`` files.

Each file is what the kernel's ``w1-therm`` returns: the nine scratchpad bytes with their
Dallas CRC-8 and the verdict, then the bytes again with ``t=<milli-°C>``. Temperatures are
quantised to the sensor's 12-bit resolution (1/16 °C), as a real probe's are.

Faults: :meth:`OneWireTree.crc_error` (``NO``), :meth:`~OneWireTree.power_on` (85 °C),
:meth:`~OneWireTree.all_zero` (a probe that lost power mid-read), :meth:`~OneWireTree.remove`
(the probe leaves the bus), :meth:`~OneWireTree.truncate` (a short read), and
:meth:`~OneWireTree.write_raw` for anything else. Files are replaced atomically, so a reader in
another thread never sees half a file.
"""

from __future__ import annotations

import os
import shutil
from functools import lru_cache
from pathlib import Path

POWER_ON_RAW = 0x0550  # 85 °C: the scratchpad's reset value


def dallas_crc8(data: bytes | list[int]) -> int:
    """The 1-Wire CRC-8 (polynomial x^8 + x^5 + x^4 + 1, reflected)."""
    crc = 0
    for byte in data:
        b = byte
        for _ in range(8):
            mix = (crc ^ b) & 1
            crc >>= 1
            if mix:
                crc ^= 0x8C
            b >>= 1
    return crc


def scratchpad(raw: int) -> list[int]:
    """The nine scratchpad bytes of a 12-bit reading ``raw`` (1/16 °C, two's complement)."""
    raw &= 0xFFFF
    body = [raw & 0xFF, raw >> 8, 0x4B, 0x46, 0x7F, 0xFF, 0x10 - (raw & 0x0F) or 0x10, 0x10]
    return [*body, dallas_crc8(body)]


def w1_slave_text(pad: list[int], crc_ok: bool | None = None) -> str:
    """The two lines of ``w1_slave`` for a scratchpad, as the kernel prints them."""
    hexes = " ".join(f"{b:02x}" for b in pad)
    good = dallas_crc8(pad[:8]) == pad[8] if crc_ok is None else crc_ok
    raw = pad[0] | pad[1] << 8
    signed = raw - 0x10000 if raw & 0x8000 else raw
    milli = int(signed * 1000 / 16)
    return f"{hexes} : crc={pad[8]:02x} {'YES' if good else 'NO'}\n{hexes} t={milli}\n"


@lru_cache(maxsize=4096)
def _reading_text(raw: int) -> str:
    """The file of a good reading ``raw`` (1/16 °C): a probe reads the same few values again
    and again, and the two CRCs cost more than the write."""
    return w1_slave_text(scratchpad(raw))


class OneWireTree:
    """DS18B20 probes as sysfs folders under ``root``."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.root.mkdir(parents=True, exist_ok=True)
        # What each probe's file holds, as written here: a probe that reads the same is not
        # rewritten, and a probe folder made once is not made again (a simulated house
        # refreshes its probes thousands of times a day).
        self._written: dict[str, str] = {}
        self._paths: dict[str, str] = {}

    def path(self, hw_id: str) -> Path:
        return self.root / hw_id / "w1_slave"

    def write_raw(self, hw_id: str, text: str) -> None:
        """Put ``text`` in the probe's file (created with its folder if need be)."""
        known = self._written.get(hw_id)
        if known == text:
            return
        path = self._paths.get(hw_id)
        if known is None or path is None:
            file = self.path(hw_id)
            file.parent.mkdir(parents=True, exist_ok=True)
            path = self._paths[hw_id] = str(file)
        tmp = f"{path}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            os.write(fd, text.encode("ascii"))
        finally:
            os.close(fd)
        os.replace(tmp, path)  # noqa: PTH105 - os-level: tens of thousands a simulated day
        self._written[hw_id] = text

    def set_temperature(self, hw_id: str, t_c: float) -> None:
        """The probe ``hw_id`` reads ``t_c`` °C (to 1/16 °C)."""
        self.write_raw(hw_id, _reading_text(round(t_c * 16)))

    def crc_error(self, hw_id: str, t_c: float = 20.0) -> None:
        """The scratchpad arrived corrupted: a byte flipped, the kernel says ``NO``."""
        pad = scratchpad(round(t_c * 16))
        pad[2] ^= 0x20
        self.write_raw(hw_id, w1_slave_text(pad))

    def power_on(self, hw_id: str) -> None:
        """The probe answers its power-on scratchpad: 85 °C with a good CRC."""
        self.write_raw(hw_id, w1_slave_text(scratchpad(POWER_ON_RAW)))

    def all_zero(self, hw_id: str) -> None:
        """The probe lost power mid-read: nine zero bytes, whose CRC (0) is good."""
        self.write_raw(hw_id, w1_slave_text([0] * 9))

    def truncate(self, hw_id: str) -> None:
        """A short read: the file is empty."""
        self.write_raw(hw_id, "")

    def remove(self, hw_id: str) -> None:
        """The probe leaves the bus: its folder vanishes."""
        self._written.pop(hw_id, None)
        shutil.rmtree(self.root / hw_id, ignore_errors=True)
