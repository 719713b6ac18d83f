"""The 5-minute status: every reading of each clock-aligned slot, per channel.

At each boundary (a whole multiple of ``status_period_s`` since the epoch) the reporter takes
the window's readings out of the channel book, builds a :class:`Status` and hands it to
``deliver`` (the uplink or the store). A slot with no readings at all still produces a status,
so the ATN can tell "nothing measured" from "nothing sent".
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from scada.actors.house import HouseState
from scada.clock import next_boundary, sleep_until
from scada.protocol.base import new_id
from scada.protocol.readings import MAX_OFFSET_MS, ChannelSeries, Status

log = logging.getLogger("scada.reporter")

#: How many slots a late reporter sends one by one before it gives up on the gap (an hour of
#: 5-minute slots): past that the wall clock has jumped rather than the loop stalled.
MAX_CATCH_UP_SLOTS = 12


class StatusReporter:
    def __init__(self, house: HouseState, deliver: Callable[[Status], None]) -> None:
        self._house = house
        self._deliver = deliver
        self.seq = 0
        self.last: Status | None = None
        self._last_boundary: datetime | None = None

    async def run(self) -> None:
        period = self._house.layout.control.status_period_s
        step = timedelta(seconds=period)
        clock = self._house.clock
        while True:
            now = clock.now()
            boundary = next_boundary(now, period)
            last = self._last_boundary
            if last is not None and boundary - last <= (MAX_CATCH_UP_SLOTS + 1) * step:
                # Each slot goes out once and in order: woken a hair early, or the wall clock
                # stepped back, this waits for the next slot; woken late (a stalled loop, a
                # busy machine), the slots it slept through go out one by one, each with its
                # own readings.
                boundary = last + step
            # Otherwise this is the first slot, or the wall clock jumped far ahead (NTP's first
            # sync on a Pi without a battery clock): no slot in the gap can have readings, so
            # a status for each would only be noise; the readings taken since the last slot
            # go out with this one.
            # Sleeps run on the loop's clock, slots on the wall clock, and the two drift apart
            # (NTP slews the wall clock): sleep until the wall clock itself is at the boundary,
            # so no reading of the slot is left behind for the next one.
            while clock.now() < boundary:
                await sleep_until(clock, boundary)
            self._last_boundary = boundary
            self.emit(boundary - step, period)

    def emit(self, slot_start: datetime, period: int) -> Status:
        """Build and deliver the status of the slot starting at ``slot_start``."""
        house = self._house
        window = house.book.take_window(slot_start + timedelta(seconds=period))
        units = {c.name: c.unit.value for c in house.layout.channels}
        # Every reading is before the slot's end; one more than MAX_OFFSET_MS (~35 years)
        # before its start was stamped by a clock that was badly wrong and cannot travel.
        earliest = slot_start - timedelta(milliseconds=MAX_OFFSET_MS)
        series: list[ChannelSeries] = []
        for name, readings in window.items():
            kept = readings
            if min(t for t, _ in readings) < earliest:
                kept = [r for r in readings if r[0] >= earliest]
                log.warning(
                    "status %s: %d readings of %s dropped, stamped before %s",
                    slot_start.isoformat(),
                    len(readings) - len(kept),
                    name,
                    earliest.isoformat(),
                )
            if kept:
                series.append(ChannelSeries.of(name, units[name], kept, slot_start))
        self.seq += 1
        status = Status(
            id=new_id(),
            house_alias=house.layout.house.alias,
            scada_alias=house.layout.house.scada,
            boot_id=house.boot_id,
            seq=self.seq,
            slot_start=slot_start,
            slot_duration_s=period,
            channels=tuple(series),
        )
        self.last = status
        self._deliver(status)
        return status
