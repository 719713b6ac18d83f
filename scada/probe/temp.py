"""Temperature probes: the raw value, the converted °C and the health of one channel."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from scada.clock import Clock, SystemClock
from scada.drivers.ads1115 import (
    Ads1115Thermistors,
    divider_fault,
    ohms_to_celsius,
    thermistor_ohms,
)
from scada.drivers.buses import Buses
from scada.drivers.ds18b20 import Ds18b20Probes, parse_w1_slave
from scada.drivers.errors import (
    BusMissingError,
    DeviceGarbageError,
    DeviceTimeoutError,
    DriverError,
)
from scada.layout import Channel, Device, Layout, Quantity, Thermistor
from scada.layout.model import OneWireBus
from scada.probe.common import (
    TEMP_DEVICES,
    ProbeError,
    build_driver,
    bus_path,
    describe,
    ms_since,
    unknown,
)


@dataclass(frozen=True, slots=True)
class TempReading:
    """One temperature channel read once."""

    channel: str
    node: str
    device: str
    source: str  # AIN1 of /dev/i2c-1 0x48, or the probe's 28-… id
    raw: str  # what the hardware said: volts (and ohms), or the 1-Wire scratchpad line
    value_c: float | None
    error: str | None
    read_ms: float

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def health(self) -> str:
        return "ok" if self.error is None else self.error


@dataclass(frozen=True, slots=True)
class TempProbe:
    readings: tuple[TempReading, ...]

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.readings)


def find_temps(layout: Layout, name: str) -> list[Channel]:
    """The temperature channels ``name`` stands for: a channel, a node or a device name."""
    kinds = {d.name: d.make_model for d in layout.devices}
    temps = [c for c in layout.channels if kinds[c.device] in TEMP_DEVICES]
    found = [c for c in temps if name in {c.name, c.node, c.device}]
    if found:
        return found
    other = next((c for c in layout.channels if name in {c.name, c.node, c.device}), None)
    if other is not None:
        hint = (
            f"try scada probe meter {other.device}"
            if other.quantity is Quantity.POWER
            else "it is not read by a temperature probe"
        )
        raise ProbeError(f"{name} is not a temperature channel ({other.quantity.value}): {hint}")
    choices = {c.name for c in temps} | {c.node for c in temps} | {c.device for c in temps}
    raise unknown("temperature channel", name, layout, sorted(choices))


async def probe_temp(
    layout: Layout, buses: Buses, channels: Sequence[Channel], *, clock: Clock | None = None
) -> TempProbe:
    """Read each of ``channels`` once through its device's driver."""
    clock = clock or SystemClock()
    devices = {d.name: d for d in layout.devices}
    out: list[TempReading] = []
    for dev_name in dict.fromkeys(c.device for c in channels):
        device = devices[dev_name]
        mine = [c for c in channels if c.device == dev_name]
        driver = build_driver(layout, device, buses, clock)
        try:
            try:
                await driver.open()
            except DriverError as e:
                raise ProbeError(describe(e, device)) from None
            if isinstance(driver, Ads1115Thermistors):
                out += [await _read_thermistor(driver, device, ch) for ch in mine]
            elif isinstance(driver, Ds18b20Probes):
                out += await _read_ds18b20(buses, device, mine)
            else:  # find_temps only hands out temperature devices
                raise ProbeError(f"{dev_name} is not a temperature device")
        finally:
            await driver.close()
    return TempProbe(tuple(out))


async def _read_thermistor(adc: Ads1115Thermistors, device: Device, ch: Channel) -> TempReading:
    assert ch.device_channel is not None  # the driver refuses a channel without its input
    ain = ch.device_channel
    th = ch.thermistor or Thermistor()
    source = f"AIN{ain} of {bus_path(device)}"
    t = time.perf_counter()
    try:
        volts = await adc.read_volts(ain)
    except DriverError as e:
        return TempReading(
            ch.name, ch.node, device.name, source, "—", None, describe(e, device), ms_since(t)
        )
    fault = divider_fault(volts, th)
    if fault is not None:
        err = DeviceGarbageError(device.name, f"{ch.name} (AIN{ain}): {fault}")
        return TempReading(
            ch.name,
            ch.node,
            device.name,
            source,
            f"{volts:.4f} V",
            None,
            describe(err, device, hint=False),
            ms_since(t),
        )
    ohms = thermistor_ohms(volts, th)
    value = round(ohms_to_celsius(ohms, th), 3)
    raw = f"{volts:.4f} V = {ohms:,.0f} Ω"
    return TempReading(ch.name, ch.node, device.name, source, raw, value, None, ms_since(t))


async def _read_ds18b20(
    buses: Buses, device: Device, channels: Sequence[Channel]
) -> list[TempReading]:
    assert isinstance(device.bus, OneWireBus)
    try:
        root = buses.one_wire_root(device.bus.sysfs_root)
    except BusMissingError as e:
        raise ProbeError(describe(BusMissingError(device.name, e.reason), device)) from None
    out: list[TempReading] = []
    for ch in channels:
        assert ch.hw_id is not None  # the driver refuses a channel without its probe id
        path = root / ch.hw_id / "w1_slave"
        where = str(path)
        t = time.perf_counter()
        try:
            if buses.emulated:
                text = path.read_text(encoding="ascii", errors="replace")
            else:  # the read blocks for the conversion (~750 ms)
                text = await asyncio.to_thread(path.read_text, "ascii", "replace")
        except OSError as e:
            if isinstance(e, FileNotFoundError):
                reason = (
                    f"{ch.name}: sensor {ch.hw_id} not on the bus{_other_probes(root, channels)}"
                )
            else:
                reason = f"{ch.name}: sensor {ch.hw_id} read failed ({e.strerror or e})"
            error = describe(DeviceTimeoutError(device.name, reason), device, where)
            out.append(
                TempReading(ch.name, ch.node, device.name, ch.hw_id, "—", None, error, ms_since(t))
            )
            continue
        result = parse_w1_slave(text)
        raw = _scratchpad(text)
        if isinstance(result, str):
            err = DeviceGarbageError(device.name, f"{ch.name}: sensor {ch.hw_id}: {result}")
            error = describe(err, device, where)
            out.append(
                TempReading(ch.name, ch.node, device.name, ch.hw_id, raw, None, error, ms_since(t))
            )
        else:
            out.append(
                TempReading(ch.name, ch.node, device.name, ch.hw_id, raw, result, None, ms_since(t))
            )
    return out


def _other_probes(root: Path, channels: Sequence[Channel]) -> str:
    """What else is on the 1-Wire bus: a probe the layout does not name is often the one."""
    named = {c.hw_id for c in channels}
    try:
        seen = sorted(p.name for p in root.glob("28-*"))
    except OSError:
        return ""
    others = [s for s in seen if s not in named]
    if not seen:
        return " (no DS18B20 answers on the bus at all)"
    if others:
        return f" (on the bus but not in the layout: {', '.join(others)})"
    return ""


def _scratchpad(text: str) -> str:
    """The ``w1_slave`` file in short: ``t=23125, crc=57 YES``."""
    lines = [ln.strip() for ln in text.strip().splitlines()]
    if len(lines) >= 2 and "t=" in lines[1] and "crc=" in lines[0]:
        temp = lines[1][lines[1].rindex("t=") :]
        crc = lines[0][lines[0].index("crc=") :]
        return f"{temp}, {crc}"
    flat = " | ".join(lines)
    return flat if len(flat) <= 60 else flat[:59] + "…"
