"""One actor per sensor device: polls each channel at its sample period, never blocks the others.

A device that fails (raises :class:`DriverError` or hangs past its guard timeout) is marked
failing, all its channels with it, and retried with a back-off that doubles up to
:data:`MAX_RETRY_S`; the first read happens at once at start (a meter must not wait a whole
period to show a value).
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Sequence
from typing import Any, Protocol

from scada.clock import RANK_DEVICES, TIMER_RANK, Clock, within
from scada.drivers import DriverError, NotYetMeasuredError, SensorDevice
from scada.layout import Channel

FIRST_RETRY_S = 1.0
MAX_RETRY_S = 60.0
MIN_GUARD_S = 5.0


class SensorSink(Protocol):
    """Where a sensor actor's results go (the runtime)."""

    def reading(self, channel: str, value: float) -> None: ...

    def channel_fault(self, channel: str, reason: str) -> None: ...

    def device_ok(self, device: str) -> None: ...

    def device_failed(self, device: str, reason: str) -> None: ...


class SensorActor:
    """Polls one device. ``phase`` (0..1) offsets its schedule within the shortest sample
    period, so the devices of a house spread their polls over the period instead of all
    reading (and publishing) in the same instant."""

    def __init__(
        self,
        device: SensorDevice,
        channels: Sequence[Channel],
        clock: Clock,
        sink: SensorSink,
        *,
        phase: float = 0.0,
    ) -> None:
        if not channels:
            raise ValueError(f"sensor device {device.name} has no channels")
        self.device = device
        self.channels = {c.name: c for c in channels}
        self._clock = clock
        self._sink = sink
        self._guard_s = max(MIN_GUARD_S, 3 * min(c.sample_period_s for c in channels))
        self._offset_s = (phase % 1.0) * min(c.sample_period_s for c in channels)

    async def run(self) -> None:
        TIMER_RANK.set(RANK_DEVICES)
        retry = FIRST_RETRY_S
        while not await self._try(self.device.open()):
            await self._clock.sleep(retry)
            retry = min(retry * 2, MAX_RETRY_S)
        now = self._clock.monotonic()
        # Read everything at once at start (a value should not wait a period), then keep to
        # this device's phase.
        next_due = dict.fromkeys(self.channels, now)
        first = True
        retry = FIRST_RETRY_S
        while True:
            now = self._clock.monotonic()
            due = [name for name, t in next_due.items() if t <= now + 1e-9]
            if due:
                if await self._poll(due):
                    retry = FIRST_RETRY_S
                    for name in due:
                        period = self.channels[name].sample_period_s
                        # Keep to the schedule, but never try to catch up on missed polls.
                        next_due[name] = max(next_due[name] + period, now)
                        if first:
                            next_due[name] += self._offset_s
                    first = False
                else:
                    for name in next_due:
                        next_due[name] = now + retry
                    retry = min(retry * 2, MAX_RETRY_S)
            _raise_if_cancelled()
            await self._clock.sleep(min(next_due.values()) - self._clock.monotonic())

    async def _try(self, op: Coroutine[Any, Any, None]) -> bool:
        try:
            await within(self._guard_s, op)
        except DriverError as e:
            self._sink.device_failed(self.device.name, e.reason)
            return False
        except TimeoutError:
            self._sink.device_failed(self.device.name, f"no answer within {self._guard_s:g} s")
            return False
        return True

    async def _poll(self, due: list[str]) -> bool:
        try:
            result = await within(self._guard_s, self.device.read(due))
        except DriverError as e:
            self._sink.device_failed(self.device.name, e.reason)
            return False
        except TimeoutError:
            self._sink.device_failed(self.device.name, f"no answer within {self._guard_s:g} s")
            return False
        self._sink.device_ok(self.device.name)
        for name in due:
            value = result.get(name)
            if isinstance(value, NotYetMeasuredError):
                continue  # no value, and no fault either: the next poll has one
            if isinstance(value, DriverError):
                self._sink.channel_fault(name, value.reason)
            elif value is None:
                self._sink.channel_fault(name, "the device returned no value for it")
            else:
                self._sink.reading(name, float(value))
        return True


def _raise_if_cancelled() -> None:
    """Honour a cancellation that a driver's library swallowed.

    Some libraries catch ``CancelledError`` inside their I/O; the task's pending cancellation
    count still says we were asked to stop, and a shutdown must never hang on it.
    """
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError
