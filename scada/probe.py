"""Commissioning probes: one device at a time, read (or switched) once, with everything shown.

For an installer with a new board in hand. Each probe is a plain async function that runs the
real drivers (built by :func:`~scada.drivers.factory.build_devices`) on a :class:`Buses` — the
Pi's own (:class:`SystemBuses`), or the simulator's emulated machine under ``--sim``
(:func:`machine`) — and returns a result dataclass; ``scada probe …`` only prints it.

* :func:`probe_relay` reads a relay back from its board; with ``click`` it energizes it, reads
  it back, holds, releases it, reads it back, and always leaves it as it was found.
* :func:`probe_temp` reads temperature channels once: the raw value (the ADC volts, the 1-Wire
  scratchpad line), the converted °C and the health, through the drivers' own conversions.
* :func:`probe_meter` reads every register of a Modbus meter's map once, with units.
* :func:`probe_i2c` scans I2C buses like ``i2cdetect -r`` and matches what answers against the
  layout: expected and present, expected and missing, present and unexpected.

A probe that cannot run at all raises :class:`ProbeError`, whose message is one line naming the
device, its bus path and what to do.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import re
import socket
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from scada.api.paths import socket_candidates
from scada.clock import Clock, SystemClock
from scada.drivers.ads1115 import (
    Ads1115Thermistors,
    divider_fault,
    ohms_to_celsius,
    thermistor_ohms,
)
from scada.drivers.base import RelayBoard, SensorDevice
from scada.drivers.buses import Buses, NoEmulatorError, SMBusLike, SystemBuses, emulation
from scada.drivers.ds18b20 import Ds18b20Probes, parse_w1_slave
from scada.drivers.errors import (
    BusMissingError,
    DeviceGarbageError,
    DeviceRefusedError,
    DeviceTimeoutError,
    DriverError,
    ReadBackMismatchError,
)
from scada.drivers.factory import build_devices
from scada.drivers.i2c_io import NO_ANSWER, bus_lock
from scada.drivers.meters import MeterConfigError, ModbusMeter, WrongDeviceError
from scada.drivers.registers import RegisterMapError, RegisterSpec, load_table
from scada.layout import Channel, Device, Layout, MakeModel, Quantity, Thermistor, Unit
from scada.layout.errors import nearest
from scada.layout.houses import find_house
from scada.layout.load import load_layout
from scada.layout.model import GpioBus, I2cBus, ModbusRtuBus, ModbusTcpBus, OneWireBus
from scada.serve import DEFAULT_HOUSE

#: The house probed when neither ``--house`` nor ``--layout`` is given; else DEFAULT_HOUSE.
HOUSE_ENV = "SCADA_HOUSE"

#: The addresses ``i2cdetect`` scans: 0x00-0x02 and 0x78-0x7f are reserved.
I2C_FIRST = 0x03
I2C_LAST = 0x77

RELAY_BOARDS = frozenset(
    {MakeModel.NCD_PR8_14_SPST, MakeModel.KRIDA_EMR16_I2C, MakeModel.GPIO_RELAY}
)
TEMP_DEVICES = frozenset({MakeModel.NCD_ADS1115, MakeModel.ADAFRUIT_642})

_RETRY = re.compile(r";? ?(retrying|next try) in [\d.]+ s")


class ProbeError(Exception):
    """The probe could not run; the message is one line for the installer."""


# ------------------------------------------------------------------------ set-up


def resolve_layout(house: str | None = None, layout_file: Path | None = None) -> Layout:
    """The layout to probe: ``layout_file``, else the house ``house``, else ``$SCADA_HOUSE``,
    else :data:`DEFAULT_HOUSE`.

    Raises:
        LayoutError: the file is unreadable or invalid, or there is no such house.
    """
    if house and layout_file:
        raise ProbeError("give --house or --layout, not both")
    path = layout_file or find_house(house or os.environ.get(HOUSE_ENV, "") or DEFAULT_HOUSE)
    return load_layout(path)


@contextlib.asynccontextmanager
async def machine(layout: Layout, *, sim: bool, clock: Clock | None = None) -> AsyncIterator[Buses]:
    """The buses to probe on: the Pi's own, or (``sim``) the simulator's emulated machine for
    ``layout`` — started without a simulated ATN, stopped on the way out."""
    if not sim:
        yield SystemBuses()
        return
    with tempfile.TemporaryDirectory(prefix="scada-probe-") as workdir:
        try:
            emu = emulation(layout, Path(workdir), clock or SystemClock(), atn=False)
        except NoEmulatorError as e:
            raise ProbeError(str(e)) from None
        await emu.start()
        try:
            yield emu.buses
        finally:
            await emu.stop()


def running_scada(paths: Iterable[Path] | None = None, timeout_s: float = 0.5) -> Path | None:
    """The socket of a SCADA that answers (it may be driving the hardware), or None.

    Looks where ``scada status`` looks (:func:`~scada.api.paths.socket_candidates`).
    """
    for path in socket_candidates() if paths is None else paths:
        if not path.exists():
            continue
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(timeout_s)
            try:
                s.connect(str(path))
            except OSError:  # a stale socket file, or too long a path: nobody answers there
                continue
        return path
    return None


def bus_path(device: Device) -> str:
    """Where the layout puts ``device``: ``/dev/i2c-1 0x20``, ``/dev/ttyUSB0 9600 8E1 unit 12``."""
    bus = device.bus
    if isinstance(bus, I2cBus):
        return f"/dev/i2c-{bus.bus} 0x{bus.address:02x}"
    if isinstance(bus, OneWireBus):
        return bus.sysfs_root
    if isinstance(bus, ModbusTcpBus):
        return f"modbus-tcp {bus.host}:{bus.port} unit {bus.unit_id}"
    if isinstance(bus, ModbusRtuBus):
        return f"{bus.port} {bus.baud} 8{bus.parity}1 unit {bus.unit_id}"
    assert isinstance(bus, GpioBus)
    return f"/dev/gpiochip{bus.chip}"


def describe(
    err: DriverError, device: Device | None = None, where: str | None = None, *, hint: bool = True
) -> str:
    """One line for a driver error: the device, its bus path, why, and what to do (unless
    ``hint`` is False: the reason says it already)."""
    name = device.name if device is not None else err.device
    place = where or (bus_path(device) if device is not None else "")
    reason = _RETRY.sub("", err.reason).strip()
    fix = fix_hint(err, device) if hint else None
    head = f"{name} ({place})" if place else name
    return f"{head}: {reason}" + (f" — {fix}" if fix else "")


def fix_hint(err: DriverError, device: Device | None) -> str | None:
    """What an installer should check for ``err`` (None when the reason already says it)."""
    bus = device.bus if device is not None else None
    if isinstance(err, BusMissingError):
        return None  # the buses' reasons carry their own fix (raspi-config, the adapter)
    if isinstance(err, WrongDeviceError):
        return "check the unit id and hw_uid in the layout against the meter's display"
    if isinstance(err, MeterConfigError):
        return "fix the layout (scada layout check)"
    if isinstance(err, ReadBackMismatchError):
        return "the output does not follow its latch: a damaged driver chip or a shorted output"
    if isinstance(err, DeviceRefusedError):
        if isinstance(bus, ModbusTcpBus | ModbusRtuBus):
            return "check the register map (addresses, function, unit id) against the meter"
        return None
    if isinstance(err, DeviceGarbageError):
        if isinstance(bus, I2cBus):
            return "is the right chip at this address? (scada probe i2c)"
        if isinstance(bus, OneWireBus):
            return "check the probe's 3.3 V supply and wiring (three wires, no parasite power)"
        if isinstance(bus, ModbusTcpBus | ModbusRtuBus):
            return "check the register types and word order against the meter's manual"
        return None
    if isinstance(err, DeviceTimeoutError):
        if isinstance(bus, I2cBus):
            return (
                "check the board's power, the SDA/SCL wiring and its address jumpers "
                "(scada probe i2c lists what answers)"
            )
        if isinstance(bus, OneWireBus):
            return "check the probe's wiring and the 4.7 kΩ pull-up on the data line"
        if isinstance(bus, ModbusRtuBus):
            return (
                f"check the RS-485 wiring (A/B, termination) and the meter's settings: unit id "
                f"{bus.unit_id}, {bus.baud} baud, parity {bus.parity}"
            )
        if isinstance(bus, ModbusTcpBus):
            return f"check that {bus.host}:{bus.port} is reachable and its Modbus server is on"
    return None


def _build(layout: Layout, device: Device, buses: Buses, clock: Clock) -> SensorDevice | RelayBoard:
    """The real driver of ``device``, built by the driver factory from ``device`` alone."""
    part = layout.model_copy(
        update={
            "devices": (device,),
            "channels": tuple(c for c in layout.channels if c.device == device.name),
            "actuators": tuple(a for a in layout.actuators if a.device == device.name),
        }
    )
    built = build_devices(part, "real", clock, buses)
    if device.name in built.missing:
        reason = _RETRY.sub("", built.missing[device.name]).removeprefix(f"{device.name}: ")
        raise ProbeError(f"{device.name} ({bus_path(device)}): {reason}")
    driver = built.boards.get(device.name) or built.sensors.get(device.name)
    assert driver is not None
    return driver


def _unknown(what: str, name: str, layout: Layout, choices: Sequence[str]) -> ProbeError:
    near = nearest(name, choices)
    if near is not None:
        return ProbeError(f"no {what} '{name}' in {layout.house.alias} (did you mean '{near}'?)")
    if not choices:
        return ProbeError(f"{layout.house.alias} has no {what}s")
    listed = ", ".join(sorted(choices)[:8]) + (", …" if len(choices) > 8 else "")
    return ProbeError(f"no {what} '{name}' in {layout.house.alias} (there are: {listed})")


def _ms(since: float) -> float:
    return (time.perf_counter() - since) * 1000


# ------------------------------------------------------------------------ relays


@dataclass(frozen=True, slots=True)
class RelayTarget:
    """A relay: its actuator node (None for a bare ``board:channel``), board and channel."""

    node: str | None
    device: Device
    channel: int
    active_low: bool = False

    @property
    def label(self) -> str:
        return self.node or f"{self.device.name}:{self.channel}"


def find_relay(layout: Layout, name: str) -> RelayTarget:
    """The relay ``name``: an actuator node alias, or ``<board>:<channel>`` (0-based)."""
    devices = {d.name: d for d in layout.devices}
    for a in layout.actuators:
        if a.node == name:
            return RelayTarget(a.node, devices[a.device], a.board_channel, a.active_low)
    boards = [d.name for d in layout.devices if d.make_model in RELAY_BOARDS]
    board, sep, channel = name.rpartition(":")
    if sep and board in boards:
        try:
            ch = int(channel)
        except ValueError:
            raise ProbeError(f"'{channel}' is not a channel number: use {board}:0") from None
        act = next(
            (a for a in layout.actuators if a.device == board and a.board_channel == ch), None
        )
        dev = devices[board]
        if act is not None:
            return RelayTarget(act.node, dev, ch, act.active_low)
        # As the drivers take a channel no actuator describes: Krida relays energise low.
        return RelayTarget(None, dev, ch, dev.make_model is MakeModel.KRIDA_EMR16_I2C)
    if name in boards:
        mine = [a.node for a in layout.actuators if a.device == name]
        raise ProbeError(
            f"{name} is a relay board: name one of its relays ({', '.join(mine) or 'none'}) "
            f"or {name}:<channel>"
        )
    raise _unknown("relay", name, layout, [a.node for a in layout.actuators])


StepAction = Literal["read", "on", "hold", "off", "restore"]


@dataclass(frozen=True, slots=True)
class RelayStep:
    """One step of a relay probe: what was asked, what the board read back, how long it took."""

    action: StepAction
    wanted: bool | None  # energized?; None for a read or the hold
    read_back: bool | None  # the state read from the board after the step; None: unknown
    elapsed_ms: float
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and (self.wanted is None or self.read_back == self.wanted)


@dataclass(frozen=True, slots=True)
class RelayProbe:
    target: RelayTarget
    where: str
    clicked: bool
    original: bool
    steps: tuple[RelayStep, ...]
    final: bool | None  # the state read back at the end; None if it could not be read

    @property
    def restored(self) -> bool:
        return self.final == self.original

    @property
    def ok(self) -> bool:
        return self.restored and all(s.ok for s in self.steps)


async def probe_relay(
    layout: Layout,
    buses: Buses,
    target: RelayTarget,
    *,
    click: bool = False,
    hold_s: float = 1.0,
    clock: Clock | None = None,
    report: Callable[[RelayStep], None] | None = None,
) -> RelayProbe:
    """Read ``target`` back from its board; with ``click``: on, read back, hold ``hold_s``, off,
    read back. Whatever happens (a failed step, a cancel), the relay is left as it was found.

    ``report`` sees each step as it is done (the CLI prints them live).
    """
    clock = clock or SystemClock()
    device, ch = target.device, target.channel
    board = _build(layout, device, buses, clock)
    if not isinstance(board, RelayBoard):
        raise ProbeError(f"{device.name} is not a relay board")
    steps: list[RelayStep] = []

    def done(step: RelayStep) -> None:
        steps.append(step)
        if report is not None:
            report(step)

    try:
        t = time.perf_counter()
        try:
            await board.open()
            original = await board.read(ch)
        except DriverError as e:
            raise ProbeError(describe(e, device)) from None
        done(RelayStep("read", None, original, _ms(t)))
        final: bool | None = original
        if click:
            final = await _click(
                board,
                device=device,
                ch=ch,
                original=original,
                hold_s=hold_s,
                clock=clock,
                done=done,
            )
    finally:
        await board.close()
    return RelayProbe(target, bus_path(device), click, original, tuple(steps), final)


async def _click(
    board: RelayBoard,
    *,
    device: Device,
    ch: int,
    original: bool,
    hold_s: float,
    clock: Clock,
    done: Callable[[RelayStep], None],
) -> bool | None:
    """On, hold, off; then back to ``original``. Returns the state read back at the end."""
    try:
        for action in ("on", "hold", "off"):
            t = time.perf_counter()
            if action == "hold":
                await clock.sleep(hold_s)
                done(RelayStep("hold", None, None, _ms(t)))
                continue
            want = action == "on"
            try:
                await board.write(ch, want)
                seen = await board.read(ch)
            except DriverError as e:
                done(RelayStep("on" if want else "off", want, None, _ms(t), describe(e, device)))
                break
            if seen != want:
                error = f"{device.name} ({bus_path(device)}): relay {ch} reads back the other way"
                done(RelayStep("on" if want else "off", want, seen, _ms(t), error))
                break
            done(RelayStep("on" if want else "off", want, seen, _ms(t)))
    finally:
        final = await _restore(board, device, ch, original, done)
    return final


async def _restore(
    board: RelayBoard,
    device: Device,
    ch: int,
    original: bool,
    done: Callable[[RelayStep], None],
) -> bool | None:
    """Command ``original`` again and read it back. Always written, even when the relay already
    reads so: after a failed step the latch may disagree with a stuck pin, and the relay would
    follow the latch once the pin frees. The driver writes nothing when the latch agrees."""
    t = time.perf_counter()
    before: bool | None = None
    try:
        before = await board.read(ch)
        await board.write(ch, original)
        now = await board.read(ch)
    except DriverError as e:
        with contextlib.suppress(DriverError):  # once more, blind: it must not stay switched
            await board.write(ch, original)
        done(RelayStep("restore", original, None, _ms(t), describe(e, device)))
        return None
    if before != original or now != original:
        error = None if now == original else f"{device.name}: relay {ch} did not go back"
        done(RelayStep("restore", original, now, _ms(t), error))
    return now


# ------------------------------------------------------------------------ temperatures


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
    raise _unknown("temperature channel", name, layout, sorted(choices))


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
        driver = _build(layout, device, buses, clock)
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
            ch.name, ch.node, device.name, source, "—", None, describe(e, device), _ms(t)
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
            _ms(t),
        )
    ohms = thermistor_ohms(volts, th)
    value = round(ohms_to_celsius(ohms, th), 3)
    raw = f"{volts:.4f} V = {ohms:,.0f} Ω"
    return TempReading(ch.name, ch.node, device.name, source, raw, value, None, _ms(t))


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
                TempReading(ch.name, ch.node, device.name, ch.hw_id, "—", None, error, _ms(t))
            )
            continue
        result = parse_w1_slave(text)
        raw = _scratchpad(text)
        if isinstance(result, str):
            err = DeviceGarbageError(device.name, f"{ch.name}: sensor {ch.hw_id}: {result}")
            error = describe(err, device, where)
            out.append(
                TempReading(ch.name, ch.node, device.name, ch.hw_id, raw, None, error, _ms(t))
            )
        else:
            out.append(
                TempReading(ch.name, ch.node, device.name, ch.hw_id, raw, result, None, _ms(t))
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


# ------------------------------------------------------------------------ meters


@dataclass(frozen=True, slots=True)
class RegisterReading:
    """One register of a meter's map, read once."""

    name: str
    address: int
    type: str
    function: str
    unit: str
    value: float | str | None
    error: str | None = None
    #: The model's identity register when the layout gives no hw_uid: a meter that does not
    #: serve it is not at fault.
    optional: bool = False

    @property
    def ok(self) -> bool:
        return self.error is None or self.optional


@dataclass(frozen=True, slots=True)
class MeterProbe:
    device: str
    model: str
    where: str
    registers: tuple[RegisterReading, ...]
    read_ms: float
    #: The meter answering is not the one the layout names (its hardware id differs).
    identity_error: str | None = None
    #: How the map was read, when not in one go.
    note: str | None = None

    @property
    def ok(self) -> bool:
        return self.identity_error is None and all(r.ok for r in self.registers)


def find_meter(layout: Layout, name: str) -> Device:
    """The Modbus meter ``name``: a device name, or a channel or node it reads."""
    meters = {d.name: d for d in layout.devices if isinstance(d.bus, ModbusTcpBus | ModbusRtuBus)}
    if name in meters:
        return meters[name]
    for c in layout.channels:
        if c.device in meters and name in {c.name, c.node}:
            return meters[c.device]
    other = next((d for d in layout.devices if d.name == name), None)
    if other is not None:
        what = (
            "try scada probe relay <relay>"
            if other.make_model in RELAY_BOARDS
            else f"try scada probe temp {name}"
            if other.make_model in TEMP_DEVICES
            else "no probe reads it yet"
        )
        raise ProbeError(f"{name} is not a Modbus meter ({other.make_model.value}): {what}")
    raise _unknown("meter", name, layout, sorted(meters))


async def probe_meter(
    layout: Layout, buses: Buses, device: Device, *, clock: Clock | None = None
) -> MeterProbe:
    """Every register of ``device``'s map, and its model's identity register, read once.

    A whole-meter failure (no bus, no answer) raises :class:`ProbeError`; a register the meter
    refuses is that register's error, found by reading the map in smaller pieces.
    """
    clock = clock or SystemClock()
    meter = _build(layout, device, buses, clock)
    if not isinstance(meter, ModbusMeter):
        raise ProbeError(f"{device.name} is not a Modbus meter")
    identity_error: str | None = None
    note: str | None = None
    t = time.perf_counter()
    try:
        try:
            await meter.open()
        except (
            WrongDeviceError,
            DeviceRefusedError,
        ) as e:  # it answers, but not as the layout says
            identity_error = describe(e, device)
        except DriverError as e:
            raise ProbeError(describe(e, device)) from None
        try:
            values = await meter.read_all()
            regs = [_register(v.register, v.value, device) for v in values]
        except DeviceRefusedError as e:
            regs, note = await _read_apart(buses, clock, device, meter, e)
        except DriverError as e:
            raise ProbeError(describe(e, device)) from None
    finally:
        await meter.close()
    return MeterProbe(
        device.name,
        device.make_model.value,
        bus_path(device),
        tuple(regs),
        _ms(t),
        identity_error,
        note,
    )


def _register(
    spec: RegisterSpec, value: float | str | DriverError, device: Device, *, optional: bool = False
) -> RegisterReading:
    if isinstance(value, DriverError):
        return RegisterReading(
            spec.name,
            spec.address,
            spec.type,
            spec.function,
            spec.unit,
            None,
            describe(value, device),
            optional,
        )
    return RegisterReading(spec.name, spec.address, spec.type, spec.function, spec.unit, value)


async def _read_apart(
    buses: Buses, clock: Clock, device: Device, meter: ModbusMeter, refused: DriverError
) -> tuple[list[RegisterReading], str | None]:
    """The map read without the identity register, then, if still refused, one at a time.

    Text registers of the map cannot be read apart (a meter's channels are numbers); they carry
    the refusal. Returns the readings and a note on how they were read.
    """
    identity = _identity_register(device)
    in_map = {s.name for s in meter.registers}
    extra = identity if identity is not None and identity.name not in in_map else None
    readable = [s for s in meter.registers if s.numeric]
    # Stand-in channels, one per register: the meter reads exactly what its channels name.
    channels = [
        Channel.model_construct(
            name=s.name,
            node=device.name,
            device=device.name,
            quantity=Quantity.POWER,
            unit=Unit.W,
            register_name=s.name,
            plausible_range=(0.0, 0.0),
        )
        for s in readable
    ]
    each = ModbusMeter(device, channels, buses, clock)
    values: dict[str, float | str | DriverError] = {}
    note: str | None = None
    try:
        try:
            values.update(await each.read([s.name for s in readable]))
        except DeviceRefusedError:
            note = f"the meter refused the map read at once ({refused.reason}); read one by one"
            for spec in readable:
                try:
                    values.update(await each.read([spec.name]))
                except DeviceRefusedError as e:
                    values[spec.name] = e
    finally:
        await each.close()
    out: list[RegisterReading] = []
    if extra is not None:
        # The map reads without it: it was the identity register the meter does not serve.
        why = refused if note is None else DriverError(device.name, "not read apart")
        out.append(_register(extra, why, device, optional=device.hw_uid is None))
    out.extend(_register(s, values.get(s.name, refused), device) for s in meter.registers)
    return out, note


def _identity_register(device: Device) -> RegisterSpec | None:
    try:
        return load_table(device.make_model.value).hw_uid
    except RegisterMapError:
        return None


# ------------------------------------------------------------------------ I2C scan

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
    return I2cScan(n, expected, frozenset(present), frozenset(busy), scan_ms=_ms(t))


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
