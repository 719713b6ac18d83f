"""Sensing data: single readings, power on change, the 5-minute status and its aggregates.

Units: every value travels with its ``unit`` (a reading) or in the field name (``power_w``
in watts, ``slot_duration_s`` / ``period_s`` in seconds). A value that could not be read is
never sent as a number: it is simply absent, and the channel's health says why.
"""

from __future__ import annotations

from collections.abc import Sequence
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


class ChannelAggregate(WirePart):
    """Summary of one channel over one aggregate period (store tiers 2 and 3)."""

    channel: ChannelName
    unit: Unit
    count: Annotated[int, Field(ge=1)]
    min: float
    mean: float
    max: float
    last: float
    last_read_at: UtcTime

    def check_ordered(self) -> None:
        """``ValueError`` unless ``min <= last <= max`` (checked by :class:`AggregateReport`
        for all its channels in one pass: a validator per channel costs more than the check).
        The mean is not checked against min and max: a float mean may round a hair outside."""
        if not self.min <= self.last <= self.max:
            raise ValueError(f"channel {self.channel}: need min <= last <= max")


class AggregateReport(WireMessage):
    """Per-channel aggregates of one aligned period, sent up from store tiers 2 (5-minute
    periods, up to 7 days old) and 3 (hourly, up to 28 days). Acknowledged like a status."""

    type: Literal["aggregate"] = "aggregate"
    version: Literal[1] = 1
    id: MessageId
    house_alias: Alias
    scada_alias: Alias
    period_start: UtcTime
    period_s: SlotSeconds
    channels: tuple[ChannelAggregate, ...]

    @model_validator(mode="after")
    def _check(self) -> AggregateReport:
        _check_aligned(self.period_start, self.period_s, "period_start")
        check_unique([c.channel for c in self.channels], "channels")
        for c in self.channels:
            c.check_ordered()
        return self
