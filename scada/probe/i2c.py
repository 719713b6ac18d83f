"""I2C scans like ``i2cdetect -r``, matched against the layout."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from scada.drivers.buses import Buses, SMBusLike
from scada.drivers.errors import BusMissingError
from scada.drivers.i2c_io import NO_ANSWER, bus_lock
from scada.layout import Layout
from scada.layout.model import I2cBus
from scada.probe.common import I2C_FIRST, I2C_LAST, ProbeError, ms_since

I2cStatus = Literal["ok", "missing", "unexpected"]


@dataclass(frozen=True, slots=True)
class I2cRow:
    address: int
    devices: tuple[str, ...]  # the layout devices at this address
    status: I2cStatus
    busy: bool = False  # claimed by a kernel driver (``UU`` in i2cdetect)


@dataclass(frozen=True, slots=True)
class I2cScan:
    """One bus scanned: which addresses answered, against what the layout puts there."""

    bus: int
    expected: Mapping[int, tuple[str, ...]]
    present: frozenset[int] = frozenset()
    busy: frozenset[int] = frozenset()
    error: str | None = None
    scan_ms: float = 0.0
    rows: tuple[I2cRow, ...] = field(init=False)

    def __post_init__(self) -> None:
        answering = self.present | self.busy
        rows = []
        for addr in sorted(answering | set(self.expected)):
            devices = self.expected.get(addr, ())
            status: I2cStatus = (
                "unexpected" if not devices else "ok" if addr in answering else "missing"
            )
            rows.append(I2cRow(addr, devices, status, addr in self.busy))
        object.__setattr__(self, "rows", tuple(rows) if self.error is None else ())

    @property
    def path(self) -> str:
        return f"/dev/i2c-{self.bus}"

    @property
    def ok(self) -> bool:
        return self.error is None and all(r.status != "missing" for r in self.rows)


def i2c_layout(layout: Layout) -> dict[int, dict[int, tuple[str, ...]]]:
    """Bus → address → the layout devices there."""
    out: dict[int, dict[int, list[str]]] = {}
    for d in layout.devices:
        if isinstance(d.bus, I2cBus):
            out.setdefault(d.bus.bus, {}).setdefault(d.bus.address, []).append(d.name)
    return {b: {a: tuple(names) for a, names in addrs.items()} for b, addrs in out.items()}


async def probe_i2c(
    layout: Layout, buses: Buses, bus_numbers: Sequence[int] | None = None
) -> tuple[I2cScan, ...]:
    """Scan each I2C bus of ``layout`` (or ``bus_numbers``) at 0x03-0x77 with a one-byte read."""
    expected = i2c_layout(layout)
    numbers = sorted(set(bus_numbers)) if bus_numbers else sorted(expected)
    if not numbers:
        raise ProbeError(
            f"{layout.house.alias} has no I2C devices: give --bus N to scan a bus anyway"
        )
    return tuple([await _scan_bus(buses, n, expected.get(n, {})) for n in numbers])


async def _scan_bus(buses: Buses, n: int, expected: Mapping[int, tuple[str, ...]]) -> I2cScan:
    users = sorted({d for names in expected.values() for d in names})
    needed = f" — the layout puts {', '.join(users)} there" if users else ""
    try:
        bus = buses.i2c(n)
    except BusMissingError as e:
        return I2cScan(n, expected, error=f"i2c-{n} (/dev/i2c-{n}): {e.reason}{needed}")
    except OSError as e:
        hint = " — add the user to the i2c group" if e.errno == errno.EACCES else ""
        error = f"i2c-{n} (/dev/i2c-{n}): cannot open: {e.strerror or e}{hint}"
        return I2cScan(n, expected, error=error)
    t = time.perf_counter()
    try:
        if buses.emulated:
            present, busy = _scan(bus)
        else:
            async with bus_lock(n):  # no driver of this process in the middle of the scan
                present, busy = await asyncio.to_thread(_scan, bus)
    finally:
        with contextlib.suppress(OSError):
            bus.close()
    return I2cScan(n, expected, frozenset(present), frozenset(busy), scan_ms=ms_since(t))


def _scan(bus: SMBusLike) -> tuple[set[int], set[int]]:
    """The addresses that answer a one-byte read, and those a kernel driver holds."""
    present: set[int] = set()
    busy: set[int] = set()
    for addr in range(I2C_FIRST, I2C_LAST + 1):
        try:
            bus.read_byte(addr)
        except OSError as e:
            if e.errno == errno.EBUSY:
                busy.add(addr)
            elif e.errno not in NO_ANSWER:
                continue  # any other bus error: nothing usable answers there either
        else:
            present.add(addr)
    return present, busy
