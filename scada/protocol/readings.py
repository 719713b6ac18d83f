"""Sensing data: single readings, power on change, the 5-minute status and its aggregates.

Units: every value travels with its ``unit`` (a reading) or in the field name (``power_w``
in watts, ``slot_duration_s`` / ``period_s`` in seconds). A value that could not be read is
never sent as a number: it is simply absent, and the channel's health says why.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

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


class ChannelSeries(WirePart):
    """Every reading of one channel inside a status window, oldest first.

    ``values[i]`` was read at ``read_at[i]``; both tuples have the same length (the original
    sent unchecked parallel lists, defect 16).
    """

    channel: ChannelName
    unit: Unit
    values: tuple[float, ...]
    read_at: tuple[UtcTime, ...]

    @model_validator(mode="after")
    def _same_length(self) -> ChannelSeries:
        if len(self.values) != len(self.read_at):
            raise ValueError(
                f"channel {self.channel}: {len(self.values)} values "
                f"but {len(self.read_at)} read times"
            )
        return self


class Status(WireMessage):
    """The report of one aligned slot (5 minutes by default): every reading, per channel.

    ``seq`` counts statuses within the boot ``boot_id``. ``is_backlog`` marks statuses sent
    from the store after a gap rather than live. Acknowledged by :class:`Ack` with ``id``.
    """

    type: Literal["status"] = "status"
    version: Literal[1] = 1
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

    @model_validator(mode="after")
    def _ordered(self) -> ChannelAggregate:
        # mean is not checked against min/max: a float mean may round a hair outside them.
        if not self.min <= self.last <= self.max:
            raise ValueError(f"channel {self.channel}: need min <= last <= max")
        return self


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
        return self
