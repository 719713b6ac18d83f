"""Fuzz the decoder: whatever the input, only ProtocolError may come out.

Three generators, 10,000 inputs each: arbitrary bytes, arbitrary JSON values (built with
``st.recursive``, most objects given a real ``type``), and mutations of valid encodings of every
message type. Whenever a fuzzed frame does decode, it must survive another round trip unchanged.

Generation is kept cheap on purpose (hypothesis costs about 0.5 ms per choice-heavy example on
a small 2-core box): scalars come mostly from a pool of values that matter to the schema, and a
mutation is driven by one drawn byte string (a little "mutation program") rather than by a
draw per decision.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scada.protocol import (
    MESSAGE_CLASSES,
    ProtocolError,
    WireMessage,
    decode,
    decode_as,
    encode,
)
from scada.protocol.examples import T0, example_id, example_messages

FUZZ = settings(
    max_examples=10_000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
EXAMPLES = example_messages()
SEEDS = tuple(encode(m) for m in EXAMPLES)
SEED_TYPES = tuple(type(m) for m in EXAMPLES)

POOL: tuple[Any, ...] = (
    None, True, False, 0, 1, -1, 7, 300, 2**53, 2**70, -(2**63), 1.5, -0.0, 0.1, 1e308, 5e-324,
    float("nan"), float("inf"), "", "a", "on", "off", "ok", "local", "remote", "admin",
    "2025-01-15T12:00:00Z", "2025-01-15T12:00:00", "2025-01-15T12:01:00+02:00", "2025-13-45",
    T0.isoformat(), example_id(1), "A-B", "a.tank.temp0", "tank-temp0", "degC", "\x00", "\u00e9",
    "\u2028", "Jane Installer", "reading", "status", "snapshot", "req.snapshot", "reply", "event",
    [], {}, [1.5, "x"], {"type": "reading"},
)  # fmt: skip
KEY_POOL = (
    "type", "version", "id", "value", "read_at", "offsets_ms", "channels", "values", "result",
    "x", "",
)  # fmt: skip
KEYS = st.sampled_from(KEY_POOL)
TYPE_NAMES = sorted(MESSAGE_CLASSES)
INSERTS = tuple(bytes([b]) for b in b'",{}[]:\\0e-\x00\xc3\xff')

json_scalars = st.sampled_from(POOL) | st.integers() | st.floats() | st.text(max_size=6)


def _containers(inner: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    # Fixed-size tuples cost one choice for the length, where st.lists pays one per element.
    pair = st.tuples(KEYS, inner)
    items = st.one_of(st.just(()), st.tuples(inner), st.tuples(inner, inner))
    pairs = st.one_of(st.just(()), st.tuples(pair), st.tuples(pair, pair, pair))
    return items.map(list) | pairs.map(dict)


json_values = st.recursive(json_scalars, _containers, max_leaves=5)


def _tagged(case: tuple[str | None, Any]) -> Any:
    """Give most generated objects a real ``type`` so they reach a model's own validation."""
    type_name, value = case
    if type_name is None or not isinstance(value, dict):
        return value
    return {"type": type_name, **value}


def _decode_only_protocol_errors(data: bytes | str, cls: type[WireMessage] | None = None) -> None:
    """Decode; a success must round-trip, a failure must be a ProtocolError (anything else
    propagates and fails the test)."""
    try:
        msg = decode(data, where="fuzz") if cls is None else decode_as(data, cls, where="fuzz")
    except ProtocolError as err:
        explained = str(err)
    else:
        assert decode(encode(msg)) == msg
        return
    assert explained.startswith("fuzz: ")


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path to a value inside a JSON tree, the root (``()``) first."""
    found = [prefix]
    if isinstance(node, dict):
        for key, child in node.items():
            found.extend(_paths(child, (*prefix, key)))
    elif isinstance(node, list):
        for index, child in enumerate(node):
            found.extend(_paths(child, (*prefix, index)))
    return found


def _mutate_structure(obj: Any, program: bytes, replacement: Any) -> Any:
    """Apply up to three edits, 3 program bytes each (path hi, path lo, op): drop a value,
    replace it from the pool or with ``replacement``, or add a sibling."""
    for at in range(0, min(len(program), 9) - 2, 3):
        paths = _paths(obj)
        path = paths[(program[at] << 8 | program[at + 1]) % len(paths)]
        op, arg = program[at + 2] % 4, program[at + 2] // 4
        # A copy, so that no edit can make the tree contain itself.
        value = copy.deepcopy(replacement if arg % 8 == 0 else POOL[arg % len(POOL)])
        if not path:
            return value
        parent = obj
        for key in path[:-1]:
            parent = parent[key]
        if op == 0:
            del parent[path[-1]]
        elif op in (1, 2):
            parent[path[-1]] = value
        elif isinstance(parent, dict):
            parent[KEY_POOL[arg % len(KEY_POOL)]] = value
        else:
            parent.insert(path[-1], value)
    return obj


def _mutate_bytes(data: bytes, program: bytes) -> bytes:
    """Apply edits, 3 program bytes each (position hi, position lo, op): flip a bit, insert a
    byte, or delete a few bytes."""
    buf = bytearray(data)
    for at in range(0, len(program) - 2, 3):
        pos = (program[at] << 8 | program[at + 1]) % (len(buf) + 1)
        op, arg = program[at + 2] % 3, program[at + 2] // 3
        if op == 0 and pos < len(buf):
            buf[pos] ^= 1 << (arg % 8)
        elif op == 1:
            buf[pos:pos] = INSERTS[arg % len(INSERTS)]
        else:
            del buf[pos : pos + 1 + arg % 8]
    return bytes(buf)


@st.composite
def mutated_frame(draw: st.DrawFn) -> tuple[bytes, type[WireMessage] | None]:
    """A valid encoding of some message, damaged at byte or JSON level, and the type to
    decode it as (``None``: let the decoder pick)."""
    index = draw(st.integers(0, len(SEEDS) - 1))
    mode = draw(st.integers(0, 5))
    program = draw(st.binary(min_size=3, max_size=12))
    if mode < 2:
        frame = _mutate_bytes(SEEDS[index], program)
    else:
        replacement = draw(json_values) if mode == 5 else None
        obj = _mutate_structure(json.loads(SEEDS[index]), program, replacement)
        frame = json.dumps(obj).encode()
    return frame, SEED_TYPES[index] if mode % 2 else None


@FUZZ
@given(st.binary(max_size=300))
def test_fuzz_arbitrary_bytes(data: bytes) -> None:
    _decode_only_protocol_errors(data)


@FUZZ
@given(st.tuples(st.sampled_from([None, *TYPE_NAMES]), json_values).map(_tagged))
def test_fuzz_arbitrary_json(value: Any) -> None:
    _decode_only_protocol_errors(json.dumps(value))


@FUZZ
@given(mutated_frame())
def test_fuzz_mutated_valid_messages(case: tuple[bytes, type[WireMessage] | None]) -> None:
    _decode_only_protocol_errors(*case)


def test_mutators_do_damage() -> None:
    seed = SEEDS[0]
    assert _mutate_bytes(seed, b"\x00\x00\x00") != seed  # flip bit 0 of byte 0
    assert _mutate_bytes(seed, b"\x00\x01\x01") == seed[:1] + b'"' + seed[1:]
    assert _mutate_structure({"a": 1}, b"\x00\x01\x00", None) == {}
    assert _mutate_structure({"a": 1}, b"\x00\x01\x01", "r") == {"a": "r"}
