"""The virtual-time loop's order of timers and its pace at a speed, ``within`` (a timeout that
arms no timer for a coroutine that never suspends) and ``Alarm`` (a timeout that can be moved
while it waits)."""

from __future__ import annotations

import asyncio
import time

import pytest

from scada.clock import (
    RANK_CONTROL,
    RANK_DEVICES,
    RANK_OBSERVERS,
    RANK_WORLD,
    TIMER_RANK,
    Alarm,
    VirtualTimeLoop,
    within,
)


def run(main: asyncio.Future[object] | object) -> object:
    loop = VirtualTimeLoop()
    try:
        return loop.run_until_complete(main)  # type: ignore[arg-type]
    finally:
        loop.close()


def test_timers_of_one_instant_run_by_rank_then_in_the_order_they_were_armed() -> None:
    ran: list[str] = []

    async def sleeper(name: str, rank: int, delay_s: float) -> None:
        TIMER_RANK.set(rank)
        await asyncio.sleep(delay_s)
        ran.append(name)

    async def main() -> None:
        # Armed in an order that is neither the rank's nor the name's.
        await asyncio.gather(
            sleeper("observer", RANK_OBSERVERS, 10.0),
            sleeper("control-1", RANK_CONTROL, 10.0),
            sleeper("early", RANK_OBSERVERS, 5.0),
            sleeper("world", RANK_WORLD, 10.0),
            sleeper("control-2", RANK_CONTROL, 10.0),
            sleeper("devices", RANK_DEVICES, 10.0),
        )

    run(main())
    assert ran == ["early", "world", "devices", "control-1", "control-2", "observer"]


def test_cancelled_timers_never_run_and_are_swept_from_the_heap() -> None:
    ran: list[int] = []

    async def main() -> int:
        loop = asyncio.get_running_loop()
        timers = [loop.call_later(1.0 + i, ran.append, i) for i in range(300)]
        for t in timers[:250]:
            t.cancel()
        await asyncio.sleep(0)  # a pass: more than half cancelled, so the heap is swept
        left = len(loop._scheduled)  # type: ignore[attr-defined]
        await asyncio.sleep(400.0)
        return left

    assert run(main()) == 50
    assert ran == list(range(250, 300))


async def answer_now(value: int) -> int:
    return value


async def fail_now() -> int:
    raise ValueError("bad frame")


def test_a_coroutine_that_never_suspends_gives_its_value_and_arms_no_timer() -> None:
    async def main() -> tuple[int, int]:
        loop = asyncio.get_running_loop()
        assert isinstance(loop, VirtualTimeLoop)
        armed = loop._armed
        value = await within(5.0, answer_now(7))
        return value, loop._armed - armed

    assert run(main()) == (7, 0)


def test_an_error_in_the_first_step_comes_out_as_it_is() -> None:
    with pytest.raises(ValueError, match="bad frame"):
        run(within(5.0, fail_now()))


def test_a_coroutine_that_suspends_and_finishes_in_time_gives_its_value() -> None:
    async def slow(value: int) -> int:
        await asyncio.sleep(1.0)
        await asyncio.sleep(1.0)
        return value

    async def main() -> tuple[int, float]:
        loop = asyncio.get_running_loop()
        start = loop.time()
        value = await within(5.0, slow(3))
        return value, loop.time() - start

    assert run(main()) == (3, 2.0)


def test_an_error_after_suspending_comes_out_as_it_is() -> None:
    async def slow_failure() -> int:
        await asyncio.sleep(1.0)
        raise KeyError("register 500")

    with pytest.raises(KeyError, match="register 500"):
        run(within(5.0, slow_failure()))


def test_a_coroutine_that_overruns_is_cancelled_and_times_out() -> None:
    cleaned_up: list[float] = []

    async def stuck() -> int:
        try:
            await asyncio.sleep(60.0)
        finally:
            cleaned_up.append(asyncio.get_running_loop().time())
        return 0

    async def main() -> float:
        loop = asyncio.get_running_loop()
        start = loop.time()
        with pytest.raises(TimeoutError):
            await within(5.0, stuck())
        return loop.time() - start

    assert run(main()) == 5.0
    assert cleaned_up == [5.0]


def test_cancelling_the_caller_cancels_the_coroutine_and_is_no_timeout() -> None:
    cancelled: list[bool] = []

    async def stuck() -> int:
        try:
            await asyncio.sleep(60.0)
        except asyncio.CancelledError:
            cancelled.append(True)
            raise
        return 0

    async def main() -> None:
        task = asyncio.ensure_future(within(30.0, stuck()))
        await asyncio.sleep(1.0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    run(main())
    assert cancelled == [True]


def test_a_coroutine_may_catch_the_timeout_cancellation_and_answer() -> None:
    async def stubborn() -> str:
        try:
            await asyncio.sleep(60.0)
        except asyncio.CancelledError:
            return "gave up"
        return "slept"

    async def main() -> str:
        # As with asyncio.timeout: a body that swallows the cancellation is not timed out.
        return await within(5.0, stubborn())

    assert run(main()) == "gave up"


def test_an_alarm_rings_after_its_timeout_or_when_set_by_hand() -> None:
    async def main() -> tuple[float, float]:
        loop = asyncio.get_running_loop()
        alarm = Alarm(asyncio.Event())
        start = loop.time()
        await alarm.wait(7.0)
        rang = loop.time() - start
        alarm.event.clear()
        loop.call_later(2.0, alarm.event.set)
        start = loop.time()
        await alarm.wait(7.0)
        return rang, loop.time() - start

    assert run(main()) == (7.0, 2.0)


def test_an_alarm_moved_while_it_waits_rings_at_the_new_time_only() -> None:
    async def main() -> list[float]:
        loop = asyncio.get_running_loop()
        alarm = Alarm(asyncio.Event())
        rings: list[float] = []
        loop.call_later(3.0, alarm.move, 10.0)  # at 3 s: ring 10 s from then, not at 5 s
        await alarm.wait(5.0)
        rings.append(loop.time())
        alarm.event.clear()
        alarm.move(1.0)  # not waiting: nothing is armed
        await asyncio.sleep(20.0)
        assert not alarm.event.is_set()
        return rings

    assert run(main()) == [13.0]


def test_ring_by_brings_an_alarm_forward_but_never_puts_it_off() -> None:
    async def main() -> list[float]:
        loop = asyncio.get_running_loop()
        alarm = Alarm(asyncio.Event())
        rings: list[float] = []
        loop.call_later(1.0, alarm.ring_by, 20.0)  # later than set for (at 10 s): kept
        loop.call_later(2.0, alarm.ring_by, 3.0)  # sooner: rings at 5 s
        await alarm.wait(10.0)
        rings.append(loop.time())
        return rings

    assert run(main()) == [5.0]


# --------------------------------------------------------------------- paced (speed N)


def test_at_a_speed_timers_fire_at_their_instants_and_a_stall_does_not_skip_time() -> None:
    """Unanchored, virtual time moves only while the loop waits: a callback that blocks takes
    none of it, and a stall of 100 virtual seconds (0.1 s at 1000x) leaves the next timer on
    its instant instead of firing it 90 s late."""
    fired: list[float] = []

    async def main() -> tuple[float, float]:
        loop = asyncio.get_running_loop()
        loop.call_later(10.0, lambda: fired.append(loop.time()))
        loop.call_later(30.0, lambda: fired.append(loop.time()))
        before = loop.time()
        time.sleep(0.1)  # noqa: ASYNC251 - the stall under test
        during = loop.time()
        await asyncio.sleep(40.0)
        return before, during

    loop = VirtualTimeLoop(1000.0)
    try:
        started = time.monotonic()
        before, during = loop.run_until_complete(main())
        took = time.monotonic() - started
    finally:
        loop.close()
    assert before == during == 0.0
    assert fired == [10.0, 30.0]
    # Paced, not as fast as possible: the stall, then the 40 s at 1000x after it.
    assert took >= 0.1 + 0.03


def test_an_anchored_loop_keeps_to_real_time_through_a_stall() -> None:
    """Anchored (processes sharing virtual time), a stall is not waited out: the time is
    the anchor's, whatever the loop was doing."""

    async def main() -> float:
        loop = asyncio.get_running_loop()
        before = loop.time()
        time.sleep(0.05)  # noqa: ASYNC251 - the stall under test
        return loop.time() - before

    loop = VirtualTimeLoop(1000.0, anchor=time.monotonic())
    try:
        assert loop.run_until_complete(main()) >= 50.0
    finally:
        loop.close()
