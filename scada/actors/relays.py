"""One actor per relay board: applies switch jobs in order and confirms each by read-back.

Jobs for one board are serialised through a bounded inbox (the board's register is one byte
for all its relays; two jobs at once could overwrite each other, defect 2 of the original).
At start the actor *reads* every relay instead of writing, so a restart never pulses a load
(defect 35); it re-reads every :data:`VERIFY_PERIOD_S` so a dead board is noticed (defect 36).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from scada.clock import RANK_DEVICES, TIMER_RANK, Clock, wake_or_timeout, within
from scada.drivers import DriverError, ReadBackMismatchError, RelayBoard

INBOX = 64
VERIFY_PERIOD_S = 30.0
FIRST_RETRY_S = 1.0
MAX_RETRY_S = 60.0
GUARD_S = 5.0


@dataclass(frozen=True, slots=True)
class SwitchOutcome:
    """``energized`` is the read-back coil state (None when the board could not be read);
    ``superseded``: the job was dropped unwritten because it was no longer allowed when its
    turn came (see :meth:`RelayActor.switch`)."""

    ok: bool
    energized: bool | None
    error: str | None = None
    superseded: bool = False


@dataclass(slots=True)
class _Job:
    channel: int
    energized: bool
    veto: Callable[[], str | None] | None = None
    done: asyncio.Future[SwitchOutcome] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class RelaySink(Protocol):
    def coil_observed(self, board: str, channel: int, energized: bool) -> None: ...

    def device_ok(self, device: str) -> None: ...

    def device_failed(self, device: str, reason: str) -> None: ...


class RelayActor:
    def __init__(
        self, board: RelayBoard, channels: list[int], clock: Clock, sink: RelaySink
    ) -> None:
        self.board = board
        self.channels = sorted(channels)
        self._clock = clock
        self._sink = sink
        # A deque and an event, not an asyncio.Queue: the wait for a job ends in a read-back
        # every VERIFY_PERIOD_S, and a timeout that cancels Queue.get costs an exception each.
        self._inbox: deque[_Job] = deque()
        self._job_in = asyncio.Event()
        self.ready = False
        #: Called once the board first answers (``ready``).
        self.on_ready: Callable[[], None] | None = None

    async def switch(
        self, channel: int, energized: bool, *, veto: Callable[[], str | None] | None = None
    ) -> SwitchOutcome:
        """Queue a switch and wait for its read-back. A full inbox fails at once, never blocks;
        so does a board that has not answered yet (it is retried with back-off meanwhile).

        ``veto`` is asked right before the write, when the job's turn has come: a reason from
        it drops the job unwritten (``superseded``). Whoever queued the job may have lost the
        right to switch the relay meanwhile (an installer took the admin hold while the ATN's
        command waited behind other jobs), and only the moment of the write decides."""
        if not self.ready:
            return SwitchOutcome(
                ok=False, energized=None, error=f"{self.board.name} is not answering"
            )
        if len(self._inbox) >= INBOX:
            return SwitchOutcome(
                ok=False, energized=None, error=f"{self.board.name} is busy ({INBOX} jobs queued)"
            )
        job = _Job(channel, energized, veto)
        self._inbox.append(job)
        self._job_in.set()
        return await job.done

    async def run(self) -> None:
        TIMER_RANK.set(RANK_DEVICES)
        retry = FIRST_RETRY_S
        while not await self._open_and_read():
            await self._fail_queued("board is not answering")
            await self._clock.sleep(retry)
            retry = min(retry * 2, MAX_RETRY_S)
        self.ready = True
        if self.on_ready is not None:
            self.on_ready()
        while True:
            if not self._inbox:
                self._job_in.clear()
                await wake_or_timeout(self._job_in, VERIFY_PERIOD_S)
                if not self._inbox:
                    await self._read_all()
                    continue
            job = self._inbox.popleft()
            why = job.veto() if job.veto is not None else None
            if why is not None:
                _answer(job, SwitchOutcome(ok=False, energized=None, error=why, superseded=True))
                continue
            _answer(job, await self._apply(job))

    async def _open_and_read(self) -> bool:
        try:
            await within(GUARD_S, self.board.open())
        except DriverError as e:
            self._sink.device_failed(self.board.name, e.reason)
            return False
        except TimeoutError:
            self._sink.device_failed(self.board.name, f"no answer within {GUARD_S:g} s")
            return False
        return await self._read_all()

    async def _read_all(self) -> bool:
        try:
            coils = await within(GUARD_S, self.board.read_all(self.channels))
        except DriverError as e:
            self._sink.device_failed(self.board.name, e.reason)
            return False
        except TimeoutError:
            self._sink.device_failed(self.board.name, f"no answer within {GUARD_S:g} s")
            return False
        for ch in self.channels:
            self._sink.coil_observed(self.board.name, ch, coils[ch])
        self._sink.device_ok(self.board.name)
        return True

    async def _apply(self, job: _Job) -> SwitchOutcome:
        try:
            await within(GUARD_S, self.board.write(job.channel, job.energized))
            seen = await within(GUARD_S, self.board.read(job.channel))
        except ReadBackMismatchError as e:
            # The board answered: it is alive, but the relay did not follow (a stuck contact,
            # a coil without its supply). That is this relay's failure, not the board's.
            self._sink.device_ok(self.board.name)
            return SwitchOutcome(ok=False, energized=None, error=e.reason)
        except DriverError as e:
            self._sink.device_failed(self.board.name, e.reason)
            return SwitchOutcome(ok=False, energized=None, error=e.reason)
        except TimeoutError:
            reason = f"no answer within {GUARD_S:g} s"
            self._sink.device_failed(self.board.name, reason)
            return SwitchOutcome(ok=False, energized=None, error=reason)
        self._sink.device_ok(self.board.name)
        self._sink.coil_observed(self.board.name, job.channel, seen)
        if seen != job.energized:
            want = "energized" if job.energized else "released"
            return SwitchOutcome(
                ok=False, energized=seen, error=f"read-back shows the coil not {want}"
            )
        return SwitchOutcome(ok=True, energized=seen)

    async def _fail_queued(self, reason: str) -> None:
        while self._inbox:
            _answer(self._inbox.popleft(), SwitchOutcome(ok=False, energized=None, error=reason))


def _answer(job: _Job, outcome: SwitchOutcome) -> None:
    """Tell whoever queued ``job`` how it went, unless they stopped waiting (cancelled): the
    job was carried out all the same, and the read-back keeps the books."""
    if not job.done.done():
        job.done.set_result(outcome)
