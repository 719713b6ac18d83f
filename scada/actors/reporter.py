"""The 5-minute status: every reading of each clock-aligned slot, per channel.

At each boundary (a whole multiple of ``status_period_s`` since the epoch) the reporter takes
the window's readings out of the channel book, builds a :class:`Status` and hands it to
``deliver`` (the uplink or the store). A slot with no readings at all still produces a status,
so the ATN can tell "nothing measured" from "nothing sent".
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from scada.actors.house import HouseState
from scada.clock import next_boundary, sleep_until
from scada.protocol.base import new_id
from scada.protocol.readings import ChannelSeries, Status


class StatusReporter:
    def __init__(self, house: HouseState, deliver: Callable[[Status], None]) -> None:
        self._house = house
        self._deliver = deliver
        self.seq = 0
        self.last: Status | None = None
        self._last_boundary: datetime | None = None

    async def run(self) -> None:
        period = self._house.layout.control.status_period_s
        clock = self._house.clock
        while True:
            boundary = next_boundary(clock.now(), period)
            if self._last_boundary is not None and boundary <= self._last_boundary:
                # Woken a hair early, or the wall clock stepped back: each slot goes out once.
                boundary = self._last_boundary + timedelta(seconds=period)
            # Sleeps run on the loop's clock, slots on the wall clock, and the two drift apart
            # (NTP slews the wall clock): sleep until the wall clock itself is at the boundary,
            # so no reading of the slot is left behind for the next one.
            while clock.now() < boundary:
                await sleep_until(clock, boundary)
            self._last_boundary = boundary
            self.emit(boundary - timedelta(seconds=period), period)

    def emit(self, slot_start: datetime, period: int) -> Status:
        """Build and deliver the status of the slot starting at ``slot_start``."""
        house = self._house
        window = house.book.take_window(slot_start + timedelta(seconds=period))
        units = {c.name: c.unit.value for c in house.layout.channels}
        series = tuple(
            ChannelSeries(
                channel=name,
                unit=units[name],
                values=tuple(v for _, v in readings),
                read_at=tuple(t for t, _ in readings),
            )
            for name, readings in window.items()
        )
        self.seq += 1
        status = Status(
            id=new_id(),
            house_alias=house.layout.house.alias,
            scada_alias=house.layout.house.scada,
            boot_id=house.boot_id,
            seq=self.seq,
            slot_start=slot_start,
            slot_duration_s=period,
            channels=series,
        )
        self.last = status
        self._deliver(status)
        return status
