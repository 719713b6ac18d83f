"""Sensing data: single readings, power on change, the 5-minute status and its aggregates.

Units: every value travels with its ``unit`` (a reading) or in the field name (``power_w``
in watts, ``slot_duration_s`` / ``period_s`` in seconds). A value that could not be read is
never sent as a number: it is simply absent, and the channel's health says why.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Final, Literal

from pydantic import Field, model_validator

from scada.protocol.base import (
    Alias,
    ChannelName,
    MessageId,
    Seq,
    Unit,
    UtcTime,
    WireMessage,
    WirePart,
    check_unique,
)

SlotSeconds = Annotated[int, Field(gt=0, le=86_400)]


def _check_aligned(start: datetime, duration_s: int, what: str) -> None:
    """Slots start on a multiple of their duration since the Unix epoch (wall-clock aligned)."""
    if start.microsecond or int(start.timestamp()) % duration_s:
        raise ValueError(f"{what} {start.isoformat()} is not aligned to {duration_s} s")


class Reading(WireMessage):
    """One value of one channel, read by the SCADA at ``read_at``."""

    type: Literal["reading"] = "reading"
    version: Literal[1] = 1
    channel: ChannelName
    node: Alias
    value: float
    unit: Unit
    read_at: UtcTime


class PowerReading(WireMessage):
    """Power sent at once when it moves by more than the configured share of nameplate.

    ``power_w`` is a float in watts (no 16-bit clipping, defect 13); ``seq`` increases by one
    per power reading within a boot (``boot_id``), so a receiver can spot late or reordered
    values (defect 14). Travels at QoS 0 and is never acknowledged.
    """

    type: Literal["power"] = "power"
    version: Literal[1] = 1
    channel: ChannelName
    node: Alias
    power_w: float
    read_at: UtcTime
    seq: Seq
    boot_id: MessageId


MAX_OFFSET_MS: Final = 2**40
"""Largest distance, in milliseconds, of a reading from its status's ``slot_start`` (about 34.8
years either way): far more than any real slot or clock jump, and exact in a JSON number."""

OffsetMs = Annotated[int, Field(ge=-MAX_OFFSET_MS, le=MAX_OFFSET_MS)]
"""Whole milliseconds from a status's ``slot_start`` to a reading (negative: before it)."""

_MS: Final = timedelta(milliseconds=1)


def offset_ms(read_at: datetime, slot_start: datetime) -> int:
    """Whole milliseconds from ``slot_start`` to ``read_at`` (both aware), floored: exact
    integer arithmetic on microseconds, so a reading inside the slot never lands outside it.
    Not range-checked (see :data:`MAX_OFFSET_MS`)."""
    return (read_at - slot_start) // _MS


class ChannelSeries(WirePart):
    """Every reading of one channel inside a status window, oldest first.

    ``values[i]`` was read ``offsets_ms[i]`` milliseconds after the status's ``slot_start``
    (the floor of the exact offset, so a reading inside the slot never lands outside it;
    negative when a late status carries readings from before its slot). Both tuples have the
    same length (the original sent unchecked parallel lists, defect 16). Build a series with
    :meth:`of` and read its times with :meth:`read_times` (or :meth:`Status.read_times`):
    never do the millisecond arithmetic by hand.
    """

    channel: ChannelName
    unit: Unit
    values: tuple[float, ...]
    offsets_ms: tuple[OffsetMs, ...]

    @model_validator(mode="after")
    def _same_length(self) -> ChannelSeries:
        if len(self.values) != len(self.offsets_ms):
            raise ValueError(
                f"channel {self.channel}: {len(self.values)} values "
                f"but {len(self.offsets_ms)} offsets"
            )
        return self

    @classmethod
    def of(
        cls,
        channel: str,
        unit: str,
        readings: Sequence[tuple[datetime, float]],
        slot_start: datetime,
    ) -> ChannelSeries:
        """The series of ``readings``, (read time, value) pairs oldest first, in a status whose
        slot starts at ``slot_start``. Times keep whole milliseconds (floored, see
        :func:`offset_ms`). Raises pydantic's ``ValidationError`` (a ``ValueError``) if a
        reading is more than :data:`MAX_OFFSET_MS` from ``slot_start``."""
        return cls(
            channel=channel,
            unit=unit,
            values=tuple(v for _, v in readings),
            offsets_ms=tuple(offset_ms(t, slot_start) for t, _ in readings),
        )

    def read_times(self, slot_start: datetime) -> tuple[datetime, ...]:
        """The read time of each value (aligned with ``values``), given the ``slot_start`` of
        the status carrying this series; whole milliseconds, in ``slot_start``'s time zone."""
        return tuple(slot_start + timedelta(milliseconds=ms) for ms in self.offsets_ms)

    def read_time(self, slot_start: datetime, index: int = -1) -> datetime:
        """The read time of ``values[index]`` (default: the last one), given the status's
        ``slot_start``; raises ``IndexError`` for an empty series or an index out of range."""
        return slot_start + timedelta(milliseconds=self.offsets_ms[index])

    def readings(self, slot_start: datetime) -> list[tuple[datetime, float]]:
        """The (read time, value) pairs of the series, oldest first: what :meth:`of` took,
        with the times floored to whole milliseconds."""
        return list(zip(self.read_times(slot_start), self.values, strict=True))


class Status(WireMessage):
    """The report of one aligned slot (5 minutes by default): every reading, per channel.

    ``seq`` counts statuses within the boot ``boot_id``. ``is_backlog`` marks statuses sent
    from the store after a gap rather than live. Acknowledged by :class:`Ack` with ``id``.

    Version 2: each reading's time is an integer millisecond offset from ``slot_start`` (see
    :class:`ChannelSeries`). Version 1 sent an ISO-8601 time per reading, well over half of a
    large status's bytes; it is refused.
    """

    type: Literal["status"] = "status"
    version: Literal[2] = 2
    id: MessageId
    house_alias: Alias
    scada_alias: Alias
    boot_id: MessageId
    seq: Seq
    slot_start: UtcTime
    slot_duration_s: SlotSeconds = 300
    channels: tuple[ChannelSeries, ...]
    is_backlog: bool = False

    @model_validator(mode="after")
    def _check(self) -> Status:
        _check_aligned(self.slot_start, self.slot_duration_s, "slot_start")
        check_unique([c.channel for c in self.channels], "channels")
        return self

    def read_times(self, series: ChannelSeries) -> tuple[datetime, ...]:
        """The read time of each value of ``series`` (one of :attr:`channels`), in whole
        milliseconds: ``slot_start`` plus its offsets."""
        return series.read_times(self.slot_start)


@dataclass(frozen=True, slots=True)
class ChannelAggregate:
    """Summary of one channel over one aggregate period: one row of an
    :class:`AggregateReport` (which travels as columns). ``last`` was read at ``last_read_at``;
    ``min <= last <= max``. The mean is not bound by min and max: a float mean may round a hair
    outside."""

    channel: str
    unit: str
    count: int
    min: float
    mean: float
    max: float
    last: float
    last_read_at: datetime


Count = Annotated[int, Field(ge=1)]


class AggregateReport(WireMessage):
    """Per-channel aggregates of one aligned period, sent up from store tiers 2 (5-minute
    periods, up to 7 days old) and 3 (hourly, up to 28 days). Acknowledged like a status.

    Version 2 travels as columns: entry ``i`` of ``units``, ``counts``, ``mins``, ``means``,
    ``maxs``, ``lasts`` and ``last_offsets_ms`` describes ``channels[i]``, and the last reading
    was taken ``last_offsets_ms[i]`` milliseconds after ``period_start`` (inside the period).
    A 40-channel report is 2.6x smaller than version 1's object per channel and validates 4x
    faster, which is what the ATN spends its time on during a re-upload; version 1 is refused.
    Build one with :meth:`of`, read its rows with :meth:`aggregates`.
    """

    type: Literal["aggregate"] = "aggregate"
    version: Literal[2] = 2
    id: MessageId
    house_alias: Alias
    scada_alias: Alias
    period_start: UtcTime
    period_s: SlotSeconds
    channels: tuple[ChannelName, ...]
    units: tuple[Unit, ...]
    counts: tuple[Count, ...]
    mins: tuple[float, ...]
    means: tuple[float, ...]
    maxs: tuple[float, ...]
    lasts: tuple[float, ...]
    last_offsets_ms: tuple[OffsetMs, ...]

    @model_validator(mode="after")
    def _check(self) -> AggregateReport:
        _check_aligned(self.period_start, self.period_s, "period_start")
        n = len(self.channels)
        for name in _COLUMNS:
            if len(getattr(self, name)) != n:
                raise ValueError(f"{n} channels but {len(getattr(self, name))} {name}")
        check_unique(self.channels, "channels")
        end_ms = self.period_s * 1000
        for i, (lo, last, hi, at) in enumerate(
            zip(self.mins, self.lasts, self.maxs, self.last_offsets_ms, strict=True)
        ):
            if not lo <= last <= hi:
                raise ValueError(f"channel {self.channels[i]}: need min <= last <= max")
            if not 0 <= at < end_ms:
                raise ValueError(
                    f"channel {self.channels[i]}: last reading {at} ms after period_start, "
                    f"outside the {self.period_s} s period"
                )
        return self

    @classmethod
    def of(
        cls,
        *,
        id: str,  # noqa: A002 - the message field's name
        house_alias: str,
        scada_alias: str,
        period_start: datetime,
        period_s: int,
        aggregates: Sequence[ChannelAggregate],
    ) -> AggregateReport:
        """The report of ``aggregates`` (one per channel) over the period starting at
        ``period_start``; ``last_read_at`` keeps whole milliseconds (floored). Raises pydantic's
        ``ValidationError`` (a ``ValueError``) on anything a report may not carry."""
        return cls(
            id=id,
            house_alias=house_alias,
            scada_alias=scada_alias,
            period_start=period_start,
            period_s=period_s,
            channels=tuple(a.channel for a in aggregates),
            units=tuple(a.unit for a in aggregates),
            counts=tuple(a.count for a in aggregates),
            mins=tuple(a.min for a in aggregates),
            means=tuple(a.mean for a in aggregates),
            maxs=tuple(a.max for a in aggregates),
            lasts=tuple(a.last for a in aggregates),
            last_offsets_ms=tuple(offset_ms(a.last_read_at, period_start) for a in aggregates),
        )

    def aggregates(self) -> tuple[ChannelAggregate, ...]:
        """The report's rows, one per channel, in order."""
        start = self.period_start
        return tuple(
            ChannelAggregate(ch, unit, count, lo, mean, hi, last, start + ms * _MS)
            for ch, unit, count, lo, mean, hi, last, ms in zip(
                self.channels,
                self.units,
                self.counts,
                self.mins,
                self.means,
                self.maxs,
                self.lasts,
                self.last_offsets_ms,
                strict=True,
            )
        )


_COLUMNS: Final = ("units", "counts", "mins", "means", "maxs", "lasts", "last_offsets_ms")
