"""A status's read times travel as integer millisecond offsets from its slot start (version 2)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from scada.protocol import ChannelSeries, ProtocolError, Status, decode, decode_as, encode
from scada.protocol.examples import T0, example_status
from scada.protocol.readings import MAX_OFFSET_MS, offset_ms

US = timedelta(microseconds=1)


def _status(*series: ChannelSeries, slot_start: datetime = T0) -> Status:
    return example_status(0, 0).model_copy(update={"channels": series, "slot_start": slot_start})


def _frame(status: Status) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(encode(status))
    return result


def _v1_frame(status: Status) -> bytes:
    """``status`` as the first release sent it: ``version`` 1, an ISO-8601 ``read_at`` per
    reading."""
    frame = _frame(status) | {"version": 1}
    for c, series in zip(frame["channels"], status.channels, strict=True):
        del c["offsets_ms"]
        c["read_at"] = [t.isoformat().replace("+00:00", "Z") for t in status.read_times(series)]
    return json.dumps(frame, separators=(",", ":")).encode()


def test_sub_millisecond_times_are_floored_and_round_trip() -> None:
    times = [T0 + timedelta(microseconds=us) for us in (0, 999, 1_000, 1_999, 299_999_999)]
    series = ChannelSeries.of("tank-temp0", "degC", [(t, 40.0) for t in times], T0)
    assert series.offsets_ms == (0, 0, 1, 1, 299_999)  # the last still inside the slot
    status = _status(series)
    back = decode(encode(status))
    assert back == status
    assert isinstance(back, Status)
    want = [T0, T0, T0 + 1000 * US, T0 + 1000 * US, T0 + 299_999_000 * US]
    assert list(back.read_times(back.channels[0])) == want
    assert back.channels[0].readings(T0) == [(t, 40.0) for t in want]
    assert back.channels[0].read_time(T0) == want[-1]
    assert back.channels[0].read_time(T0, 2) == want[2]


def test_the_wire_form_is_plain_integers() -> None:
    series = ChannelSeries.of("c", "W", [(T0 + timedelta(seconds=1.5), 1.0)], T0)
    assert b'"values":[1.0],"offsets_ms":[1500]' in encode(_status(series))


def test_readings_before_the_slot_have_negative_offsets_floored_away_from_it() -> None:
    late = [T0 - timedelta(minutes=5), T0 - timedelta(microseconds=1), T0 - timedelta(days=30)]
    series = ChannelSeries.of("c", "W", [(t, 1.0) for t in late], T0)
    assert series.offsets_ms == (-300_000, -1, -30 * 86_400_000)
    back = decode(encode(_status(series)))
    assert isinstance(back, Status)
    assert back.read_times(back.channels[0]) == (
        T0 - timedelta(minutes=5),
        T0 - timedelta(milliseconds=1),
        T0 - timedelta(days=30),
    )


def test_offsets_are_taken_across_time_zones_and_read_back_in_the_slots_zone() -> None:
    plus_two = timezone(timedelta(hours=2))
    t = datetime(2025, 1, 15, 14, 0, 3, 250_000, tzinfo=plus_two)  # 12:00:03.25Z
    series = ChannelSeries.of("c", "W", [(t, 1.0)], T0)
    assert series.offsets_ms == (3_250,)
    [back] = series.read_times(T0)
    assert back == t
    assert back.tzinfo is UTC


@given(st.integers(-(10**13), 10**13))
def test_of_floors_every_offset_exactly(us: int) -> None:
    t = T0 + timedelta(microseconds=us)
    assert offset_ms(t, T0) == us // 1000
    series = ChannelSeries.of("c", "W", [(t, 0.0)], T0)
    assert series.offsets_ms == (us // 1000,)
    [back] = series.read_times(T0)
    assert back <= t < back + timedelta(milliseconds=1)


def test_values_and_offsets_of_different_lengths_are_refused_naming_the_channel() -> None:
    with pytest.raises(ValidationError, match="channel tank-temp3: 2 values but 3 offsets"):
        ChannelSeries(channel="tank-temp3", unit="degC", values=(1.0, 2.0), offsets_ms=(0, 1, 2))
    frame = _frame(example_status(2, 3))
    frame["channels"][1]["values"].pop()
    with pytest.raises(ProtocolError) as info:
        decode(json.dumps(frame), where="topic gw/a/to/b/status")
    assert info.value.path == "channels[1]"
    assert info.value.what == "channel tank1-depth2: 2 values but 3 offsets"


def test_offsets_out_of_range_are_refused() -> None:
    ok = ChannelSeries(channel="c", unit="W", values=(1.0, 2.0), offsets_ms=(-MAX_OFFSET_MS, 0))
    assert ok.offsets_ms[0] == -MAX_OFFSET_MS
    with pytest.raises(ValidationError, match="less than or equal to"):
        ChannelSeries(channel="c", unit="W", values=(1.0,), offsets_ms=(MAX_OFFSET_MS + 1,))
    too_early = T0 - timedelta(milliseconds=MAX_OFFSET_MS, microseconds=1)  # floors past it
    with pytest.raises(ValidationError, match="greater than or equal to"):
        ChannelSeries.of("c", "W", [(too_early, 1.0)], T0)
    for bad in (2**63, -(2**70), 1.5, "12", True, None):
        frame = _frame(example_status(1, 2))
        frame["channels"][0]["offsets_ms"][1] = bad
        with pytest.raises(ProtocolError) as info:
            decode(json.dumps(frame))
        assert info.value.path == "channels[0].offsets_ms[1]", bad


def test_a_version_1_status_is_refused_with_a_clear_error() -> None:
    old = _v1_frame(example_status(2, 3))
    assert b'"read_at":["2025-01-15T12:00:00Z"' in old
    for decoder in (decode, lambda data, where: decode_as(data, Status, where=where)):
        with pytest.raises(ProtocolError) as info:
            decoder(old, where="topic gw/a/to/b/status")
        err = info.value
        assert (err.message_type, err.path) == ("status", "version")
        assert err.what == "unsupported version 1; this SCADA speaks version 2"
        assert str(err) == (
            "topic gw/a/to/b/status: status: version: "
            "unsupported version 1; this SCADA speaks version 2"
        )


def test_a_large_status_is_less_than_half_its_version_1_size() -> None:
    status = example_status(40, 300)
    new, old = len(encode(status)), len(_v1_frame(status))
    assert decode(encode(status)) == status
    assert new < 0.4 * old, (new, old)
