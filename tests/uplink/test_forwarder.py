"""The forwarder on its own: a fake uplink, a store on disk and a manual clock."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path

import pytest

from scada.actors import forwarder as fwd_mod
from scada.actors.forwarder import ACK_TIMEOUT_S, WINDOW, Forwarder
from scada.protocol import LinkState, Status, decode
from scada.store import Store
from tests.store.store_support import T0, ManualClock, small_status


class FakeUplink:
    def __init__(self) -> None:
        self.broker_state = LinkState.UP
        self.sent: list[str] = []  # message ids, in the order sent

    def send_encoded(self, message_type: str, payload: bytes) -> bool:
        if self.broker_state is not LinkState.UP:
            return False
        msg = decode(payload)
        assert isinstance(msg, Status)
        self.sent.append(msg.id)
        return True


class Rig:
    def __init__(self, tmp: Path) -> None:
        self.clock = ManualClock(at=T0 + timedelta(days=1))
        self.store = Store.open(tmp / "outbox.sqlite", self.clock, durable=False)
        self.link = FakeUplink()
        self.allowed = True
        self.fwd = Forwarder(self.store, self.link, self.clock, may_send=lambda: self.allowed)  # type: ignore[arg-type]

    def offer(self, n: int, *, first: int = 0) -> list[str]:
        ids = []
        for i in range(first, first + n):
            s = small_status(T0 + timedelta(hours=20, seconds=300 * i))
            self.fwd.offer(s)
            ids.append(s.id)
        return ids

    async def settle(self) -> None:
        for _ in range(5):
            await asyncio.sleep(0.01)


@asynccontextmanager
async def rig(tmp: Path) -> AsyncIterator[Rig]:
    r = Rig(tmp)
    task = asyncio.create_task(r.fwd.run())
    try:
        await r.settle()
        yield r
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        r.store.close()


@pytest.fixture(autouse=True)
def _quick_idle(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fwd_mod, "IDLE_S", 0.02)


async def test_window_bounds_what_is_in_flight(tmp_path: Path) -> None:
    async with rig(tmp_path) as r:
        ids = r.offer(WINDOW + 36)
        await r.settle()
        assert r.link.sent == ids[:WINDOW]
        for mid in ids[:10]:
            r.fwd.ack(mid)
        await r.settle()
        assert r.link.sent == ids[: WINDOW + 10]
        for mid in ids[10 : WINDOW + 10]:
            r.fwd.ack(mid)
        await r.settle()
        assert r.link.sent == ids
        for mid in ids[WINDOW + 10 :]:
            r.fwd.ack(mid)
        await r.settle()
        assert r.store.stats().pending_uplink == 0
        assert r.fwd.acked == len(ids)


async def test_oldest_first_whatever_the_order_offered(tmp_path: Path) -> None:
    r = Rig(tmp_path)
    statuses = [small_status(T0 + timedelta(hours=20, seconds=300 * i)) for i in range(10)]
    for s in reversed(statuses):
        r.fwd.offer(s)
    task = asyncio.create_task(r.fwd.run())
    try:
        await r.settle()
        assert r.link.sent == [s.id for s in statuses]
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        r.store.close()


async def test_unacknowledged_after_the_timeout_goes_again(tmp_path: Path) -> None:
    async with rig(tmp_path) as r:
        ids = r.offer(3)
        await r.settle()
        assert r.link.sent == ids
        r.fwd.ack(ids[0])
        r.clock.advance(ACK_TIMEOUT_S + 1)
        r.fwd.link_changed()
        await r.settle()
        assert r.link.sent == [*ids, *ids[1:]]
        for mid in ids[1:]:
            r.fwd.ack(mid)
        await r.settle()
        assert r.store.stats().pending_uplink == 0


async def test_link_down_puts_in_flight_back_and_nothing_is_sent(tmp_path: Path) -> None:
    async with rig(tmp_path) as r:
        ids = r.offer(5)
        await r.settle()
        r.link.broker_state = LinkState.DOWN
        r.fwd.link_changed()
        await r.settle()
        assert sum(t.in_flight for t in r.store.details().tiers) == 0
        more = r.offer(2, first=5)
        await r.settle()
        assert r.link.sent == ids
        r.link.broker_state = LinkState.UP
        r.fwd.link_changed()
        await r.settle()
        assert r.link.sent == [*ids, *ids, *more]  # again, oldest first


async def test_nothing_goes_outside_remote_control(tmp_path: Path) -> None:
    async with rig(tmp_path) as r:
        r.allowed = False
        ids = r.offer(4)
        await r.settle()
        assert r.link.sent == []
        assert r.store.stats().pending_uplink == 4
        r.allowed = True
        r.fwd.link_changed()
        await r.settle()
        assert r.link.sent == ids


async def test_in_flight_at_start_is_sent_again(tmp_path: Path) -> None:
    async with rig(tmp_path) as r:
        ids = r.offer(3)
        await r.settle()
    # the process ended with 3 in flight: the next run sends them again
    async with rig(tmp_path) as r2:
        await r2.settle()
        assert r2.link.sent == ids


async def test_a_failing_compaction_does_not_stop_sending(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(*_: object) -> None:
        raise ValueError("a bug in compaction")

    r = Rig(tmp_path)
    monkeypatch.setattr(r.store, "compact", broken)
    task = asyncio.create_task(r.fwd.run())
    try:
        ids = r.offer(3)
        await r.settle()
        assert r.link.sent == ids
        assert not task.done()
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        r.store.close()
    assert "compaction failed" in caplog.text
