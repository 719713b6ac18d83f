"""A queued switch is checked when its turn comes, not when it was queued: whoever asked for it
may have lost the right to switch the relay meanwhile (the admin hold taken while an ATN
command waited behind another job)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence

from scada.actors.relays import VERIFY_PERIOD_S, RelayActor
from scada.clock import LoopClock, run_virtual
from tests.runtime.harness import T0


class GatedBoard:
    """A relay board whose first write waits for ``gate``: a slow job the next one queues
    behind."""

    name = "gated"

    def __init__(self) -> None:
        self.gate = asyncio.Event()
        self.coils: dict[int, bool] = {}
        self.writes: list[tuple[int, bool]] = []

    async def open(self) -> None:
        return None

    async def write(self, channel: int, energized: bool) -> None:
        if not self.writes:
            await self.gate.wait()
        self.writes.append((channel, energized))
        self.coils[channel] = energized

    async def read(self, channel: int) -> bool:
        return self.coils.get(channel, False)

    async def read_all(self, channels: Sequence[int]) -> dict[int, bool]:
        return {ch: self.coils.get(ch, False) for ch in channels}

    async def close(self) -> None:
        return None


@contextlib.asynccontextmanager
async def running(actor: RelayActor) -> AsyncIterator[asyncio.Task[None]]:
    """``actor`` running (its board opened and read) for the block, cancelled after it."""
    runner = asyncio.create_task(actor.run())
    await asyncio.sleep(0.01)
    try:
        yield runner
    finally:
        runner.cancel()
        await asyncio.gather(runner, return_exceptions=True)


class Sink:
    def coil_observed(self, board: str, channel: int, energized: bool) -> None:
        return None

    def device_ok(self, device: str) -> None:
        return None

    def device_failed(self, device: str, reason: str) -> None:
        raise AssertionError(f"{device}: {reason}")


def test_a_job_vetoed_while_it_waited_is_dropped_unwritten_and_the_next_goes_ahead() -> None:
    async def main() -> None:
        board = GatedBoard()
        actor = RelayActor(board, [0, 1, 2], LoopClock(T0), Sink())
        async with running(actor):
            assert actor.ready
            boss = ["atn"]
            slow = asyncio.create_task(actor.switch(0, energized=True))
            await asyncio.sleep(0.01)  # the slow job holds the board
            queued = asyncio.create_task(
                actor.switch(
                    1, energized=True, veto=lambda: None if boss[0] == "atn" else "admin is boss"
                )
            )
            after = asyncio.create_task(actor.switch(2, energized=True))
            await asyncio.sleep(0.01)
            boss[0] = "admin"  # the hold is taken while the ATN's job waits its turn
            board.gate.set()
            assert (await slow).ok
            vetoed = await queued
            assert not vetoed.ok
            assert vetoed.superseded
            assert vetoed.error == "admin is boss"
            assert (await after).ok
            assert board.writes == [(0, True), (2, True)]

    run_virtual(main)


def test_a_veto_that_still_allows_the_job_lets_it_through() -> None:
    async def main() -> None:
        board = GatedBoard()
        board.gate.set()
        actor = RelayActor(board, [0], LoopClock(T0), Sink())
        async with running(actor):
            assert actor.ready
            outcome = await actor.switch(0, energized=True, veto=lambda: None)
            assert outcome.ok
            assert not outcome.superseded
            assert board.writes == [(0, True)]

    run_virtual(main)


def test_a_job_whose_caller_stopped_waiting_is_still_done_and_the_actor_goes_on() -> None:
    async def main() -> None:
        board = GatedBoard()
        actor = RelayActor(board, [0, 1], LoopClock(T0), Sink())
        async with running(actor) as runner:
            slow = asyncio.create_task(actor.switch(0, energized=True))
            await asyncio.sleep(0.01)
            impatient = asyncio.create_task(actor.switch(1, energized=True))
            await asyncio.sleep(0.01)
            impatient.cancel()  # a command timed out while its job waited behind the slow one
            board.gate.set()
            assert (await slow).ok
            await asyncio.sleep(0.01)
            assert board.writes == [(0, True), (1, True)]
            assert not runner.done()  # answering a caller who has gone did not crash the actor
            assert (await actor.switch(1, energized=False)).ok

    run_virtual(main)


def test_with_no_jobs_the_board_is_read_back_every_verify_period() -> None:
    async def main() -> None:
        board = GatedBoard()
        reads: list[float] = []
        read_all = board.read_all

        async def counted(channels: Sequence[int]) -> dict[int, bool]:
            reads.append(asyncio.get_running_loop().time())
            return await read_all(channels)

        board.read_all = counted  # type: ignore[method-assign]
        actor = RelayActor(board, [0], LoopClock(T0), Sink())
        async with running(actor):
            await asyncio.sleep(3 * VERIFY_PERIOD_S + 1)
            start = reads[0]
            assert [round(t - start, 6) for t in reads] == [
                0.0,
                VERIFY_PERIOD_S,
                2 * VERIFY_PERIOD_S,
                3 * VERIFY_PERIOD_S,
            ]

    run_virtual(main)
