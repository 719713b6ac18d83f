"""The injected clock, and an asyncio event loop whose time can run faster than real time.

Everything in the runtime reads time through a :class:`Clock`; nothing calls ``datetime.now``.
In production that is :class:`SystemClock`. In the simulator and the tests the whole event loop
runs on *virtual* time (:class:`VirtualTimeLoop`): ``loop.time()`` is virtual, so every
``asyncio.sleep``, ``wait_for`` timeout and ``call_later`` in the runtime and in libraries runs on
it unchanged. At ``speed=N`` virtual time runs N times real time; at ``speed=None`` ("as fast as
possible") the loop jumps straight to the next timer whenever no I/O is ready, so an hour of a
quiet house passes in milliseconds while the code paths are those of real time.

At any speed, unless processes share an anchor, virtual time moves only while the loop waits:
callbacks take none of it, every timer fires at its own instant, and a stall (the process not
scheduled, the interpreter's lock held by another thread) makes virtual time wait for the loop
rather than jump past its timers. A run at 300x therefore sees the same instants as one as fast
as possible; only the interleaving of real I/O differs.
"""

from __future__ import annotations

import asyncio
import collections
import contextvars
import heapq
import logging
import math
import selectors
import time
from collections.abc import Awaitable, Callable, Coroutine, Generator
from datetime import UTC, datetime, timedelta
from typing import Any, Generic, Protocol, TypeVar, TypeVarTuple

T = TypeVar("T")
_Ts = TypeVarTuple("_Ts")


class Clock(Protocol):
    """Wall-clock time for the runtime. ``now()`` is aware UTC; ``sleep`` follows the same time."""

    def now(self) -> datetime: ...

    def monotonic(self) -> float:
        """Seconds on a clock that never steps back (for intervals and ages)."""
        ...

    async def sleep(self, seconds: float) -> None: ...


class SystemClock:
    """Real time: the system's UTC clock and asyncio's sleep."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))


class LoopClock:
    """Time read from the running event loop, anchored at ``start`` (aware UTC).

    Under a :class:`VirtualTimeLoop` this is simulated time; under a normal loop it is real
    monotonic time starting at ``start``. Build it inside the loop it reads (or pass the loop):
    ``start`` is the instant of construction.
    """

    def __init__(self, start: datetime, loop: asyncio.AbstractEventLoop | None = None) -> None:
        if start.tzinfo is None:
            raise ValueError("the clock's start must be timezone-aware")
        self._start = start.astimezone(UTC)
        self._loop = loop or asyncio.get_running_loop()
        self._t0 = self._loop.time()
        # On virtual time many callbacks run at one instant (a poll's readings, their events):
        # the datetime of the last instant asked for is kept and handed out again.
        self._last_t = self._t0
        self._last_now = self._start

    def _loop_time(self) -> float:
        return self._loop.time() - self._t0

    def now(self) -> datetime:
        t = self._loop.time()
        if t != self._last_t:
            self._last_t = t
            self._last_now = self._start + timedelta(seconds=t - self._t0)
        return self._last_now

    def monotonic(self) -> float:
        return self._loop_time()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))


def anchored_clock(start: datetime, loop: asyncio.AbstractEventLoop) -> LoopClock:
    """A :class:`LoopClock` on which ``loop.time() == 0`` is ``start`` (aware UTC), so that
    every process on a :class:`VirtualTimeLoop` of the same anchor reads the same time."""
    return LoopClock(start + timedelta(seconds=loop.time()), loop)


async def sleep_until(clock: Clock, when: datetime) -> None:
    """Sleep until ``when`` on ``clock`` (returns at once if it has passed)."""
    await clock.sleep((when - clock.now()).total_seconds())


async def wake_or_timeout(wake: asyncio.Event, timeout_s: float) -> None:
    """Wait until ``wake`` is set or ``timeout_s`` has passed on the loop's time (which also
    sets ``wake``, so the caller clears it after either).

    For actors that run a pass every few seconds or sooner when woken: a timer that sets the
    event costs one callback, where ``asyncio.timeout`` or ``asyncio.wait`` over a sleeping
    task cost a cancellation and its exception, or two tasks, on every quiet pass.
    """
    await Alarm(wake).wait(timeout_s)


class Alarm:
    """Sets ``event`` after a timeout (see :func:`wake_or_timeout`); the time can be moved
    while it waits: one timer cancelled and one armed, where waking the waiter to sleep again
    would cost a pass of its loop."""

    __slots__ = ("_timer", "event")

    def __init__(self, event: asyncio.Event) -> None:
        self.event = event
        self._timer: asyncio.TimerHandle | None = None

    async def wait(self, timeout_s: float) -> None:
        """Until ``event`` is set, by hand or ``timeout_s`` from now (or when :meth:`move`
        says); the caller clears it after either."""
        if self.event.is_set():
            return
        self._timer = asyncio.get_running_loop().call_later(max(0.0, timeout_s), self.event.set)
        try:
            await self.event.wait()
        finally:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None

    def ring_by(self, timeout_s: float) -> None:
        """While :meth:`wait` waits, ring ``timeout_s`` from now if that is sooner than it
        was set for; else nothing (ringing early only costs the waiter a look)."""
        timer = self._timer
        if timer is None:
            return
        loop = asyncio.get_running_loop()
        when = loop.time() + max(0.0, timeout_s)
        if when < timer.when():
            timer.cancel()
            self._timer = loop.call_at(when, self.event.set)

    def move(self, timeout_s: float) -> None:
        """While :meth:`wait` waits, ring ``timeout_s`` from now instead; else nothing."""
        timer = self._timer
        if timer is None:
            return
        loop = asyncio.get_running_loop()
        when = loop.time() + max(0.0, timeout_s)
        if when == timer.when():
            return  # already set for then
        timer.cancel()
        self._timer = loop.call_at(when, self.event.set)


async def within(timeout_s: float, coro: Coroutine[Any, Any, T]) -> T:
    """``await coro`` bounded by ``timeout_s`` on the loop's time, as ``asyncio.timeout`` would:
    ``TimeoutError`` when it runs out, the coroutine cancelled.

    The coroutine's first step runs at once, and the timer is armed only if it suspends. A
    timer cannot interrupt code that does not suspend, so the outcome is the same; but a
    device read that finishes in its first step (every read on emulated buses, where a
    simulated house makes thousands a day) costs no timer at all.
    """
    try:
        pending = coro.send(None)
    except StopIteration as done:
        result: T = done.value
        return result
    async with asyncio.timeout(timeout_s):
        return await _Resumed(coro, pending)


class _Resumed(Generic[T]):
    """Awaits the rest of a coroutine whose first step has run and yielded ``pending`` (what
    ``yield from`` does for one that has not started)."""

    __slots__ = ("_coro", "_pending")

    def __init__(self, coro: Coroutine[Any, Any, T], pending: Any) -> None:
        self._coro = coro
        self._pending = pending

    def __await__(self) -> Generator[Any, Any, T]:
        coro, pending = self._coro, self._pending
        while True:
            try:
                sent = yield pending
            except GeneratorExit:
                coro.close()
                raise
            except BaseException as thrown:  # noqa: BLE001 - a cancellation: passed on into the coroutine
                try:
                    pending = coro.throw(thrown)
                except StopIteration as done:
                    return done.value  # type: ignore[no-any-return]
            else:
                try:
                    pending = coro.send(sent)
                except StopIteration as done:
                    return done.value  # type: ignore[no-any-return]


def next_boundary(now: datetime, period_s: int) -> datetime:
    """The first instant after ``now`` that is a whole multiple of ``period_s`` since the epoch."""
    epoch_s = now.timestamp()
    nxt = (math.floor(epoch_s / period_s) + 1) * period_s
    return datetime.fromtimestamp(nxt, UTC)


class _WarpSelector:
    """Wraps the loop's selector so that waiting for a timer advances virtual time instead."""

    def __init__(self, loop: VirtualTimeLoop, inner: selectors.BaseSelector) -> None:
        self._loop = loop
        self._inner = inner

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        loop = self._loop
        if loop.speed is None:
            events = self._inner.select(0)
            if not events and timeout is not None and timeout > 0:
                loop.advance(timeout)
            elif not events and timeout is None:
                # Nothing scheduled at all: only real I/O can wake us, so wait for it for real.
                events = self._inner.select(None)
            return events
        if loop.anchored:
            return self._inner.select(None if timeout is None else timeout / loop.speed)
        return loop.paced_select(self._inner, timeout)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


#: Where a task's timers go among the timers due at the same instant on a
#: :class:`VirtualTimeLoop` (lower first). Set it at the start of a task (each task has its own
#: copy of the context). Default :data:`RANK_DEFAULT`.
TIMER_RANK: contextvars.ContextVar[int] = contextvars.ContextVar("timer_rank", default=50)
RANK_WORLD = 0
"""The simulated house's physics: the world moves before anyone looks at it."""
RANK_DEVICES = 10
"""Sensor polls and relay read-backs."""
RANK_CONTROL = 30
"""The controller's passes: after the readings of the same instant."""
RANK_DEFAULT = 50
RANK_OBSERVERS = 90
"""Recorders of a run (a walkthrough's samples): after everything else of the instant."""


_Entry = tuple[int, int, int, asyncio.TimerHandle]
"""A timer in a :class:`VirtualTimeLoop`'s heap: (instant in µs, rank, order of arming, timer).
Tuples of ints compare in C; the order of arming is unique, so the timers are never compared."""

#: As asyncio: sweep the heap of cancelled timers when more than half of over 100 are.
_SWEEP_MIN = 100
_SWEEP_SHARE = 0.5
_MAX_SELECT_S = 24 * 3600.0  # asyncio's MAXIMUM_SELECT_TIMEOUT
#: How far behind its pace (real seconds) an unanchored loop may fall and still catch up; more
#: is a stall, which virtual time waits out instead of jumping.
_STALL_REAL_S = 0.05


def _unscheduled(timer: asyncio.TimerHandle) -> None:
    """Mark ``timer`` out of the heap, as BaseEventLoop does (its cancel is no longer counted)."""
    mark: Any = timer
    mark._scheduled = False


class VirtualTimeLoop(asyncio.SelectorEventLoop):
    """A selector event loop on virtual time.

    Args:
        speed: virtual seconds per real second, or ``None`` to jump to the next timer whenever
            no I/O is ready.
        anchor: with a ``speed``, the ``time.monotonic()`` reading at which ``time()`` is 0
            (default: the moment of construction). CLOCK_MONOTONIC is one clock for every
            process of the machine, so processes given the same anchor and speed agree on
            virtual time, and a process restarted with them picks it up where it was.
    """

    # Kept out of the instance's __dict__: asyncio's loop already holds 29 attributes there,
    # and at 30 CPython 3.11 stops sharing the dict's keys, which slows every attribute read
    # of the loop (about 1.5 % of a simulated day).
    __slots__ = ("anchored",)

    def __new__(cls, speed: float | None = None, *, anchor: float | None = None) -> VirtualTimeLoop:
        # Checked before the instance exists: an event loop refused in __init__ would still be
        # finalized, and BaseEventLoop.__del__ on a half-built loop reports an unraisable error.
        if speed is not None and speed <= 0:
            raise ValueError("speed must be positive (or None for as fast as possible)")
        if anchor is not None and speed is None:
            raise ValueError("an anchor needs a speed: as fast as possible follows no real clock")
        return super().__new__(cls)

    def __init__(self, speed: float | None = None, *, anchor: float | None = None) -> None:
        self.speed = speed
        self.anchored = anchor is not None
        """Virtual time is ``time.monotonic()`` scaled from the anchor, shared with other
        processes: it runs on through callbacks and stalls. Else it moves only while the loop
        waits (see the module docstring)."""
        self._virtual = 0.0
        self._armed = 0
        self._real_base = time.monotonic() if anchor is None else anchor
        self._virtual_base = 0.0
        inner = selectors.DefaultSelector()
        super().__init__(inner)
        # asyncio keeps its selector in a private attribute; wrapping it is the one seam it has.
        self._selector = _WarpSelector(self, inner)

    def call_at(
        self,
        when: float,
        callback: Callable[[*_Ts], object],
        *args: *_Ts,
        context: contextvars.Context | None = None,
    ) -> asyncio.TimerHandle:
        """:meth:`asyncio.BaseEventLoop.call_at`, but timers due at the same instant run in the
        order of their tasks' :data:`TIMER_RANK`, then in the order they were armed. A plain
        loop breaks such ties by the shape of its heap, so one timer more or less anywhere
        (a task that sleeps longer) could reorder the rest: on virtual time, where many
        timers fall on one instant, that would make a run depend on how its actors sleep."""
        base: Any = self
        base._check_closed()
        self._armed += 1
        rank = TIMER_RANK.get() if context is None else context.get(TIMER_RANK, RANK_DEFAULT)
        timer = asyncio.TimerHandle(when, callback, args, self, context)
        entry: _Entry = (round(when * 1e6), rank, self._armed, timer)
        heapq.heappush(base._scheduled, entry)
        mark: Any = timer
        mark._scheduled = True  # as BaseEventLoop.call_at does: a cancel is then counted
        return timer

    def _run_once(self) -> None:
        """One pass of the loop, as :meth:`asyncio.BaseEventLoop._run_once` (whose heap of
        timers this loop keeps as :data:`_Entry` tuples): sweep cancelled timers, poll the
        selector, move the timers that are due to the ready queue, run what was ready."""
        base: Any = self  # BaseEventLoop's private state, which this method stands in for
        scheduled: list[_Entry] = base._scheduled
        count = len(scheduled)
        if count > _SWEEP_MIN and base._timer_cancelled_count > count * _SWEEP_SHARE:
            kept = []
            for entry in scheduled:
                if entry[3].cancelled():
                    _unscheduled(entry[3])
                else:
                    kept.append(entry)
            heapq.heapify(kept)
            base._scheduled = scheduled = kept
            base._timer_cancelled_count = 0
        else:
            while scheduled and scheduled[0][3].cancelled():
                base._timer_cancelled_count -= 1
                _unscheduled(heapq.heappop(scheduled)[3])

        ready: collections.deque[asyncio.Handle] = base._ready
        timeout = None
        if ready or base._stopping:
            timeout = 0.0
        elif scheduled:
            timeout = min(max(0.0, scheduled[0][3].when() - self.time()), _MAX_SELECT_S)
        base._process_events(base._selector.select(timeout))

        end_time = self.time() + base._clock_resolution
        while scheduled and scheduled[0][3].when() < end_time:
            timer = heapq.heappop(scheduled)[3]
            _unscheduled(timer)
            ready.append(timer)

        debug = base._debug
        handle: asyncio.Handle | None = None
        for _ in range(len(ready)):
            handle = ready.popleft()
            if handle.cancelled():
                continue
            if debug:
                self._run_watched(handle)
            else:
                handle._run()
        handle = None  # as asyncio: break a cycle through the frame when a callback raised

    def _run_watched(self, handle: asyncio.Handle) -> None:
        """Run ``handle`` as asyncio's debug mode does: warn of a slow callback (in real
        seconds: virtual time may not move during a callback)."""
        base: Any = self
        base._current_handle = handle
        try:
            t0 = time.monotonic()
            handle._run()
            dt = time.monotonic() - t0
            if dt >= self.slow_callback_duration:
                logging.getLogger("asyncio").warning("Executing %s took %.3f seconds", handle, dt)
        finally:
            base._current_handle = None

    def time(self) -> float:
        if self.speed is not None and self.anchored:
            return self._paced()
        return self._virtual

    def _paced(self) -> float:
        """Virtual time as real time scaled from the pace's base."""
        assert self.speed is not None
        return self._virtual_base + (time.monotonic() - self._real_base) * self.speed

    def advance(self, seconds: float) -> None:
        """Jump virtual time forward (as-fast-as-possible mode)."""
        self._virtual += seconds

    def paced_select(
        self, inner: selectors.BaseSelector, timeout: float | None
    ) -> list[tuple[selectors.SelectorKey, int]]:
        """Wait for I/O or until ``timeout`` virtual seconds from now, at the pace of ``speed``
        (unanchored), and move virtual time: to the instant the I/O came, else to the deadline
        exactly. Callbacks ran in real time since the last wait, so the wait is what is left of
        the pace to the deadline; a loop so late that it is more than :data:`_STALL_REAL_S`
        of real time past the deadline starts the pace again from there."""
        assert self.speed is not None
        if timeout is None:  # no timer at all: only real I/O can wake the loop
            events = inner.select(None)
            self._virtual = max(self._virtual, self._paced())
            return events
        deadline = self._virtual + timeout
        wait = (deadline - self._paced()) / self.speed if timeout > 0 else 0.0
        events = inner.select(max(0.0, wait))
        paced = self._paced()
        if events and paced < deadline:
            self._virtual = max(self._virtual, paced)
            return events
        self._virtual = deadline
        if paced - deadline > _STALL_REAL_S * self.speed:
            self._virtual_base, self._real_base = deadline, time.monotonic()
        return events

    def set_speed(self, speed: float | None) -> None:
        """Change speed without a jump in virtual time."""
        now = self.time()
        self.speed = speed
        self._virtual = now
        self._virtual_base = now
        self._real_base = time.monotonic()


def run_virtual(
    main: Callable[[], Coroutine[Any, Any, T]] | Awaitable[T], *, speed: float | None = None
) -> T:
    """Run ``main`` to completion on a fresh :class:`VirtualTimeLoop`."""
    kept: list[T] = []

    async def keep() -> None:
        # The result is kept out of the main task: when asyncio.Runner puts back the SIGINT
        # handler it calls signal.getsignal, which formats repr(partial(..., main_task)) and
        # with it the task's whole result (a 28-day walkthrough's record: half a second).
        kept.append(await (main() if callable(main) else main))

    with asyncio.Runner(loop_factory=lambda: VirtualTimeLoop(speed)) as runner:
        runner.run(keep())
    return kept[0]
