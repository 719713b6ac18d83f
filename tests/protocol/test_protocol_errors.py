"""Bad frames give one ProtocolError that says what is wrong and where."""

from __future__ import annotations

import json
import pickle
from typing import Any

import pytest

from scada.protocol import (
    MAX_FRAME_BYTES,
    ProtocolError,
    Reading,
    Status,
    decode,
    decode_as,
    encode,
)
from scada.protocol import codec as codec_module
from scada.protocol.examples import (
    example_command,
    example_reading,
    example_result,
    example_status,
)

WHERE = "socket frame 17"


def _obj(msg: Reading | Status | Any) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(encode(msg))
    return result


def _error(data: bytes | str) -> ProtocolError:
    with pytest.raises(ProtocolError) as info:
        decode(data, where=WHERE)
    return info.value


def _error_of(obj: object) -> ProtocolError:
    return _error(json.dumps(obj).encode())


def test_str_joins_where_type_path_and_what() -> None:
    status = _obj(example_status(3, 2))
    status["channels"][2]["values"][1] = "hot"
    err = _error_of(status)
    assert err.where == WHERE
    assert err.message_type == "status"
    assert err.path == "channels[2].values[1]"
    assert err.what == "Input should be a valid number"
    assert (
        str(err) == "socket frame 17: status: channels[2].values[1]: Input should be a valid number"
    )
    assert isinstance(err, ValueError)


@pytest.mark.parametrize(
    ("data", "what"),
    [
        (b"\xff\xfe{}", "invalid UTF-8 at byte 0"),
        (b'{"type":"reading","unit":"\xc3"}', "invalid UTF-8 at byte 26"),
        (b"", "invalid JSON: EOF while parsing a value at line 1 column 0"),
        (b'{"type":"ack"', "invalid JSON: EOF while parsing an object at line 1 column 13"),
        (b'{"type":"ack"} {}', "invalid JSON: trailing characters at line 1 column 16"),
        (b"[1, 2]", "a message must be a JSON object, not an array"),
        (b'"status"', "a message must be a JSON object, not a string"),
        (b"42", "a message must be a JSON object, not a number"),
        (b"null", "a message must be a JSON object, not null"),
        (b"true", "a message must be a JSON object, not a boolean"),
        (b"{}", "no 'type' field: cannot tell which message this is"),
        (b'{"type":"gt.sh.status.110"}', "unknown message type 'gt.sh.status.110'"),
        (b'{"type":7}', "unknown message type '7'"),
    ],
)
def test_frame_level_errors(data: bytes, what: str) -> None:
    err = _error(data)
    assert err.what == what
    assert err.path == ""
    assert str(err) == f"{WHERE}: {what}"


def test_wrong_version_names_the_supported_one_and_wins_over_other_errors() -> None:
    reading = _obj(example_reading()) | {"version": 2, "value": "renamed", "new_field": 1}
    err = _error_of(reading)
    assert err.message_type == "reading"
    assert err.path == "version"
    assert err.what == "unsupported version 2; this SCADA speaks version 1"
    assert _error_of(reading | {"version": "1"}).what.startswith("unsupported version '1'")


@pytest.mark.parametrize(
    ("change", "path", "what"),
    [
        ({"bogus": 1}, "bogus", "unknown field"),
        ({"value": None}, "value", "Input should be a valid number"),
        ({"value": "1.5"}, "value", "Input should be a valid number"),
        ({"value": True}, "value", "Input should be a valid number"),
        ({"read_at": "2025-01-15T12:00:00"}, "read_at", "Input should have timezone info"),
        ({"read_at": 1736942400}, "read_at", "Input should be a valid datetime"),
        ({"node": "A.Tank/temp0"}, "node", "String should match pattern"),
        ({"unit": ""}, "unit", "String should match pattern"),
    ],
)
def test_field_errors(change: dict[str, Any], path: str, what: str) -> None:
    err = _error_of(_obj(example_reading()) | change)
    assert (err.message_type, err.path) == ("reading", path)
    assert err.what.startswith(what)


def test_missing_field_and_counted_extra_problems() -> None:
    reading = _obj(example_reading())
    del reading["channel"], reading["value"]
    err = _error_of(reading)
    assert (err.path, err.what) == ("channel", "required field is missing (and 1 more problem)")


def test_non_finite_json_numbers_are_refused() -> None:
    for literal in (b"NaN", b"Infinity", b"-Infinity", b"1e999"):
        data = encode(example_reading()).replace(b"61.25", literal)
        assert _error(data).what == "Input should be a finite number"


def test_cross_field_rules_report_their_sentence() -> None:
    status = _obj(example_status(3, 2))
    status["channels"][1]["offsets_ms"].pop()
    err = _error_of(status)
    assert err.path == "channels[1]"
    assert err.what == "channel tank1-depth2: 2 values but 1 offsets"
    status = _obj(example_status(1, 1)) | {"slot_start": "2025-01-15T12:01:00Z"}
    assert "is not aligned to 300 s" in _error_of(status).what
    cmd = _obj(example_command())
    cmd["expires_at"] = cmd["issued_at"]
    assert _error_of(cmd).what == "expires_at must be after issued_at"
    result = _obj(example_result()) | {"reason": None}
    assert _error_of(result).what == "a refused result must give a reason"


def test_event_payload_must_match_its_stream() -> None:
    frame: dict[str, Any] = {"type": "event", "event": "mode", "payload": _obj(example_reading())}
    frame["at"] = frame["payload"]["read_at"]
    assert _error_of(frame).what == "a mode event cannot carry a reading message"
    frame["payload"]["value"] = "x"
    assert _error_of(frame).path == "payload.reading.value"


def test_decode_as_names_both_types() -> None:
    with pytest.raises(ProtocolError) as info:
        decode_as(encode(example_reading()), Status, where="topic gw/a/to/b/status")
    err = info.value
    assert err.message_type == "status"
    assert err.path == "type"
    assert err.what.startswith("expected a 'status' message, got type 'reading'")
    assert str(err).startswith("topic gw/a/to/b/status: status: type: expected a 'status'")
    with pytest.raises(ProtocolError, match="not an array"):
        decode_as(b"[]", Reading)


def test_broken_request_keeps_its_id_for_the_reply() -> None:
    err = _error_of({"type": "req.take_hold", "id": 9, "operator": "Jo", "minutes": 0})
    assert (err.frame_id, err.path) == (9, "minutes")
    assert err.what == "Input should be greater than 0"
    assert _error_of({"type": "req.nope", "id": 3}).frame_id == 3
    assert _error_of({"type": "req.snapshot", "id": True}).frame_id is None
    assert _error(b'{"id": 3').frame_id is None


def test_oversized_frames_are_refused_without_parsing() -> None:
    big = b'{"type":"reply","id":1,"ok":true,"result":{"x":"' + b"a" * MAX_FRAME_BYTES + b'"}}'
    assert "exceeds 1048576 bytes" in _error(big).what
    assert "exceeds 1048576 bytes" in _error(big.decode()).what
    assert "exceeds" in _error("é" * (MAX_FRAME_BYTES // 2 + 1)).what  # 2 bytes per character
    fits = b'{"type":"reply","id":1,"ok":true,"result":{"x":"' + b"a" * 1000 + b'"}}'
    assert decode(fits).type == "reply"


def test_deep_nesting_is_a_protocol_error() -> None:
    deep = b'{"type":"reply","id":1,"ok":true,"result":{"x":' + b"[" * 100_000 + b"]" * 100_000
    assert "recursion limit" in _error(deep + b"}}").what


def test_odd_inputs() -> None:
    assert "not valid Unicode" in _error('{"type": "\ud800"}').what
    assert decode(bytearray(encode(example_reading()))) == example_reading()  # type: ignore[arg-type]
    assert decode(memoryview(encode(example_reading()))) == example_reading()  # type: ignore[arg-type]
    assert "expected bytes or str, got int" in _error(42).what  # type: ignore[arg-type]
    assert "expected bytes or str, got NoneType" in _error(None).what  # type: ignore[arg-type]


def test_unexpected_failures_inside_pydantic_still_become_protocol_errors(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    class Exploding:
        def __init__(self, exc: BaseException) -> None:
            self.exc = exc

        def validate_json(self, data: bytes, *, strict: bool) -> object:
            raise self.exc

    monkeypatch.setattr(codec_module, "_ADAPTER", Exploding(RecursionError()))
    assert _error(b"{}").what == "nested too deeply"
    monkeypatch.setattr(codec_module, "_ADAPTER", Exploding(RuntimeError("boom")))
    err = _error(b"{}")
    assert err.what == "undecodable (RuntimeError: boom)"
    assert isinstance(err.__cause__, RuntimeError)


def test_encode_refuses_non_json_results() -> None:
    from scada.protocol import Reply

    with pytest.raises(ProtocolError, match="cannot encode"):
        encode(Reply(id=1, ok=True, result={"x": object()}))


def test_protocol_error_pickles() -> None:
    err = ProtocolError("bad", where="w", path="a[1]", message_type="status", frame_id=4)
    back = pickle.loads(pickle.dumps(err))  # noqa: S301 -- our own object
    assert (back.what, back.where, back.path, back.message_type, back.frame_id) == (
        "bad",
        "w",
        "a[1]",
        "status",
        4,
    )
    assert str(back) == "w: status: a[1]: bad"
