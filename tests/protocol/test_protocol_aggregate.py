"""An aggregate report (version 2, columns): rows round-trip; a last value outside min and
max, a last reading outside the period, columns of unequal length and a version-1 report are
refused, naming what is wrong."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from scada.protocol import ProtocolError, decode, encode
from scada.protocol.examples import example_aggregate
from scada.protocol.readings import AggregateReport


def _with_rows(report: AggregateReport, rows: Any) -> AggregateReport:
    return AggregateReport.of(
        id=report.id,
        house_alias=report.house_alias,
        scada_alias=report.scada_alias,
        period_start=report.period_start,
        period_s=report.period_s,
        aggregates=rows,
    )


def _frame_with(report: AggregateReport, **changes: Any) -> bytes:
    """The report's JSON with some fields replaced (bypassing the model's own checks)."""
    raw = json.loads(encode(report))
    raw.update(changes)
    return json.dumps(raw).encode()


def test_rows_go_out_as_columns_and_come_back_equal() -> None:
    report = example_aggregate()
    raw = json.loads(encode(report))
    assert raw["version"] == 2
    assert raw["channels"] == [a.channel for a in report.aggregates()]
    assert raw["last_offsets_ms"] == [3_599_000] * 4
    back = decode(encode(report))
    assert back == report
    assert isinstance(back, AggregateReport)
    assert back.aggregates() == report.aggregates()
    assert _with_rows(report, back.aggregates()) == report


@pytest.mark.parametrize("last", [39.0, 45.0])
def test_a_last_value_outside_min_and_max_is_refused_naming_the_channel(last: float) -> None:
    report = example_aggregate()
    lasts = list(report.lasts)
    lasts[1] = last  # channel 1: min 41, max 43
    with pytest.raises(
        ProtocolError, match=rf"channel {report.channels[1]}: need min <= last <= max"
    ):
        decode(_frame_with(report, lasts=lasts))


def test_a_last_value_at_min_or_max_is_accepted() -> None:
    report = example_aggregate()
    c = report.aggregates()[0]
    for last in (c.min, c.max):
        edge = _with_rows(report, [replace(c, last=last)])
        assert decode(encode(edge)) == edge


@pytest.mark.parametrize("ms", [-1, 3_600_000])
def test_a_last_reading_outside_the_period_is_refused(ms: int) -> None:
    report = example_aggregate()
    with pytest.raises(ProtocolError, match=r"outside the 3600 s period"):
        decode(_frame_with(report, last_offsets_ms=[ms] * 4))


def test_columns_of_unequal_length_are_refused() -> None:
    report = example_aggregate()
    with pytest.raises(ProtocolError, match=r"4 channels but 3 means"):
        decode(_frame_with(report, means=list(report.means[:3])))


def test_a_version_1_report_is_refused_as_unsupported() -> None:
    report = example_aggregate()
    v1_rows = [
        {
            "channel": a.channel,
            "unit": a.unit,
            "count": a.count,
            "min": a.min,
            "mean": a.mean,
            "max": a.max,
            "last": a.last,
            "last_read_at": (a.last_read_at).isoformat(),
        }
        for a in report.aggregates()
    ]
    frame = json.dumps(
        {
            "type": "aggregate",
            "version": 1,
            "id": report.id,
            "house_alias": report.house_alias,
            "scada_alias": report.scada_alias,
            "period_start": report.period_start.isoformat(),
            "period_s": report.period_s,
            "channels": v1_rows,
        }
    ).encode()
    with pytest.raises(ProtocolError, match=r"unsupported version 1"):
        decode(frame)


def test_last_read_at_keeps_whole_milliseconds() -> None:
    report = example_aggregate()
    c = report.aggregates()[0]
    odd = _with_rows(
        report, [replace(c, last_read_at=c.last_read_at + timedelta(microseconds=1999))]
    )
    assert odd.aggregates()[0].last_read_at == c.last_read_at + timedelta(milliseconds=1)
