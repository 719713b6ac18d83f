"""What every probe shares: the layout and buses to probe on, the running-SCADA guard, one-line
driver errors with the fix, and the driver of one device."""

from __future__ import annotations

import contextlib
import os
import re
import socket
import tempfile
import time
from collections.abc import AsyncIterator, Iterable, Sequence
from pathlib import Path

from scada.api.paths import socket_candidates
from scada.clock import Clock, SystemClock
from scada.drivers.base import RelayBoard, SensorDevice
from scada.drivers.buses import Buses, EmulationError, NoEmulatorError, SystemBuses, emulation
from scada.drivers.errors import (
    BusMissingError,
    DeviceGarbageError,
    DeviceRefusedError,
    DeviceTimeoutError,
    DriverError,
    ReadBackMismatchError,
)
from scada.drivers.factory import build_devices
from scada.drivers.meters import MeterConfigError, WrongDeviceError
from scada.layout import Device, Layout, MakeModel
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

RETRY_NOTE = re.compile(r";? ?(retrying|next try) in [\d.]+ s")


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
        except (NoEmulatorError, EmulationError) as e:
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
    reason = RETRY_NOTE.sub("", err.reason).strip()
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


def build_driver(
    layout: Layout, device: Device, buses: Buses, clock: Clock
) -> SensorDevice | RelayBoard:
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
        reason = RETRY_NOTE.sub("", built.missing[device.name]).removeprefix(f"{device.name}: ")
        raise ProbeError(f"{device.name} ({bus_path(device)}): {reason}")
    driver = built.boards.get(device.name) or built.sensors.get(device.name)
    assert driver is not None
    return driver


def unknown(what: str, name: str, layout: Layout, choices: Sequence[str]) -> ProbeError:
    near = nearest(name, choices)
    if near is not None:
        return ProbeError(f"no {what} '{name}' in {layout.house.alias} (did you mean '{near}'?)")
    if not choices:
        return ProbeError(f"{layout.house.alias} has no {what}s")
    listed = ", ".join(sorted(choices)[:8]) + (", …" if len(choices) > 8 else "")
    return ProbeError(f"no {what} '{name}' in {layout.house.alias} (there are: {listed})")


def ms_since(since: float) -> float:
    return (time.perf_counter() - since) * 1000
