"""Exact per-channel aggregation of statuses and aggregate reports into aligned periods.

Pure: no I/O. A period is keyed by (house alias, SCADA alias, start in µs since the epoch) and
holds one :class:`ChannelAcc` per (channel, unit). Readings go to the period their read time
(the status's ``slot_start`` plus the reading's millisecond offset, in integer µs) falls in
(so a status of any length aggregates right); an aggregate goes to the longer period its start
falls in. Every period a status or an aggregate covers is kept, even with no readings, so
"nothing measured" stays distinguishable from "nothing sent".

Exactness: ``count``, ``min``, ``max`` and ``last`` are exact. The mean of a status's readings
is ``fsum(values) / count`` (correctly rounded); merging periods weights each part's mean by
its count, ``fsum(mean_i * (count_i / count))``, which is within a few rounding errors of the
mean of all the readings and never overflows (a sum of large values could). A mean that
rounding pushes a hair outside ``[min, max]`` is clamped back (the true mean is inside).

The *digest* is the store's private JSON form of a status's or an aggregate's periods (per
channel: count, mean, min, max, last and its time), computed once when the row is written, so
compaction never re-parses a 35 KB status and reads plain JSON instead of validating a model.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Final

from scada.protocol.base import NAME_PATTERN
from scada.protocol.readings import AggregateReport, Status
from scada.store.encoding import from_us, to_us

_NAME = re.compile(NAME_PATTERN)

PeriodKey = tuple[str, str, int]
"""(house alias, SCADA alias, period start in µs since the epoch)."""


@dataclass(slots=True)
class ChannelAcc:
    """A running exact aggregate of one channel (in one unit) over one period."""

    count: int
    parts: list[tuple[float, int]]  # (mean, count) of each merged part
    min: float
    max: float
    last: float
    last_us: int

    def merge(self, other: ChannelAcc) -> None:
        """Fold ``other`` in; on equal read times the later-merged ``last`` wins."""
        self.count += other.count
        self.parts.extend(other.parts)
        self.min = min(self.min, other.min)
        self.max = max(self.max, other.max)
        if other.last_us >= self.last_us:
            self.last, self.last_us = other.last, other.last_us

    @property
    def mean(self) -> float:
        if len(self.parts) == 1:
            mean = self.parts[0][0]
        else:
            mean = math.fsum(m * (c / self.count) for m, c in self.parts)
        return min(max(mean, self.min), self.max)


Channels = dict[tuple[str, str], ChannelAcc]
"""(channel, unit) -> aggregate, in first-seen order."""


class Periods:
    """Aggregates of many periods of one length (``period_s``), built up part by part."""

    def __init__(self, period_s: int) -> None:
        if period_s <= 0:
            raise ValueError("period_s must be positive")
        self.period_s = period_s
        self._period_us = period_s * 1_000_000
        self.periods: dict[PeriodKey, Channels] = {}

    def _start(self, us: int) -> int:
        return us - us % self._period_us

    def _cover(self, house: str, scada: str, start_us: int, end_us: int) -> None:
        """Make sure every period overlapping ``[start_us, end_us)`` exists (maybe empty)."""
        p = self._start(start_us)
        while True:
            self.periods.setdefault((house, scada, p), {})
            p += self._period_us
            if p >= end_us:
                return

    def _fold(self, key: PeriodKey, channel: str, unit: str, acc: ChannelAcc) -> None:
        channels = self.periods.setdefault(key, {})
        mine = channels.get((channel, unit))
        if mine is None:
            channels[(channel, unit)] = acc
        else:
            mine.merge(acc)

    def add_status(self, status: Status) -> None:
        """Every reading of ``status``, into the period its read time falls in."""
        house, scada = status.house_alias, status.scada_alias
        start = to_us(status.slot_start)
        self._cover(house, scada, start, start + status.slot_duration_s * 1_000_000)
        for series in status.channels:
            offsets = series.offsets_ms  # ms after slot_start: a read time is start + ms * 1000 µs
            n = len(offsets)
            if not n:
                continue
            # the latest read time, the later one on a tie
            latest = max(offsets)
            i_last = (
                n - 1 if offsets[-1] == latest else max(reversed(range(n)), key=offsets.__getitem__)
            )
            lo = self._start(start + min(offsets) * 1000)
            hi = self._start(start + latest * 1000)
            if lo == hi:  # the usual case: the whole series in one period
                acc = _new_acc(series.values, series.values[i_last], start + latest * 1000)
                self._fold((house, scada, lo), series.channel, series.unit, acc)
                continue
            split: dict[int, tuple[list[float], list[int]]] = {}
            for v, ms in zip(series.values, offsets, strict=True):
                us = start + ms * 1000
                values, stamps = split.setdefault(self._start(us), ([], []))
                values.append(v)
                stamps.append(us)
            for p, (values, stamps) in sorted(split.items()):
                self._fold((house, scada, p), series.channel, series.unit, _acc(values, stamps))

    def add_report(self, report: AggregateReport) -> None:
        """An aggregate report (one with no digest): its mean times its count is its sum.
        Raises ``ValueError``, having added nothing, if the report's period does not lie inside
        one of these periods (a 1000 s report across an hour's end cannot be split)."""
        start = to_us(report.period_start)
        key = (report.house_alias, report.scada_alias, self._start(start))
        if start + report.period_s * 1_000_000 > key[2] + self._period_us:
            raise ValueError(
                f"a {report.period_s} s aggregate from {report.period_start.isoformat()} "
                f"does not fit in one {self.period_s} s period"
            )
        self._cover(key[0], key[1], start, start + 1)
        columns = zip(
            report.channels,
            report.units,
            report.counts,
            report.means,
            report.mins,
            report.maxs,
            report.lasts,
            report.last_offsets_ms,
            strict=True,
        )
        for channel, unit, count, mean, lo, hi, last, ms in columns:
            acc = ChannelAcc(count, [(mean, count)], lo, hi, last, start + ms * 1000)
            self._fold(key, channel, unit, acc)

    def add_digest(self, digest: str) -> None:
        """A stored digest (see :func:`digest_text`); raises ``ValueError`` if it is malformed,
        having added nothing."""
        parsed: list[tuple[PeriodKey, int, list[tuple[str, str, ChannelAcc]]]] = []
        try:
            for entry in json.loads(digest):
                house, scada, start = str(entry["h"]), str(entry["s"]), int(entry["b"])
                channels = [_parse_channel(ch) for ch in entry["c"]]
                parsed.append(((house, scada, self._start(start)), start, channels))
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            raise ValueError(f"malformed digest: {exc}") from exc
        for key, _, channels in parsed:
            # a last reading outside the period would make a report that cannot be sent
            for channel, _, acc in channels:
                if self._start(acc.last_us) != key[2]:
                    raise ValueError(
                        f"malformed digest: last reading of {channel} outside its period"
                    )
        for key, start, channels in parsed:
            self._cover(key[0], key[1], start, start + 1)
            for channel, unit, acc in channels:
                self._fold(key, channel, unit, acc)

    def absorb(self, other: Periods) -> None:
        """Fold every period of ``other`` (of any length) into this one's periods."""
        for (house, scada, start), channels in other.periods.items():
            key = (house, scada, self._start(start))
            self._cover(house, scada, start, start + 1)
            for (channel, unit), acc in channels.items():
                self._fold(key, channel, unit, acc)

    def reports(self, new_id: Callable[[], str]) -> list[tuple[AggregateReport, str]]:
        """One :class:`AggregateReport` per period, oldest first, each with its digest.

        A channel seen in two units in one period (the layout changed its unit) cannot be
        averaged across them: each unit goes into its own report for that period.
        """
        out: list[tuple[AggregateReport, str]] = []
        for key in sorted(self.periods, key=lambda k: (k[2], k[0], k[1])):
            by_channel: dict[str, list[tuple[str, ChannelAcc]]] = {}
            for (channel, unit), acc in self.periods[key].items():
                by_channel.setdefault(channel, []).append((unit, acc))
            variants = max((len(v) for v in by_channel.values()), default=1)
            for k in range(variants):
                chosen = [(ch, vs[k]) for ch, vs in by_channel.items() if k < len(vs)]
                report = _report(new_id(), key, self.period_s, chosen)
                out.append((report, digest_text(key, [(ch, u, a) for ch, (u, a) in chosen])))
        return out


def _parse_channel(raw: Any) -> tuple[str, str, ChannelAcc]:
    channel, unit, count, mean, lo, hi, last, last_us = raw
    acc = ChannelAcc(
        int(count), [(float(mean), int(count))], float(lo), float(hi), float(last), int(last_us)
    )
    floats = [float(mean), acc.min, acc.max, acc.last]
    if acc.count < 1 or not all(map(math.isfinite, floats)) or not acc.min <= acc.last <= acc.max:
        raise ValueError(f"channel {channel}: impossible aggregate")
    channel, unit = str(channel), str(unit)
    if not _NAME.match(channel) or not (0 < len(unit) <= 16 and unit.isprintable()):
        raise ValueError(f"bad channel name or unit: {channel!r} {unit!r}")
    return channel, unit, acc


_SCALE: Final = 2.0**-64  # exact: only the exponent changes


def _new_acc(values: Sequence[float], last: float, last_us: int) -> ChannelAcc:
    """The aggregate of ``values`` (finite). The mean is ``fsum / count``, correctly rounded
    (if the sum overflows, the values are scaled down by a power of two first) and kept
    within ``[min, max]``, where the true mean is."""
    lo, hi, n = min(values), max(values), len(values)
    try:
        mean = math.fsum(values) / n
    except OverflowError:  # "intermediate overflow": the sum, not the mean, is too large
        mean = math.inf
    if not math.isfinite(mean):
        mean = math.fsum(v * _SCALE for v in values) / n / _SCALE
    return ChannelAcc(n, [(min(max(mean, lo), hi), n)], lo, hi, last, last_us)


def _acc(values: list[float], times: list[int]) -> ChannelAcc:
    i = max(reversed(range(len(times))), key=times.__getitem__)  # latest; later on a tie
    return _new_acc(values, values[i], times[i])


def _report(
    mid: str, key: PeriodKey, period_s: int, chosen: list[tuple[str, tuple[str, ChannelAcc]]]
) -> AggregateReport:
    """The report of one period's ``chosen`` (channel, (unit, aggregate)) pairs, validated
    once from plain columns (read times are whole milliseconds, as statuses carry them)."""
    accs = [acc for _, (_, acc) in chosen]
    return AggregateReport.model_validate(
        {
            "id": mid,
            "house_alias": key[0],
            "scada_alias": key[1],
            "period_start": from_us(key[2]),
            "period_s": period_s,
            "channels": [ch for ch, _ in chosen],
            "units": [unit for _, (unit, _) in chosen],
            "counts": [a.count for a in accs],
            "mins": [a.min for a in accs],
            "means": [a.mean for a in accs],
            "maxs": [a.max for a in accs],
            "lasts": [a.last for a in accs],
            "last_offsets_ms": [(a.last_us - key[2]) // 1000 for a in accs],
        }
    )


def _entry(key: PeriodKey, channels: Iterable[tuple[str, str, ChannelAcc]]) -> dict[str, Any]:
    return {
        "h": key[0],
        "s": key[1],
        "b": key[2],
        "c": [
            [ch, unit, a.count, a.mean, a.min, a.max, a.last, a.last_us] for ch, unit, a in channels
        ],
    }


def _dumps(entries: list[dict[str, Any]]) -> str:
    # floats go through repr, so they come back bit for bit
    return json.dumps(entries, separators=(",", ":"), allow_nan=False)


def digest_text(key: PeriodKey, channels: Iterable[tuple[str, str, ChannelAcc]]) -> str:
    """The digest of one period: compact JSON, floats through ``repr`` (so bit for bit)."""
    return _dumps([_entry(key, channels)])


def status_digest(status: Status, period_s: int) -> str:
    """The digest of ``status`` cut into ``period_s`` periods (computed once, at put)."""
    periods = Periods(period_s)
    periods.add_status(status)
    return _dumps(
        [
            _entry(key, [(c, u, a) for (c, u), a in channels.items()])
            for key, channels in periods.periods.items()
        ]
    )
