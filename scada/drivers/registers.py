"""Modbus register maps as data, and the decoding of register words into values.

A meter model is a table (``register_maps/<make_model>.json``), not a class: the table names each
register, where it is, how it is encoded and what unit it reads in. A layout device may carry its
own ``register_map`` (an eGauge's map is configured per device), which then replaces the table's
registers. Everything here is pure: words in, value or :class:`DeviceGarbageError` out.

Addresses are the 0-based protocol addresses that go on the wire. Vendor tables often print
1-based numbers (Schneider's "3054" is address 3053) or a ``3xxxx`` prefix (eGauge's "30500" is
input register 500); the tables here are already converted.
"""

from __future__ import annotations

import functools
import itertools
import json
import math
import struct
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from scada.drivers.errors import DeviceGarbageError
from scada.layout import Device, Register

RegisterType = Literal["f32", "u32", "s32", "u16", "s16", "s64", "t16"]
WordOrder = Literal["big", "little"]
Function = Literal["holding", "input"]

#: Registers (16-bit words) per type. ``t16`` is eGauge's 16-character ASCII text.
WIDTH: Mapping[str, int] = {"u16": 1, "s16": 1, "f32": 2, "u32": 2, "s32": 2, "s64": 4, "t16": 8}

#: Most registers one read may ask for (Modbus: 125 for function 03/04).
MAX_READ_COUNT = 125

#: Magnitudes no meter on a house can read, by unit (after scaling): a value beyond is garbage.
PHYSICAL_LIMIT: Mapping[str, float] = {
    "W": 1e8,
    "var": 1e8,
    "VA": 1e8,
    "V": 1e6,
    "A": 1e6,
}

#: "Not available" markers: the most negative value of a signed type, all ones of a u32.
_NOT_AVAILABLE: Mapping[str, int] = {
    "s16": -(2**15),
    "s32": -(2**31),
    "s64": -(2**63),
    "u32": 2**32 - 1,
}

_STRUCT: Mapping[str, str] = {
    "u16": "H",
    "s16": "h",
    "u32": "I",
    "s32": "i",
    "s64": "q",
    "f32": "f",
}


@dataclass(frozen=True, slots=True)
class RegisterSpec:
    """One value of a register map: where it is on the wire and how its words become a value."""

    name: str
    address: int
    type: RegisterType
    word_order: WordOrder = "big"
    scale: float = 1.0
    unit: str = "W"
    function: Function = "input"
    valid_range: tuple[float, float] | None = None
    description: str = ""

    @property
    def width(self) -> int:
        return WIDTH[self.type]

    @property
    def end(self) -> int:
        """One past the last register of this value."""
        return self.address + self.width

    @property
    def numeric(self) -> bool:
        return self.type != "t16"


def spec_from_layout(reg: Register) -> RegisterSpec:
    """The driver's view of one layout register."""
    return RegisterSpec(
        name=reg.name,
        address=reg.address,
        type=reg.type,
        word_order=reg.word_order,
        scale=reg.scale,
        unit=reg.unit.value,
        function=reg.function,
    )


# ------------------------------------------------------------------------ tables as data


class _RegisterRow(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1)
    address: int = Field(ge=0, le=65535)
    type: RegisterType
    word_order: WordOrder = "big"
    scale: float = 1.0
    unit: str = ""
    function: Function = "input"
    valid_range: tuple[float, float] | None = None
    description: str = ""

    def spec(self) -> RegisterSpec:
        return RegisterSpec(
            name=self.name,
            address=self.address,
            type=self.type,
            word_order=self.word_order,
            scale=self.scale,
            unit=self.unit,
            function=self.function,
            valid_range=self.valid_range,
            description=self.description,
        )


class _TableFile(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    make_model: str
    description: str = ""
    source: str = ""
    hw_uid: _RegisterRow | None = None
    registers: tuple[_RegisterRow, ...] = Field(min_length=1)


@dataclass(frozen=True, slots=True)
class MeterTable:
    """A meter model's built-in table: its registers and, if it has one, its identity register."""

    make_model: str
    registers: tuple[RegisterSpec, ...]
    hw_uid: RegisterSpec | None = None
    description: str = ""
    source: str = ""


class RegisterMapError(ValueError):
    """A register table (built-in file or layout map) is unusable; the message says why."""


def _table_file_name(make_model: str) -> str:
    """``egauge__4030`` → ``egauge_4030.json`` (vendor and model joined by one underscore)."""
    return make_model.replace("__", "_") + ".json"


@functools.cache
def load_table(make_model: str) -> MeterTable:
    """The built-in table of ``make_model`` (a :class:`~scada.layout.MakeModel` value)."""
    name = _table_file_name(make_model)
    path = resources.files("scada.drivers") / "register_maps" / name
    if not path.is_file():
        raise RegisterMapError(f"no built-in register table for {make_model} ({name})")
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        table = _TableFile.model_validate(raw)
    except (json.JSONDecodeError, ValidationError) as e:
        raise RegisterMapError(f"built-in register table {name} is invalid: {e}") from e
    if table.make_model != make_model:
        raise RegisterMapError(f"{name} describes {table.make_model}, not {make_model}")
    specs = tuple(r.spec() for r in table.registers)
    check_map(specs, where=name)
    return MeterTable(
        make_model=table.make_model,
        registers=specs,
        hw_uid=table.hw_uid.spec() if table.hw_uid else None,
        description=table.description,
        source=table.source,
    )


def check_map(specs: Sequence[RegisterSpec], where: str) -> None:
    """Names unique, no two values of one function sharing a register, all inside 0..65535."""
    seen: set[str] = set()
    for s in specs:
        if s.name in seen:
            raise RegisterMapError(f"{where}: register name '{s.name}' appears twice")
        seen.add(s.name)
        if s.end > 65536:
            raise RegisterMapError(f"{where}: register '{s.name}' runs past address 65535")
        if s.scale == 0 or not math.isfinite(s.scale):
            raise RegisterMapError(f"{where}: register '{s.name}' has scale {s.scale}")
    for function in ("holding", "input"):
        ordered = sorted((s for s in specs if s.function == function), key=lambda s: s.address)
        for a, b in itertools.pairwise(ordered):
            if b.address < a.end:
                raise RegisterMapError(
                    f"{where}: registers '{a.name}' and '{b.name}' overlap at address {b.address}"
                )


def device_registers(device: Device) -> tuple[RegisterSpec, ...]:
    """The register map of a layout device: its own ``register_map``, else its model's table."""
    if device.register_map:
        specs = tuple(spec_from_layout(r) for r in device.register_map)
        check_map(specs, where=f"device {device.name}")
        return specs
    return load_table(device.make_model.value).registers


# ------------------------------------------------------------------------------ decoding


def _ordered_bytes(spec: RegisterSpec, words: Sequence[int]) -> bytes:
    ordered = list(words) if spec.word_order == "big" else list(reversed(words))
    return b"".join(w.to_bytes(2, "big") for w in ordered)


def decode(spec: RegisterSpec, words: Sequence[int], device: str) -> float | str:
    """The value of ``spec`` from its ``words`` (scaled, in ``spec.unit``).

    Raises :class:`DeviceGarbageError` for a wrong number of words, a word outside 0..65535, a
    NaN or infinite float, a "not available" marker, or a value no meter can read.
    """
    if len(words) != spec.width:
        raise DeviceGarbageError(
            device,
            f"register '{spec.name}' ({spec.type}) needs {spec.width} words, got {len(words)}",
        )
    if any(not 0 <= w <= 0xFFFF for w in words):
        raise DeviceGarbageError(device, f"register '{spec.name}' holds a word outside 16 bits")
    raw = _ordered_bytes(spec, words)
    if spec.type == "t16":
        try:
            return raw.rstrip(b"\x00 ").decode("ascii")
        except UnicodeDecodeError:
            raise DeviceGarbageError(
                device, f"register '{spec.name}' is not ASCII text: {raw.hex()}"
            ) from None
    (number,) = struct.unpack(">" + _STRUCT[spec.type], raw)
    if spec.type != "f32" and number == _NOT_AVAILABLE.get(spec.type):
        raise DeviceGarbageError(
            device, f"register '{spec.name}' reads the 'not available' marker 0x{raw.hex()}"
        )
    value = float(number) * spec.scale
    if not math.isfinite(value):
        raise DeviceGarbageError(
            device, f"register '{spec.name}' reads {value} (raw 0x{raw.hex()}), not a number"
        )
    if spec.valid_range is not None:
        lo, hi = spec.valid_range
        if not lo <= value <= hi:
            raise DeviceGarbageError(
                device,
                f"register '{spec.name}' reads {value:g} {spec.unit}, "
                f"impossible (valid {lo:g}..{hi:g})",
            )
    else:
        limit = PHYSICAL_LIMIT.get(spec.unit)
        if limit is not None and abs(value) > limit:
            raise DeviceGarbageError(
                device,
                f"register '{spec.name}' reads {value:g} {spec.unit}, impossible for a meter",
            )
    return value


def encode(spec: RegisterSpec, value: float | str) -> list[int]:
    """The words a device holding ``value`` would send (the inverse of :func:`decode`).

    Used by emulators and tests. Raises ``ValueError`` when ``value`` does not fit the type.
    """
    if spec.type == "t16":
        if not isinstance(value, str):
            raise ValueError(f"register '{spec.name}' is text; got {value!r}")
        data = value.encode("ascii")
        if len(data) > 2 * spec.width:
            raise ValueError(f"'{value}' is longer than {2 * spec.width} characters")
        raw = data.ljust(2 * spec.width, b"\x00")
    else:
        if isinstance(value, str):
            raise ValueError(f"register '{spec.name}' is a number; got {value!r}")
        scaled = value / spec.scale
        fmt = ">" + _STRUCT[spec.type]
        try:
            raw = struct.pack(fmt, scaled if spec.type == "f32" else round(scaled))
        except (struct.error, OverflowError) as e:
            raise ValueError(f"{value} does not fit register '{spec.name}' ({spec.type})") from e
    words = [int.from_bytes(raw[i : i + 2], "big") for i in range(0, len(raw), 2)]
    return words if spec.word_order == "big" else list(reversed(words))


# ---------------------------------------------------------------------- read planning


@dataclass(frozen=True, slots=True)
class ReadSpan:
    """One read request: ``count`` registers from ``address`` with one function."""

    function: Function
    address: int
    count: int
    registers: tuple[RegisterSpec, ...]

    @property
    def has_gaps(self) -> bool:
        """Whether the span also asks for registers no value of the map uses."""
        return sum(r.width for r in self.registers) != self.count


def plan_reads(
    specs: Iterable[RegisterSpec], max_count: int = MAX_READ_COUNT, *, bridge_gaps: bool = True
) -> list[ReadSpan]:
    """Group ``specs`` into as few reads as possible, each at most ``max_count`` registers.

    With ``bridge_gaps`` a read spans unused registers between values (one request for a whole
    map that fits in ``max_count``); without, only touching values share a read.
    """
    out: list[ReadSpan] = []
    for function in ("holding", "input"):
        ordered = sorted((s for s in specs if s.function == function), key=lambda s: s.address)
        group: list[RegisterSpec] = []
        for s in ordered:
            if group:
                start = group[0].address
                touching = s.address == group[-1].end
                fits = s.end - start <= max_count
                if fits and (bridge_gaps or touching):
                    group.append(s)
                    continue
                out.append(_span(function, group))
            group = [s]
        if group:
            out.append(_span(function, group))
    return out


def _span(function: Function, group: Sequence[RegisterSpec]) -> ReadSpan:
    start = group[0].address
    end = max(s.end for s in group)
    return ReadSpan(function, start, end - start, tuple(group))


def split_span(span: ReadSpan) -> list[ReadSpan]:
    """``span`` without the gaps: its touching runs, one read each."""
    return plan_reads(span.registers, bridge_gaps=False)


def decode_span(
    span: ReadSpan, words: Sequence[int], device: str
) -> dict[str, float | str | DeviceGarbageError]:
    """Every value of ``span`` from the words one read returned.

    A wrong number of words fails the whole read (raises); a bad value fails only its register.
    """
    if len(words) != span.count:
        raise DeviceGarbageError(
            device,
            f"asked for {span.count} registers from {span.function} {span.address}, "
            f"got {len(words)}",
        )
    out: dict[str, float | str | DeviceGarbageError] = {}
    for spec in span.registers:
        offset = spec.address - span.address
        try:
            out[spec.name] = decode(spec, words[offset : offset + spec.width], device)
        except DeviceGarbageError as e:
            out[spec.name] = e
    return out
