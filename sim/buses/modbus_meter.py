"""One emulated Modbus meter: its register map, where its values come from, its faults.

A meter knows nothing of TCP or serial lines; :mod:`sim.buses.modbus` puts one or more of them
(one per unit id) behind a pymodbus server. Keeping the meter apart lets the same register
model answer on either transport, so the driver's decoding is tested the same way on both.

Contracts:

* Every register's value comes from ``values(register_name)``, asked at each request that
  touches the register (so the simulator can feed physics into it): a number in the
  register's unit, or text for ``t16``. A value the register's type cannot encode answers the
  whole read with a Modbus device failure, as a meter with a broken sensor would.
* Meters are read-only: any write is refused with an illegal-function exception.
* By default a meter's block reads as one span from its first register to its last, gaps and
  all, like a real meter; with ``strict_gaps`` pymodbus refuses any read that spans a gap,
  before the meter is asked (so it counts in no ``requests``).
* :class:`ModbusFaults` are per meter (per unit id). The faults that alter frames (silence,
  garbage, a bad CRC, a short answer) are applied by the server's hooks; the ones here are a
  late answer, an exception answer and stuck registers.
* A layout device's meter (:func:`device_map`) also serves the make's identity register with
  the layout's hardware id, so the driver's check of who it is talking to passes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from pymodbus.constants import ExcCodes
from pymodbus.simulator import DataType, SimData, SimDevice

from scada.drivers.registers import (
    RegisterSpec,
    device_registers,
    encode,
    load_table,
    spec_from_layout,
)
from scada.layout import Device, Register

#: What a register reads: a number in the register's unit, or text for ``t16``.
Values = Callable[[str], float | str]

_FUNCTION_CODES = {"holding": 3, "input": 4}


@dataclass
class ModbusFaults:
    """Faults one emulated meter injects. All off by default; set fields to turn them on.

    ``silent``: never answers. ``delay_s``: answers this late. ``exception_code``: answers every
    read with this Modbus exception. ``garbage``: answers with bytes that are no Modbus frame.
    ``bad_crc``: (RTU) answers with a frame whose CRC is wrong; on TCP, which has no CRC, the
    same as ``garbage``. ``short_by``: answers with this many registers fewer than asked.
    ``stuck``: registers frozen at the value they last served.
    """

    silent: bool = False
    delay_s: float = 0.0
    exception_code: int | None = None
    garbage: bool = False
    bad_crc: bool = False
    short_by: int = 0
    stuck: set[str] = field(default_factory=set)

    def clear(self) -> None:
        self.silent = self.garbage = self.bad_crc = False
        self.delay_s = 0.0
        self.exception_code = None
        self.short_by = 0
        self.stuck.clear()


def as_specs(register_map: Sequence[RegisterSpec | Register]) -> list[RegisterSpec]:
    return [r if isinstance(r, RegisterSpec) else spec_from_layout(r) for r in register_map]


class EmulatedMeter:
    """One unit id on an emulated bus: its register map, where its values come from, its faults."""

    def __init__(
        self,
        register_map: Sequence[RegisterSpec | Register],
        unit_id: int,
        values: Values,
        *,
        strict_gaps: bool = False,
    ) -> None:
        self.registers = as_specs(register_map)
        self.unit_id = unit_id
        self.values = values
        self.strict_gaps = strict_gaps
        self.faults = ModbusFaults()
        self.requests = 0
        self.served: dict[str, float | str] = {}

    def stick(self, name: str) -> None:
        """Freeze register ``name`` at its current value."""
        if name not in self.served:
            self.served[name] = self.values(name)
        self.faults.stuck.add(name)

    def sim_device(self) -> SimDevice:
        blocks: list[list[SimData]] = []
        for function in ("holding", "input"):
            specs = sorted(
                (r for r in self.registers if r.function == function), key=lambda r: r.address
            )
            if not specs:
                blocks.append([SimData(0, datatype=DataType.INVALID)])
            elif self.strict_gaps:
                blocks.append(
                    [SimData(r.address, count=r.width, datatype=DataType.REGISTERS) for r in specs]
                )
            else:  # a real meter's block: every register from the first to the last is readable
                start, end = specs[0].address, max(r.end for r in specs)
                blocks.append([SimData(start, count=end - start, datatype=DataType.REGISTERS)])
        no_bits = [SimData(0, values=False, datatype=DataType.BITS)]
        return SimDevice(
            self.unit_id,
            simdata=(no_bits, list(no_bits), blocks[0], blocks[1]),
            action=self._action,
        )

    async def _action(  # noqa: PLR0917 - pymodbus' SimAction signature
        self,
        function_code: int,
        start_address: int,
        address: int,
        count: int,
        registers: list[int],
        set_values: list[int] | list[bool] | None,
    ) -> ExcCodes | None:
        """pymodbus asks before it answers: fill ``registers`` from the values, or refuse."""
        if set_values is not None:
            return ExcCodes.ILLEGAL_FUNCTION  # meters are read-only here
        self.requests += 1
        if self.faults.delay_s > 0:
            await asyncio.sleep(self.faults.delay_s)
        if self.faults.exception_code is not None:
            return ExcCodes(self.faults.exception_code)
        for spec in self.registers:
            if _FUNCTION_CODES[spec.function] != function_code:
                continue
            if spec.end <= address or spec.address >= address + count:
                continue
            if spec.name in self.faults.stuck and spec.name in self.served:
                value = self.served[spec.name]
            else:
                value = self.values(spec.name)
            try:
                words = encode(spec, value)
            except ValueError:
                return ExcCodes.DEVICE_FAILURE
            self.served[spec.name] = value
            offset = spec.address - start_address
            registers[offset : offset + len(words)] = words
        return None


# ------------------------------------------------------------------------ layout devices


def device_unit_id(device: Device) -> int:
    """The unit id layout ``device`` answers on (1 when its bus names none)."""
    unit: int = getattr(device.bus, "unit_id", 1)
    return unit


def device_map(device: Device, values: Values) -> tuple[list[RegisterSpec], Values]:
    """The registers a device's emulator serves (its map and its identity register) and a value
    source that answers the identity register with the layout's hardware id."""
    specs = list(device_registers(device))
    try:
        identity = load_table(device.make_model.value).hw_uid
    except ValueError:
        identity = None
    if identity is None or device.hw_uid is None or identity.name in {s.name for s in specs}:
        return specs, values
    hw_uid = device.hw_uid
    id_value: float | str = hw_uid if identity.type == "t16" else float(int(hw_uid))
    name = identity.name

    def wrapped(register: str) -> float | str:
        return id_value if register == name else values(register)

    return [*specs, identity], wrapped
