"""Meter probes: every register of a Modbus meter's map read once, with units."""

from __future__ import annotations

import time
from dataclasses import dataclass

from scada.clock import Clock, SystemClock
from scada.drivers.buses import Buses
from scada.drivers.errors import (
    DeviceRefusedError,
    DriverError,
)
from scada.drivers.meters import ModbusMeter, WrongDeviceError
from scada.drivers.registers import RegisterMapError, RegisterSpec, load_table
from scada.layout import Channel, Device, Layout, Quantity, Unit
from scada.layout.model import ModbusRtuBus, ModbusTcpBus
from scada.probe.common import (
    RELAY_BOARDS,
    TEMP_DEVICES,
    ProbeError,
    build_driver,
    bus_path,
    describe,
    ms_since,
    unknown,
)


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
    raise unknown("meter", name, layout, sorted(meters))


async def probe_meter(
    layout: Layout, buses: Buses, device: Device, *, clock: Clock | None = None
) -> MeterProbe:
    """Every register of ``device``'s map, and its model's identity register, read once.

    A whole-meter failure (no bus, no answer) raises :class:`ProbeError`; a register the meter
    refuses is that register's error, found by reading the map in smaller pieces.
    """
    clock = clock or SystemClock()
    meter = build_driver(layout, device, buses, clock)
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
        ms_since(t),
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
