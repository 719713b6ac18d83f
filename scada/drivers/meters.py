"""The Modbus power meter: one class for every meter, its table and transport chosen by data.

The layout device's make/model picks the built-in register table (``register_maps/*.json``)
unless the device carries its own ``register_map``; its bus (``modbus_tcp`` or ``modbus_rtu``)
picks the transport. Each channel names its register (``Channel.register_name``); a channel that
names no register of the map is refused when the meter is built, not on every read (the 2022
meter raised on every read because layout and driver disagreed).

A read asks only for the registers its channels name, batched into as few requests as the map
allows (gaps bridged: one request for a whole map that fits in 125 registers). A meter that
refuses a bridged read with "illegal data address" is read without gaps from then on.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from scada.clock import Clock
from scada.drivers.base import ChannelValue
from scada.drivers.buses import Buses
from scada.drivers.errors import BusMissingError, DriverError
from scada.drivers.modbus_bus import ModbusBus
from scada.drivers.modbus_exchange import ModbusExceptionError
from scada.drivers.modbus_pool import ModbusBusPool
from scada.drivers.registers import (
    ReadSpan,
    RegisterMapError,
    RegisterSpec,
    decode_span,
    device_registers,
    load_table,
    plan_reads,
    split_span,
)
from scada.layout import Channel, Device
from scada.layout.model import ModbusRtuBus, ModbusTcpBus

#: Exception code of "illegal data address".
_ILLEGAL_ADDRESS = 2


class WrongDeviceError(DriverError):
    """Another device answers where the layout puts this one (its hardware id differs)."""


class MeterConfigError(DriverError):
    """The layout asks for something this meter cannot do (a channel names no register)."""


@dataclass(frozen=True, slots=True)
class ProbeValue:
    """One register of a probe: what it is and what it read."""

    register: RegisterSpec
    value: float | str | DriverError

    @property
    def name(self) -> str:
        return self.register.name

    @property
    def unit(self) -> str:
        return self.register.unit


def is_modbus_device(device: Device) -> bool:
    """Whether ``device`` is a Modbus meter (its bus is Modbus TCP or RTU)."""
    return isinstance(device.bus, ModbusTcpBus | ModbusRtuBus)


class ModbusMeter:
    """A power meter on Modbus TCP or RTU (eGauge 4030, Schneider iEM3455, any tabled model).

    ``pool`` holds the buses shared between meters; by default the pool of ``buses``
    (:meth:`ModbusBusPool.for_buses`), so meters on one RS-485 line share its lock.
    Raises :class:`DriverError` when the layout's device cannot be a Modbus meter.
    """

    def __init__(
        self,
        device: Device,
        channels: Sequence[Channel],
        buses: Buses,
        clock: Clock,
        *,
        pool: ModbusBusPool | None = None,
    ) -> None:
        self.name = device.name
        self.device = device
        if not isinstance(device.bus, ModbusTcpBus | ModbusRtuBus):
            raise MeterConfigError(device.name, f"a {device.bus.kind} bus is not a Modbus bus")
        self._settings: ModbusTcpBus | ModbusRtuBus = device.bus
        self._buses = buses
        self._clock = clock
        self._pool = pool
        try:
            self.registers = device_registers(device)
            table_hw_uid = _table_hw_uid(device)
        except RegisterMapError as e:
            raise MeterConfigError(device.name, str(e)) from None
        self._by_name = {r.name: r for r in self.registers}
        self.hw_uid_register = table_hw_uid if device.hw_uid else None
        self._channel_register = self._map_channels(channels)
        self._bus: ModbusBus | None = None
        self._bus_pool: ModbusBusPool | None = None
        self._identity_checked = False
        self._bridge_gaps = True
        self._plans: dict[frozenset[str], list[ReadSpan]] = {}

    # ---------------------------------------------------------------- SensorDevice

    async def open(self) -> None:
        """Find the bus (it may be missing), and check the meter's hardware id if the layout
        gives one. Idempotent."""
        await self._ensure_bus()
        if self.hw_uid_register is not None and not self._identity_checked:
            await self._check_identity(self.hw_uid_register)
            self._identity_checked = True

    async def read(self, channels: Sequence[str]) -> Mapping[str, ChannelValue]:
        specs: dict[str, RegisterSpec] = {}
        out: dict[str, ChannelValue] = {}
        for ch in channels:
            spec = self._channel_register.get(ch)
            if spec is None:
                out[ch] = MeterConfigError(self.name, f"'{ch}' is not a channel of this meter")
            else:
                specs[spec.name] = spec
        values = await self._read_specs(list(specs.values()))
        for ch in channels:
            if ch in out:
                continue
            value = values[self._channel_register[ch].name]
            if isinstance(value, str):  # refused at build: channels name numeric registers
                value = MeterConfigError(self.name, f"channel '{ch}' reads text")
            out[ch] = value
        return out

    async def close(self) -> None:
        bus, pool = self._bus, self._bus_pool
        self._bus = self._bus_pool = None
        self._identity_checked = False
        if bus is not None and pool is not None:
            await pool.release(bus)

    # ---------------------------------------------------------------------- probes

    async def read_all(self) -> list[ProbeValue]:
        """Every register of the map once (and the hardware id register), for a probe.

        A whole-meter failure (no answer, an exception response) raises; a bad value is that
        register's :class:`DriverError`.
        """
        specs = list(self.registers)
        table_uid = _table_hw_uid(self.device)
        if table_uid is not None and table_uid.name not in self._by_name:
            specs.insert(0, table_uid)
        values = await self._read_specs(specs)
        return [ProbeValue(s, values[s.name]) for s in specs]

    @property
    def bus(self) -> ModbusBus | None:
        """The shared bus once :meth:`open` found it."""
        return self._bus

    # ------------------------------------------------------------------- internals

    def _map_channels(self, channels: Sequence[Channel]) -> dict[str, RegisterSpec]:
        mapping: dict[str, RegisterSpec] = {}
        for ch in channels:
            if ch.register_name is None:
                raise MeterConfigError(self.name, f"channel '{ch.name}' names no register")
            spec = self._by_name.get(ch.register_name)
            if spec is None:
                known = ", ".join(sorted(self._by_name))
                raise MeterConfigError(
                    self.name,
                    f"channel '{ch.name}' names register '{ch.register_name}', which is not in "
                    f"the map (registers: {known})",
                )
            if not spec.numeric:
                raise MeterConfigError(
                    self.name, f"channel '{ch.name}' names text register '{spec.name}'"
                )
            mapping[ch.name] = spec
        return mapping

    async def _ensure_bus(self) -> ModbusBus:
        if self._bus is not None:
            return self._bus
        pool = self._pool or ModbusBusPool.for_buses(self._buses, self._clock)
        settings = self._settings
        if isinstance(settings, ModbusTcpBus):
            host, port = self._buses.modbus_tcp(settings.host, settings.port)
            bus = pool.tcp(host, port)
        else:
            try:
                path = self._buses.serial_port(settings.port)
            except BusMissingError as e:  # name the meter, not only the port
                raise BusMissingError(self.name, e.reason) from None
            bus = pool.serial(self.name, path, settings.baud, settings.parity)
        self._bus, self._bus_pool = bus, pool
        return bus

    async def _check_identity(self, spec: RegisterSpec) -> None:
        expected = (self.device.hw_uid or "").strip()
        value = (await self._read_specs([spec]))[spec.name]
        if isinstance(value, DriverError):
            raise value
        got = value.strip() if isinstance(value, str) else f"{value:.0f}"
        if got != expected:
            assert self._bus is not None
            raise WrongDeviceError(
                self.name,
                f"{spec.name} reads '{got}' but the layout says '{expected}': another device "
                f"answers as unit {self._settings.unit_id} on {self._bus.label}",
            )

    async def _read_specs(
        self, specs: Sequence[RegisterSpec]
    ) -> dict[str, float | str | DriverError]:
        if not specs:
            return {}
        await self._ensure_bus()
        key = frozenset(s.name for s in specs)
        plan = self._plans.get(key)
        if plan is None:
            plan = plan_reads(specs, bridge_gaps=self._bridge_gaps)
            self._plans[key] = plan
        out: dict[str, float | str | DriverError] = {}
        for span in plan:
            out.update(await self._read_span(span))
        return out

    async def _read_span(self, span: ReadSpan) -> dict[str, float | str | DriverError]:
        bus = await self._ensure_bus()
        try:
            words = await bus.read(
                self.name,
                self._settings.unit_id,
                span.function,
                span.address,
                span.count,
                timeout_s=self._settings.timeout_s,
            )
        except ModbusExceptionError as e:
            if e.code != _ILLEGAL_ADDRESS or not span.has_gaps:
                raise
            # The meter will not read across unused registers: read touching runs from now on.
            self._bridge_gaps = False
            self._plans.clear()
            out: dict[str, float | str | DriverError] = {}
            for sub in split_span(span):
                out.update(await self._read_span(sub))
            return out
        return dict(decode_span(span, words, self.name))


def _table_hw_uid(device: Device) -> RegisterSpec | None:
    """The identity register of the device's model, if its table has one."""
    try:
        return load_table(device.make_model.value).hw_uid
    except RegisterMapError:
        if device.register_map:  # a tabled-by-layout model needs no built-in table
            return None
        raise
