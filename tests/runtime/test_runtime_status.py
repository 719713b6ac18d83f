"""The 5-minute status: clock-aligned, every reading of its window, nothing lost between two."""

from __future__ import annotations

import asyncio
import itertools
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from scada.actors.house import HouseState
from scada.actors.reporter import StatusReporter
from scada.clock import LoopClock, run_virtual
from scada.hub import EventHub
from scada.protocol import Status
from tests.runtime.harness import (
    DW1,
    GARAGE,
    HW25,
    T0,
    Rig,
    at_boundary_after,
    house_layout,
    run_scenario,
    uid,
)

PERIOD_S = 300


def series(status: Status) -> dict[str, list[tuple[datetime, float]]]:
    return {c.channel: c.readings(status.slot_start) for c in status.channels}


def to_ms(t: datetime) -> datetime:
    """``t`` floored to whole milliseconds, as a status carries it."""
    return t - timedelta(microseconds=t.microsecond % 1000)


def test_status_is_delivered_at_each_wall_clock_boundary() -> None:
    async def scenario(rig: Rig) -> None:
        first = at_boundary_after(rig.start)
        await rig.advance_to(first - timedelta(seconds=0.5))
        assert rig.runtime.statuses == []
        await rig.advance(1.0)
        assert len(rig.runtime.statuses) == 1
        for n in range(1, 4):
            boundary = first + timedelta(seconds=n * PERIOD_S)
            await rig.advance_to(boundary - timedelta(seconds=0.5))
            assert len(rig.runtime.statuses) == n
            await rig.advance(1.0)
            assert len(rig.runtime.statuses) == n + 1
        statuses = rig.runtime.statuses
        layout = rig.layout
        for i, st in enumerate(statuses):
            assert st.slot_start == first + timedelta(seconds=(i - 1) * PERIOD_S)
            assert st.slot_start.timestamp() % PERIOD_S == 0
            assert st.slot_duration_s == PERIOD_S
            assert st.seq == i + 1
            assert st.boot_id == rig.runtime.boot_id
            assert st.house_alias == layout.house.alias
            assert st.scada_alias == layout.house.scada
            assert not st.is_backlog
        assert len({st.id for st in statuses}) == len(statuses)

    run_scenario(scenario)


@pytest.mark.parametrize("house", [DW1, HW25])
def test_status_carries_every_reading_of_its_window(house: str) -> None:
    layout = house_layout(house)
    periods = {c.name: c.sample_period_s for c in layout.channels}

    async def scenario(rig: Rig) -> None:
        await rig.advance(3 * PERIOD_S + 60)
        statuses = rig.runtime.statuses
        assert len(statuses) == 3
        for st in statuses[1:]:  # the first slot began before the runtime did
            got = series(st)
            assert set(got) == set(periods)
            end = st.slot_start + timedelta(seconds=st.slot_duration_s)
            for name, points in got.items():
                expected = st.slot_duration_s / periods[name]
                assert expected - 1 <= len(points) <= expected + 1, (name, len(points))
                assert all(st.slot_start <= t < end for t, _ in points), name
                assert [t for t, _ in points] == sorted(t for t, _ in points)
                assert {v for _, v in points} == {rig.bench.values[name]}

    run_scenario(scenario, house=house)


def test_no_reading_is_lost_or_repeated_between_statuses() -> None:
    async def scenario(rig: Rig) -> None:
        await rig.advance(4 * PERIOD_S + 17)
        statuses = rig.runtime.statuses
        last_end = statuses[-1].slot_start + timedelta(seconds=PERIOD_S)
        in_statuses: Counter[tuple[str, datetime, float]] = Counter()
        for st in statuses:
            for name, points in series(st).items():
                in_statuses.update((name, t, v) for t, v in points)
        published = Counter(
            (r.channel, to_ms(r.read_at), r.value)
            for r in rig.rec.readings()
            if r.read_at < last_end
        )
        assert in_statuses == published
        assert max(in_statuses.values()) == 1

    # The bench's own gently moving signals, so values differ reading to reading.
    run_scenario(scenario, calm=False)


def test_status_leaves_out_implausible_values_and_keeps_the_good_ones() -> None:
    async def scenario(rig: Rig) -> None:
        first = at_boundary_after(rig.start)
        await rig.advance_to(first + timedelta(seconds=100))
        rig.bench.values[GARAGE] = 400.0
        await rig.advance_to(first + timedelta(seconds=PERIOD_S + 1))
        st = rig.runtime.statuses[-1]
        garage = series(st)[GARAGE]
        assert 3 <= len(garage) <= 4  # 100 s of 30 s readings, then nothing
        assert all(v != 400.0 for _, v in garage)

    run_scenario(scenario)


def test_slot_with_no_readings_still_makes_a_status() -> None:
    def fail_all(devices: object) -> None:
        from scada.drivers.factory import Devices

        assert isinstance(devices, Devices)
        assert devices.bench is not None
        for name in devices.sensors:
            devices.bench.fail(name)

    async def scenario(rig: Rig) -> None:
        await rig.advance(2 * PERIOD_S)
        assert rig.runtime.statuses
        assert all(st.channels == () for st in rig.runtime.statuses)

    run_scenario(scenario, prepare=fail_all)


@pytest.mark.parametrize(
    "start",
    [
        datetime(2025, 1, 15, 13, 0, 0, tzinfo=UTC),
        datetime(2025, 1, 15, 13, 4, 59, 999_999, tzinfo=UTC),
        datetime(2025, 6, 30, 23, 57, 1, 123_456, tzinfo=UTC),
    ],
)
def test_one_status_per_slot_whatever_the_start(start: datetime) -> None:
    async def scenario(rig: Rig) -> None:
        await rig.advance(2 * 3600)
        slots = [st.slot_start for st in rig.runtime.statuses]
        assert len(slots) == len(set(slots))
        assert slots == sorted(slots)
        gaps = {(b - a).total_seconds() for a, b in itertools.pairwise(slots)}
        assert gaps == {PERIOD_S}
        assert [st.seq for st in rig.runtime.statuses] == list(range(1, len(slots) + 1))
        assert len(slots) in (24, 25)

    run_scenario(scenario, start=start, record=frozenset())


class SlewedClock:
    """A wall clock running at ``rate`` times the loop's pace (NTP slewing it), or stepped."""

    def __init__(self, start: datetime, rate: float) -> None:
        self._loop_clock = LoopClock(start)
        self._start = start
        self.rate = rate
        self.step = timedelta(0)

    def now(self) -> datetime:
        return self._start + self.step + timedelta(seconds=self._loop_clock.monotonic() * self.rate)

    def monotonic(self) -> float:
        return self._loop_clock.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))


@pytest.mark.parametrize("rate", [0.999, 1.001])
def test_a_slewed_wall_clock_makes_neither_duplicate_nor_straddling_statuses(rate: float) -> None:
    """Statuses follow the wall clock while sleeps follow the monotonic one: a wall clock
    running slow wakes the reporter before the boundary, which must not emit a slot twice."""
    layout = house_layout(DW1)

    async def main() -> list[Status]:
        clock = SlewedClock(T0, rate)
        house = HouseState(layout, clock, EventHub(), uid(7))
        out: list[Status] = []
        reporter = StatusReporter(house, out.append)
        task = asyncio.create_task(reporter.run())
        for _ in range(3 * 3600):
            house.reading(GARAGE, 18.0)
            await asyncio.sleep(1.0)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        return out

    statuses = run_virtual(main)
    slots = [st.slot_start for st in statuses]
    assert len(slots) == len(set(slots)), "a slot was reported twice"
    for st in statuses:
        end = st.slot_start + timedelta(seconds=st.slot_duration_s)
        for series_ in st.channels:
            assert all(st.slot_start <= t < end for t in st.read_times(series_))
    assert len(slots) in (35, 36, 37)


def test_a_wall_clock_stepped_back_does_not_repeat_slots() -> None:
    layout = house_layout(DW1)

    async def main() -> list[Status]:
        clock = SlewedClock(T0, 1.0)
        house = HouseState(layout, clock, EventHub(), uid(7))
        out: list[Status] = []
        task = asyncio.create_task(StatusReporter(house, out.append).run())
        await asyncio.sleep(1800)
        clock.step = timedelta(seconds=-600)  # NTP steps the clock back ten minutes
        await asyncio.sleep(1800)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        return out

    slots = [st.slot_start for st in run_virtual(main)]
    assert slots == sorted(set(slots))


def _statuses_across(stall: timedelta, *, step_clock: bool) -> list[Status]:
    """Readings every second for 30 min, then the loop stalls (or the wall clock steps ahead)
    by ``stall``, then 30 min more."""
    layout = house_layout(DW1)

    async def main() -> list[Status]:
        clock = SlewedClock(T0, 1.0)
        house = HouseState(layout, clock, EventHub(), uid(7))
        out: list[Status] = []
        task = asyncio.create_task(StatusReporter(house, out.append).run())
        for _ in range(1800):
            house.reading(GARAGE, 18.0)
            await asyncio.sleep(1.0)
        if step_clock:
            clock.step = stall
        else:
            # A stalled loop: readings keep coming in (from threads) but the reporter runs
            # only when the loop frees up, the wall clock having moved on meanwhile.
            for _ in range(int(stall.total_seconds())):
                house.reading(GARAGE, 18.0)
                clock.step += timedelta(seconds=1)
        for _ in range(1800):
            house.reading(GARAGE, 18.0)
            await asyncio.sleep(1.0)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        return out

    return run_virtual(main)


def test_a_reporter_woken_late_sends_every_slot_it_slept_through_with_its_own_readings() -> None:
    statuses = _statuses_across(timedelta(minutes=23), step_clock=False)
    slots = [st.slot_start for st in statuses]
    gaps = {(b - a).total_seconds() for a, b in itertools.pairwise(slots)}
    assert gaps == {PERIOD_S}, "a slot went missing or was sent twice"
    for st in statuses:
        end = st.slot_start + timedelta(seconds=st.slot_duration_s)
        for series_ in st.channels:
            assert all(st.slot_start <= t < end for t in st.read_times(series_))
    assert sum(len(c.values) for st in statuses for c in st.channels) >= 1800 + 23 * 60


def test_a_wall_clock_jumping_days_ahead_makes_no_flood_of_empty_statuses() -> None:
    statuses = _statuses_across(timedelta(days=3), step_clock=True)
    slots = [st.slot_start for st in statuses]
    assert slots == sorted(set(slots))
    assert len(slots) <= 14, "a status for every slot of the jump"
    assert slots[-1] > T0 + timedelta(days=3)


def test_readings_stamped_decades_before_their_slot_are_dropped_not_fatal(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A wall clock stepped back decades for a while (a battery-less Pi's RTC trusted over
    NTP) stamps readings further before their slot than a status's offsets reach: they are
    dropped with a warning, the others go out."""
    layout = house_layout(DW1)
    slot = datetime(2025, 1, 15, 13, 0, tzinfo=UTC)
    out: list[Status] = []

    async def main() -> Status:
        house = HouseState(layout, LoopClock(T0), EventHub(), uid(7))
        house.book.record(GARAGE, 18.0, slot - timedelta(days=365 * 40))  # too early to send
        house.book.record(GARAGE, 19.0, slot - timedelta(days=365 * 30))  # early but in reach
        house.book.record(GARAGE, 20.0, slot + timedelta(seconds=10, microseconds=1500))
        return StatusReporter(house, out.append).emit(slot, PERIOD_S)

    st = run_virtual(main)
    assert out == [st]
    [garage] = st.channels
    assert garage.readings(slot) == [
        (slot - timedelta(days=365 * 30), 19.0),
        (slot + timedelta(seconds=10, milliseconds=1), 20.0),
    ]
    assert "1 readings of garage-temp dropped" in caplog.text
