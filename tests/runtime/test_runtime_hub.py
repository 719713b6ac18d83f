"""The event hub: bounded queues, a slow subscriber is dropped, publishing never waits."""

from __future__ import annotations

import asyncio
import itertools
from datetime import UTC, datetime

from scada.clock import run_virtual
from scada.hub import Event, EventHub
from scada.protocol import EventKind, LogLevel, LogLine, Reading
from tests.runtime.harness import Rig, run_scenario

AT = datetime(2025, 1, 15, 13, 0, tzinfo=UTC)


def line(n: int) -> LogLine:
    return LogLine(at=AT, level=LogLevel.INFO, logger="test", message=f"line {n}")


def test_slow_subscriber_is_dropped_and_the_others_get_everything() -> None:
    async def main() -> None:
        hub = EventHub()
        slow = hub.subscribe("slow", maxsize=5)
        fast = hub.subscribe("fast", maxsize=1000)
        got: list[str] = []

        async def read() -> None:
            async for ev in fast:
                assert isinstance(ev.payload, LogLine)
                got.append(ev.payload.message)

        reader = asyncio.create_task(read())
        for n in range(100):
            hub.publish(EventKind.LOG, line(n), AT)  # synchronous: it cannot wait
            if n % 10 == 0:
                await asyncio.sleep(0)
        await asyncio.sleep(0)
        assert slow.dropped
        assert not fast.dropped
        assert hub.subscribers == 1
        assert hub.published == 100
        fast.close()
        await reader
        assert got == [f"line {n}" for n in range(100)]
        # The dropped subscriber's reader is not left hanging: its iteration ends.
        leftovers = [ev async for ev in slow]
        assert len(leftovers) < 5

    run_virtual(main)


def test_publish_to_a_full_subscriber_returns_at_once() -> None:
    hub = EventHub()
    subs = [hub.subscribe(f"s{i}", maxsize=1) for i in range(3)]
    for n in range(10):
        hub.publish(EventKind.LOG, line(n), AT)
    assert all(s.dropped for s in subs)
    assert hub.subscribers == 0


def test_kinds_filter_what_a_subscriber_gets_and_costs_it_nothing_else() -> None:
    hub = EventHub()
    logs = hub.subscribe("logs", maxsize=3, kinds=frozenset({EventKind.LOG}))
    reading = Reading(channel="t", node="a.t", value=1.0, unit="degC", read_at=AT)
    for _ in range(50):
        hub.publish(EventKind.READING, reading, AT)
    hub.publish(EventKind.LOG, line(1), AT)
    assert not logs.dropped
    assert logs.backlog == 1


def test_close_wakes_a_blocked_reader_and_unsubscribes() -> None:
    async def main() -> None:
        hub = EventHub()
        sub = hub.subscribe("console", maxsize=2)
        waiter = asyncio.create_task(sub.get())
        await asyncio.sleep(0)
        sub.close()
        sub.close()  # twice is harmless
        assert await waiter is None
        assert hub.subscribers == 0
        hub.publish(EventKind.LOG, line(1), AT)
        assert sub.backlog == 0

    run_virtual(main)


def test_close_of_a_full_queue_still_ends_its_reader() -> None:
    async def main() -> list[Event]:
        hub = EventHub()
        sub = hub.subscribe("console", maxsize=2)
        hub.publish(EventKind.LOG, line(1), AT)
        hub.publish(EventKind.LOG, line(2), AT)
        sub.close()
        return [ev async for ev in sub]

    assert len(run_virtual(main)) == 1


def test_a_console_that_stops_reading_is_dropped_and_the_runtime_does_not_notice() -> None:
    async def scenario(rig: Rig) -> None:
        stuck = rig.runtime.hub.subscribe("stuck console", maxsize=50)
        await rig.advance(60)
        assert stuck.dropped
        assert rig.runtime.hub.subscribers == 1  # the recorder
        # Everything kept flowing to the others, on schedule.
        hp = [r.read_at for r in rig.rec.readings("hp-power")]
        gaps = {(b - a).total_seconds() for a, b in itertools.pairwise(hp[1:])}
        assert gaps == {1.0}
        assert not rig.restarts()

    run_scenario(scenario)


def test_readings_nobody_subscribes_to_are_not_even_built() -> None:
    async def scenario(rig: Rig) -> None:
        hub = rig.runtime.hub
        assert not hub.wants(EventKind.READING)
        await rig.advance(10)
        published = hub.published
        await rig.advance(60)  # a calm house: nothing but readings happen
        assert hub.published == published
        console = hub.subscribe("console", kinds=frozenset({EventKind.READING}))
        assert hub.wants(EventKind.READING)
        await rig.advance(2)
        assert console.backlog >= 3  # dw1's three 1 s power channels, at least
        console.close()
        assert not hub.wants(EventKind.READING)

    run_scenario(scenario, record=frozenset({EventKind.PROBLEM}))
