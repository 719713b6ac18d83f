"""Every message survives encode -> decode unchanged, and the models keep their contracts."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from scada.protocol import (
    EVENT_PAYLOADS,
    MESSAGE_CLASSES,
    MESSAGE_TYPES,
    SCHEMA_VERSION,
    AuditList,
    ChannelHealth,
    ChannelSnapshot,
    DispatchContract,
    EventFrame,
    EventKind,
    EventList,
    HoldState,
    HouseInfo,
    HouseList,
    Reading,
    Reply,
    Request,
    Snapshot,
    WireMessage,
    decode,
    decode_as,
    encode,
    topic,
)
from scada.protocol.examples import (
    T0,
    example_audit,
    example_command,
    example_contract,
    example_hold,
    example_messages,
    example_snapshot,
    example_status,
)

EXAMPLES = example_messages()


def test_examples_cover_every_message_type() -> None:
    assert sorted(m.type for m in EXAMPLES) == sorted(MESSAGE_CLASSES)
    assert len(MESSAGE_TYPES) == len(MESSAGE_CLASSES)


@pytest.mark.parametrize("msg", EXAMPLES, ids=lambda m: m.type)
def test_round_trip(msg: WireMessage) -> None:
    data = encode(msg)
    decoded = decode(data, where="test")
    assert decoded == msg
    assert type(decoded) is type(msg)
    assert decode_as(data, type(msg)) == msg
    assert decode(data.decode("utf-8")) == msg
    assert encode(decoded) == data


@pytest.mark.parametrize("msg", EXAMPLES, ids=lambda m: m.type)
def test_encoding_is_compact_json_object_with_type_first(msg: WireMessage) -> None:
    data = encode(msg)
    assert not data.endswith(b"\n")
    obj = json.loads(data)
    assert list(obj)[:2] == ["type", "version"]
    # every message is at version 1 but the status (read times became offsets), the aggregate
    # (columns) and the ack (many ids at once)
    assert obj["version"] == (2 if msg.type in {"status", "aggregate", "ack"} else SCHEMA_VERSION)
    assert data == json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()


def test_large_messages_round_trip() -> None:
    for msg in (example_snapshot(40, 8), example_status(40, 30)):
        assert decode(encode(msg)) == msg


def test_times_serialise_as_iso_8601_with_z_and_keep_offsets() -> None:
    reading = Reading(channel="c", node="a.b", value=1.0, unit="degC", read_at=T0)
    assert b'"read_at":"2025-01-15T12:00:00Z"' in encode(reading)
    plus_two = T0.astimezone(timezone(timedelta(hours=2)))
    shifted = reading.model_copy(update={"read_at": plus_two})
    assert b'"2025-01-15T14:00:00+02:00"' in encode(shifted)
    assert decode(encode(shifted)) == reading  # the same instant


def test_naive_datetimes_are_refused_at_construction() -> None:
    with pytest.raises(ValidationError, match="timezone"):
        Reading(channel="c", node="a.b", value=1.0, unit="degC", read_at=datetime(2025, 1, 1))  # noqa: DTZ001


def test_models_are_frozen_and_forbid_extra_fields() -> None:
    reading = Reading(channel="c", node="a.b", value=1.0, unit="degC", read_at=T0)
    with pytest.raises(ValidationError, match="frozen"):
        reading.value = 2.0  # type: ignore[misc]
    with pytest.raises(ValidationError, match="Extra inputs"):
        Reading.model_validate(reading.model_dump() | {"bogus": 1})


def test_non_finite_floats_are_refused() -> None:
    for bad in (float("nan"), float("inf"), -float("inf")):
        with pytest.raises(ValidationError, match="finite"):
            Reading(channel="c", node="a.b", value=bad, unit="degC", read_at=T0)


def test_request_union_and_reply_rules() -> None:
    from pydantic import TypeAdapter

    adapter: TypeAdapter[Request] = TypeAdapter(Request)
    req = adapter.validate_python(
        {"type": "req.take_hold", "id": 4, "operator": "Jo", "minutes": 5}
    )
    assert req.id == 4
    with pytest.raises(ValidationError, match="cannot carry an error"):
        Reply(id=1, ok=True, error={"code": "x", "message": "y"})
    with pytest.raises(ValidationError, match="carries an error"):
        Reply(id=1, ok=False)


def test_cross_field_rules() -> None:
    cmd = example_command()
    with pytest.raises(ValidationError, match="expires_at must be after issued_at"):
        cmd.model_validate(cmd.model_dump() | {"expires_at": cmd.issued_at})
    with pytest.raises(ValidationError, match="name its operator"):
        cmd.model_validate(cmd.model_dump() | {"operator": None})
    hold = example_hold()
    with pytest.raises(ValidationError, match="after started_at"):
        HoldState.model_validate(hold.model_dump() | {"expires_at": hold.started_at})
    with pytest.raises(ValidationError, match="health ok needs a value"):
        ChannelSnapshot(
            channel="c", node="a.b", quantity="water_temp", unit="degC", health=ChannelHealth.OK
        )
    snap = example_snapshot(3, 1)
    with pytest.raises(ValidationError, match="duplicate channels: tank1-depth1"):
        Snapshot.model_validate(snap.model_dump() | {"channels": snap.channels * 2})


def test_helpers() -> None:
    contract: DispatchContract = example_contract()
    assert contract.end == T0 + timedelta(hours=1)
    hold = example_hold()
    assert hold.remaining_s(T0 + timedelta(minutes=20)) == 600.0
    assert hold.remaining_s(T0 + timedelta(days=1)) == 0.0
    cmd = example_command()
    assert not cmd.expired(T0)
    assert cmd.expired(T0 + timedelta(seconds=30))
    assert not cmd.model_copy(update={"expires_at": None}).expired(datetime.now(UTC))


def test_snapshot_channel_health_is_explicit() -> None:
    snap = example_snapshot()
    by_health = {c.health for c in snap.channels}
    assert {ChannelHealth.OK, ChannelHealth.STALE, ChannelHealth.NEVER_READ} <= by_health
    never = next(c for c in snap.channels if c.health is ChannelHealth.NEVER_READ)
    assert never.value is None
    assert never.read_at is None


def test_every_event_stream_has_payload_types_and_every_type_is_a_topic_level() -> None:
    assert set(EVENT_PAYLOADS) == set(EventKind)
    for type_name in MESSAGE_CLASSES:
        assert topic("a.scada", "b.atn", type_name).endswith("/" + type_name)


def test_reply_result_parts_validate_from_json() -> None:
    houses = HouseList(
        houses=(
            HouseInfo(
                alias="dw1.isone.nh.orange.1",
                display_name="Little Orange House",
                simulated=True,
                layout_path="input_data/houses/orange.json",
            ),
        ),
        current="dw1.isone.nh.orange.1",
    )
    events = EventList(events=(EventFrame(event=EventKind.HOLD, payload=example_hold(), at=T0),))
    audit = AuditList(entries=(example_audit(),))
    for part in (houses, events, audit):
        reply = decode_as(encode(Reply(id=1, ok=True, result=part.model_dump(mode="json"))), Reply)
        assert reply.result is not None
        assert type(part).model_validate(reply.result) == part
