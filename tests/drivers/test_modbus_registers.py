"""Register decoding, read planning and the built-in tables: pure, no bus."""

from __future__ import annotations

import math
import random
import struct
from typing import get_args

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scada.drivers.errors import DeviceGarbageError
from scada.drivers.modbus_bus import Backoff
from scada.drivers.modbus_line import SerialLine
from scada.drivers.registers import (
    MAX_READ_COUNT,
    RegisterMapError,
    RegisterSpec,
    RegisterType,
    check_map,
    decode,
    decode_span,
    device_registers,
    encode,
    load_table,
    plan_reads,
    split_span,
)
from scada.layout import MakeModel
from tests.drivers.modbus_support import GARAGE, HW25, house

NUMERIC = ("f32", "u32", "s32", "u16", "s16", "s64")


def spec(
    type_: RegisterType,
    order: str = "big",
    *,
    scale: float = 1.0,
    unit: str = "W",
    address: int = 0,
    name: str = "r",
) -> RegisterSpec:
    assert order in ("big", "little")
    return RegisterSpec(
        name=name,
        address=address,
        type=type_,
        word_order="big" if order == "big" else "little",
        scale=scale,
        unit=unit,
    )


# -------------------------------------------------------------------- known words


@pytest.mark.parametrize(
    ("type_", "big_words", "value"),
    [
        ("u16", [0x1234], 0x1234),
        ("s16", [0xFFFE], -2),
        ("u32", [0x0134, 0x8C65], 20221029),  # the iEM3455's serial number, high word first
        ("s32", [0xFFFF, 0xFFF6], -10),
        ("s64", [0x0000, 0x0000, 0x0001, 0x0000], 65536),
        ("s64", [0xFFFF, 0xFFFF, 0xFFFF, 0xFF9C], -100),
        ("f32", [0x4640, 0xE400], 12345.0),
        ("f32", [0xC2F6, 0xE979], -123.456),
    ],
)
@pytest.mark.parametrize("order", ["big", "little"])
def test_each_type_decodes_in_each_word_order(
    type_: RegisterType, big_words: list[int], value: float, order: str
) -> None:
    words = big_words if order == "big" else list(reversed(big_words))
    got = decode(spec(type_, order), words, "m")
    assert isinstance(got, float)
    assert got == pytest.approx(value, rel=1e-6)


def test_word_order_matters() -> None:
    words = [0x0001, 0x0000]
    assert decode(spec("u32", "big"), words, "m") == 65536.0
    assert decode(spec("u32", "little"), words, "m") == 1.0


def test_scale_turns_kilowatts_into_watts() -> None:
    words = encode(spec("f32"), 3.5)  # the iEM3455 sends kW
    assert decode(spec("f32", scale=1000.0), words, "m") == pytest.approx(3500.0)


@pytest.mark.parametrize("watts", [32_767.0, 32_768.0, 50_000.0, 1_250_000.0, -40_000.0])
def test_power_is_never_clipped_to_16_bits(watts: float) -> None:
    s = spec("f32")
    assert decode(s, encode(s, watts), "m") == pytest.approx(watts)


def test_text_register() -> None:
    s = spec("t16", unit="")
    assert encode(s, "egauge4030")[:2] == [0x6567, 0x6175]
    assert decode(s, encode(s, "egauge4030"), "m") == "egauge4030"


# ------------------------------------------------------------------------ garbage


@pytest.mark.parametrize(
    ("words", "what"),
    [
        ([0x7FC0, 0x0000], "nan"),
        ([0xFFC0, 0x0000], "nan"),
        ([0x7F80, 0x0000], "inf"),
        ([0xFF80, 0x0000], "-inf"),
    ],
)
def test_nan_and_infinity_are_garbage(words: list[int], what: str) -> None:
    with pytest.raises(DeviceGarbageError) as e:
        decode(spec("f32"), words, "egauge")
    assert e.value.device == "egauge"
    assert "not a number" in e.value.reason
    assert what in e.value.reason


@pytest.mark.parametrize(
    ("type_", "words"),
    [
        ("s16", [0x8000]),
        ("s32", [0x8000, 0x0000]),
        ("s64", [0x8000, 0, 0, 0]),
        ("u32", [0xFFFF, 0xFFFF]),
    ],
)
def test_not_available_markers_are_garbage(type_: RegisterType, words: list[int]) -> None:
    with pytest.raises(DeviceGarbageError, match="not available"):
        decode(spec(type_), words, "m")


def test_impossible_power_is_garbage() -> None:
    s = spec("f32")
    with pytest.raises(DeviceGarbageError, match="impossible"):
        decode(s, encode(s, 3e9), "m")


def test_valid_range_of_a_register() -> None:
    s = RegisterSpec("frequency", 0, "f32", unit="Hz", valid_range=(0.0, 1000.0))
    assert decode(s, encode(s, 60.0), "m") == 60.0
    with pytest.raises(DeviceGarbageError, match=r"valid 0\.\.1000"):
        decode(s, encode(s, -5.0), "m")


@pytest.mark.parametrize("type_", [*NUMERIC, "t16"])
def test_wrong_number_of_words_is_garbage(type_: RegisterType) -> None:
    s = spec(type_)
    for n in (s.width - 1, s.width + 1):
        with pytest.raises(DeviceGarbageError, match=f"needs {s.width} words, got {n}"):
            decode(s, [0] * n, "m")


def test_word_out_of_range_is_garbage() -> None:
    with pytest.raises(DeviceGarbageError, match="outside 16 bits"):
        decode(spec("u16"), [70000], "m")


def test_text_that_is_not_ascii_is_garbage() -> None:
    with pytest.raises(DeviceGarbageError, match="not ASCII"):
        decode(spec("t16"), [0xFFFF] * 8, "m")


# -------------------------------------------------------------- property and fuzz

_ORDERS = st.sampled_from(["big", "little"])


@given(value=st.floats(-1e7, 1e7, allow_nan=False, width=32), order=_ORDERS)
def test_f32_roundtrip(value: float, order: str) -> None:
    s = spec("f32", order)
    assert decode(s, encode(s, value), "m") == value


@given(data=st.data(), type_=st.sampled_from(["u16", "s16", "u32", "s32", "s64"]), order=_ORDERS)
def test_integer_roundtrip(data: st.DataObject, type_: RegisterType, order: str) -> None:
    bits = {"u16": 16, "s16": 16, "u32": 32, "s32": 32, "s64": 54}[type_]  # s64: exact in a float
    signed = type_.startswith("s")
    lo = -(2 ** (bits - 1)) + 1 if signed else 0  # the most negative value means "not available"
    hi = 2 ** (bits - 1) - 1 if signed else 2**bits - 2
    value = data.draw(st.integers(lo, hi))
    s = spec(type_, order, unit="Wh")
    assert decode(s, encode(s, float(value)), "m") == float(value)


@given(
    type_=st.sampled_from([*NUMERIC, "t16"]),
    order=_ORDERS,
    words=st.lists(st.integers(0, 0xFFFF), min_size=0, max_size=10),
    scale=st.sampled_from([1.0, 0.001, 1000.0, -1.0]),
)
def test_decode_never_raises_anything_but_garbage(
    type_: RegisterType, order: str, words: list[int], scale: float
) -> None:
    s = spec(type_, order, scale=scale)
    try:
        value = decode(s, words, "m")
    except DeviceGarbageError as e:
        error: DeviceGarbageError | None = e
    else:
        error = None
    if error is not None:
        assert error.device == "m"
        return
    assert len(words) == s.width
    if isinstance(value, float):
        assert math.isfinite(value)
        assert abs(value) <= 1e8


def test_all_register_types_are_covered() -> None:
    assert set(get_args(RegisterType)) == {*NUMERIC, "t16"}


def test_encode_refuses_what_does_not_fit() -> None:
    with pytest.raises(ValueError, match="does not fit"):
        encode(spec("u16"), 70000.0)
    with pytest.raises(ValueError, match="longer than 16"):
        encode(spec("t16"), "x" * 17)
    assert struct.unpack(">f", bytes.fromhex("7f7fffff"))[0] > 1e38  # f32 max is encodable
    encode(spec("f32"), 3.4e38)


# ------------------------------------------------------------------------ planning


def egauge_map() -> list[RegisterSpec]:
    return list(device_registers(house(HW25).device("egauge")))


def test_whole_egauge_map_is_one_request() -> None:
    plan = plan_reads(egauge_map())
    assert len(plan) == 1
    assert (plan[0].function, plan[0].address, plan[0].count) == ("input", 500, 16)
    assert not plan[0].has_gaps


def test_gaps_are_bridged_within_125_registers() -> None:
    specs = [spec("f32", address=3053, name="l1"), spec("f32", address=3059, name="total")]
    (one,) = plan_reads(specs)
    assert (one.address, one.count, one.has_gaps) == (3053, 8, True)
    assert [(s.address, s.count) for s in split_span(one)] == [(3053, 2), (3059, 2)]
    assert len(plan_reads(specs, bridge_gaps=False)) == 2


def test_reads_never_exceed_125_registers() -> None:
    specs = [spec("f32", address=a, name=f"r{a}") for a in range(0, 400, 2)]
    plan = plan_reads(specs)
    assert all(s.count <= MAX_READ_COUNT for s in plan)
    assert sum(len(s.registers) for s in plan) == len(specs)
    assert len(plan) == 4  # 200 values of 2 registers: 62 + 62 + 62 + 14


def test_functions_are_read_separately() -> None:
    a = RegisterSpec("a", 10, "u16", function="holding")
    b = RegisterSpec("b", 11, "u16", function="input")
    assert {(s.function, s.address) for s in plan_reads([a, b])} == {("holding", 10), ("input", 11)}


def test_decode_span_wrong_count_fails_the_read_and_bad_value_fails_its_register() -> None:
    specs = [spec("f32", address=0, name="a"), spec("f32", address=2, name="b")]
    (span,) = plan_reads(specs)
    with pytest.raises(DeviceGarbageError, match="asked for 4 registers from input 0, got 3"):
        decode_span(span, [0, 0, 0], "m")
    values = decode_span(span, [*encode(specs[0], 5.0), 0x7FC0, 0], "m")
    assert values["a"] == 5.0
    assert isinstance(values["b"], DeviceGarbageError)


# -------------------------------------------------------------------------- tables


@pytest.mark.parametrize("model", [MakeModel.EGAUGE_4030, MakeModel.SCHNEIDER_IEM3455])
def test_built_in_tables_load(model: MakeModel) -> None:
    table = load_table(model.value)
    assert table.make_model == model.value
    assert table.registers
    assert table.hw_uid is not None


def test_iem3455_table_follows_the_vendor_numbering() -> None:
    table = load_table(MakeModel.SCHNEIDER_IEM3455.value)
    by_name = {r.name: r for r in table.registers}
    assert by_name["active-power-total"].address == 3059  # vendor register 3060
    assert by_name["active-power-total"].scale == 1000.0
    assert by_name["active-energy-import"].type == "s64"
    assert all(r.function == "holding" for r in table.registers)
    assert table.hw_uid is not None
    assert table.hw_uid.address == 129


def test_layout_map_overrides_the_table() -> None:
    device = house(GARAGE).device("main-meter")
    assert [r.name for r in device_registers(device)] == ["active-power-l1", "active-power-total"]
    bare = device.model_copy(update={"register_map": None})
    assert len(device_registers(bare)) == len(
        load_table(MakeModel.SCHNEIDER_IEM3455.value).registers
    )


def test_no_table_for_a_model_without_one() -> None:
    with pytest.raises(RegisterMapError, match="no built-in register table"):
        load_table(MakeModel.NCD_ADS1115.value)


def test_broken_maps_are_refused() -> None:
    with pytest.raises(RegisterMapError, match="appears twice"):
        check_map([spec("u16", name="a"), spec("u16", address=5, name="a")], "t")
    with pytest.raises(RegisterMapError, match="overlap at address 1"):
        check_map([spec("f32", name="a"), spec("u16", address=1, name="b")], "t")
    with pytest.raises(RegisterMapError, match="past address 65535"):
        check_map([spec("s64", address=65534)], "t")


# ------------------------------------------------------------ bus timing constants


def test_rtu_inter_frame_gap() -> None:
    # 9600 baud 8E1: 11 bits a character, 3.5 characters ≈ 4.0 ms.
    assert SerialLine("/dev/x", 9600, "E").frame_gap_s == pytest.approx(3.5 * 11 / 9600)
    assert SerialLine("/dev/x", 9600, "N").frame_gap_s == pytest.approx(3.5 * 10 / 9600)
    assert SerialLine("/dev/x", 115200, "N").frame_gap_s == pytest.approx(0.00175)


def test_backoff_doubles_to_its_cap_with_jitter() -> None:
    b = Backoff(rng=random.Random(7))
    delays = [b.next_delay() for _ in range(8)]
    for got, base in zip(delays, [0.5, 1, 2, 4, 8, 10, 10, 10], strict=True):
        assert base * 0.8 <= got <= min(10.0, base * 1.2)
    b.reset()
    assert b.next_delay() <= 0.6
