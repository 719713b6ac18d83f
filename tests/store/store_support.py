"""Test support for the store: a manual clock, and statuses / events of a real house layout.

The house is the largest one shipped (hw25: 40 channels). Its statuses carry 60 readings per
channel (one every 5 s) with values that are a pure function of (slot, channel, reading), so a
test can recompute any aggregate from scratch.
"""

from __future__ import annotations

import functools
import math
import sqlite3
import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from scada.layout.load import load_layout
from scada.protocol.base import new_id
from scada.protocol.codec import decode
from scada.protocol.enums import ProblemKind, Severity
from scada.protocol.events import ProblemEvent
from scada.protocol.readings import AggregateReport, ChannelSeries, Status

ROOT = Path(__file__).resolve().parents[2]
HW25 = ROOT / "input_data" / "houses" / "hw25.isone.me.versant.keene.beech.json"
T0 = datetime(2025, 1, 6, tzinfo=UTC)  # a Monday, midnight UTC: aligned to every period
SLOT_S = 300
READINGS = 60
STEP_S = 5


@dataclass
class ManualClock:
    """A clock that only moves when told to."""

    at: datetime = T0
    mono: float = 0.0

    def now(self) -> datetime:
        return self.at

    def monotonic(self) -> float:
        return self.mono

    async def sleep(self, seconds: float) -> None:
        self.advance(seconds)

    def advance(self, seconds: float) -> None:
        self.at += timedelta(seconds=seconds)
        self.mono += seconds


@dataclass(frozen=True)
class House:
    alias: str
    scada: str
    channels: tuple[tuple[str, str], ...]  # (name, unit)
    boot_id: str = field(default_factory=new_id)


def hw25() -> House:
    layout = load_layout(HW25)
    return House(
        alias=layout.house.alias,
        scada=layout.house.scada,
        channels=tuple((c.name, c.unit.value) for c in layout.channels),
    )


CYCLE = 97  # slots before the values repeat (prime, so hours and days differ)


def value(slot: int, channel: int, k: int) -> float:
    """Reading ``k`` of channel ``channel`` in slot number ``slot`` (deterministic)."""
    j = (slot % CYCLE) * READINGS + k
    wave = math.sin(j / 97.0 + channel)
    return round(20.0 + channel + 15.0 * wave + ((j * 17 + channel * 7) % 101) / 1000, 3)


@functools.cache
def _values(n_channels: int) -> tuple[tuple[float, ...], ...]:
    """Every channel's values over one cycle, so a status slices them instead of computing."""
    return tuple(
        tuple(value(s, i, k) for s in range(CYCLE) for k in range(READINGS))
        for i in range(n_channels)
    )


@functools.cache
def _offsets(n_channels: int) -> tuple[tuple[int, ...], ...]:
    """Each channel's read times, in ms after its slot's start: the channels poll at staggered
    phases within the 5 s period."""
    return tuple(
        tuple(STEP_S * 1000 * k + (i * 97) % 5000 for k in range(READINGS))
        for i in range(n_channels)
    )


def slot_number(slot_start: datetime) -> int:
    return int((slot_start - T0).total_seconds()) // SLOT_S


def series_of(
    house: House, slot_start: datetime
) -> list[tuple[str, str, tuple[float, ...], tuple[int, ...]]]:
    """(channel, unit, values, read times in ms after ``slot_start``) of each channel in the
    slot at ``slot_start``."""
    j = (slot_number(slot_start) % CYCLE) * READINGS
    values, offsets = _values(len(house.channels)), _offsets(len(house.channels))
    return [
        (name, unit, values[i][j : j + READINGS], offsets[i])
        for i, (name, unit) in enumerate(house.channels)
    ]


def slot_values(house: House, slot_start: datetime) -> list[tuple[float, ...]]:
    """The values of each channel in the slot at ``slot_start`` (no datetimes built)."""
    j = (slot_number(slot_start) % CYCLE) * READINGS
    return [v[j : j + READINGS] for v in _values(len(house.channels))]


def last_read_at(house: House, slot_start: datetime, channel: int) -> datetime:
    return slot_start + timedelta(milliseconds=_offsets(len(house.channels))[channel][-1])


def status(house: House, slot_start: datetime, *, seq: int = 1, fast: bool = False) -> Status:
    """The status of the 5-minute slot starting at ``slot_start``.

    ``fast`` skips pydantic's validation (``model_construct``): the content is the same, and a
    28-day run builds 8,064 of these.
    """
    parts = series_of(house, slot_start)
    if fast:
        return Status.model_construct(
            type="status",
            version=2,
            id=new_id(),
            house_alias=house.alias,
            scada_alias=house.scada,
            boot_id=house.boot_id,
            seq=seq,
            slot_start=slot_start,
            slot_duration_s=SLOT_S,
            channels=tuple(
                ChannelSeries.model_construct(channel=c, unit=u, values=v, offsets_ms=ms)
                for c, u, v, ms in parts
            ),
            is_backlog=False,
        )
    return Status(
        id=new_id(),
        house_alias=house.alias,
        scada_alias=house.scada,
        boot_id=house.boot_id,
        seq=seq,
        slot_start=slot_start,
        slot_duration_s=SLOT_S,
        channels=tuple(
            ChannelSeries(channel=c, unit=u, values=v, offsets_ms=ms) for c, u, v, ms in parts
        ),
    )


def small_status(slot_start: datetime, *, channels: int = 2, readings: int = 3) -> Status:
    """A small status for tests of the outbox's bookkeeping."""
    return Status(
        id=new_id(),
        house_alias="test.house",
        scada_alias="test.house.scada",
        boot_id="00000000-0000-4000-8000-000000000000",
        seq=1,
        slot_start=slot_start,
        channels=tuple(
            ChannelSeries(
                channel=f"ch-{i}",
                unit="degC",
                values=tuple(float(10 * i + k) for k in range(readings)),
                offsets_ms=tuple(60_000 * k + 1_000 for k in range(readings)),
            )
            for i in range(channels)
        ),
    )


def problem(at: datetime, summary: str = "tank-temp1 silent for 12 s") -> ProblemEvent:
    return ProblemEvent(
        id=new_id(),
        at=at,
        kind=ProblemKind.SENSOR_STALE,
        subject="tank-temp1",
        summary=summary,
        severity=Severity.WARNING,
    )


def insert_raw(
    db: sqlite3.Connection,
    *,
    mid: str,
    payload: bytes,
    kind: str = "status",
    tier: int = 1,
    start: datetime = T0,
    checked: str = "written-by-an-older-release",
    codec: int = 1,
    compressed: bool = False,
) -> None:
    """A row as another release (or a damaged disk) might have left it."""
    blob = payload if compressed else zlib.compress(payload)
    us = (start - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)
    db.execute(
        "INSERT INTO outbox (id, kind, tier, start_us, end_us, created_us, checked, codec, "
        "size_bytes, payload) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (mid, kind, tier, us, us + 300_000_000, us, checked, codec, len(blob), blob),
    )


def fixed_id(i: int) -> str:
    """A valid message id that tells its number."""
    return f"00000000-0000-4000-8000-{i:012x}"


@dataclass(frozen=True)
class Expected:
    """What an aggregate of one channel over one period must say."""

    count: int
    mean: float
    min: float
    max: float
    last: float
    last_read_at: datetime


def reference(statuses: list[Status], period_s: int) -> dict[tuple[datetime, str], Expected]:
    """Aggregates computed the slow, obvious way: every reading into its period."""
    readings: dict[tuple[datetime, str], list[tuple[datetime, int, float]]] = {}
    n = 0
    for s in statuses:
        for c in s.channels:
            for v, t in zip(c.values, s.read_times(c), strict=True):
                start = T0 + timedelta(seconds=((t - T0) // timedelta(seconds=period_s)) * period_s)
                readings.setdefault((start, c.channel), []).append((t, n, v))
                n += 1
    out = {}
    for key, rs in readings.items():
        values = [v for _, _, v in rs]
        t_last, _, v_last = max(rs)
        try:
            mean = math.fsum(values) / len(values)
        except OverflowError:  # a sum of huge values: scale by a power of two (exact)
            mean = math.fsum(v / 2**64 for v in values) / len(values) * 2**64
        out[key] = Expected(len(values), mean, min(values), max(values), v_last, t_last)
    return out


def aggregates_of(payloads: list[bytes], period_s: int) -> dict[tuple[datetime, str], Expected]:
    """The aggregates in the store's messages of period ``period_s``, as :class:`Expected`."""
    out = {}
    for raw in payloads:
        msg = decode(raw)
        if isinstance(msg, AggregateReport) and msg.period_s == period_s:
            for c in msg.aggregates():
                key = (msg.period_start, c.channel)
                assert key not in out, f"two aggregates of {key}"
                out[key] = Expected(c.count, c.mean, c.min, c.max, c.last, c.last_read_at)
    return out


def assert_same(
    got: dict[tuple[datetime, str], Expected], want: dict[tuple[datetime, str], Expected]
) -> None:
    assert got.keys() == want.keys()
    for key, w in want.items():
        g = got[key]
        assert (g.count, g.min, g.max, g.last, g.last_read_at) == (
            w.count,
            w.min,
            w.max,
            w.last,
            w.last_read_at,
        ), key
        # Merged means are within a few rounding errors of the inputs' magnitude, not of the
        # mean's: readings near +-1.8e308 that nearly cancel leave a mean 5,000x smaller.
        scale = max(abs(w.min), abs(w.max))
        assert math.isclose(g.mean, w.mean, rel_tol=1e-13, abs_tol=1e-12 * max(scale, 1.0)), (
            key,
            g.mean,
            w.mean,
        )
