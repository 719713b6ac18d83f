"""Sessions over a real Unix socket: hello + snapshot on attach, requests, pushed events,
several consoles, subscriptions, slow consoles and backend failures."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from collections.abc import AsyncGenerator, Iterator
from pathlib import Path

import pytest

from scada.api.client import ApiClient, ApiConnectError, ApiRefused, ApiTimeout, UnknownEvent
from scada.protocol import (
    CommandOutcome,
    CommandResult,
    ErrorCode,
    EventFrame,
    EventKind,
    GetSnapshot,
    Hello,
    LogLine,
    Mode,
    ModeChanged,
    Reading,
    RelayState,
    Reply,
    Snapshot,
    decode,
)
from scada.protocol.examples import HOUSE, T0
from tests.api.api_support import TIMEOUT_S, RawConsole, log_line, reading, serving, short_dir

Events = AsyncGenerator[EventFrame | UnknownEvent, None]


@pytest.fixture
def sock_path() -> Iterator[Path]:
    with short_dir() as d:
        yield d / "run" / "scada.sock"


async def next_event(events: Events) -> EventFrame:
    item = await asyncio.wait_for(anext(events), TIMEOUT_S)
    assert isinstance(item, EventFrame), item
    return item


async def test_attach_gets_hello_then_snapshot(sock_path: Path) -> None:
    async with serving(sock_path) as (_, backend):
        raw = await RawConsole.open(sock_path)
        first = await raw.frame()
        second = await raw.frame()
        await raw.close()
    assert isinstance(first, Hello)
    assert first.house_alias == HOUSE
    assert isinstance(second, EventFrame)
    assert second.event is EventKind.SNAPSHOT
    assert second.payload == backend.snap


async def test_client_sees_hello_and_snapshot_event(sock_path: Path) -> None:
    async with serving(sock_path) as (server, backend):
        client = await ApiClient.connect(sock_path)
        async with client, contextlib.aclosing(client.events()) as events:
            first = await next_event(events)
            assert server.sessions == 1
        assert client.closed
    assert client.hello.simulated
    assert first.payload == backend.snap


async def test_request_reply_round_trips(sock_path: Path) -> None:
    async with serving(sock_path) as (_, backend), await ApiClient.connect(sock_path) as client:
        snap = await client.snapshot()
        houses = await client.list_houses()
        result = await client.set_relay("a.relay0", RelayState.ON, "Ann")
        mode = await client.set_mode(Mode.LOCAL, "Ann")
        with pytest.raises(ApiRefused) as refused:
            await client.take_hold("Ann", 90)
    assert snap == backend.snap
    assert houses.current == HOUSE
    assert isinstance(result, CommandResult)
    assert result.outcome is CommandOutcome.ACCEPTED
    assert mode == {}
    assert refused.value.code == ErrorCode.NO_HOLD
    assert "60 minutes" in refused.value.message
    assert [r.id for r in backend.requests] == [1, 2, 3, 4, 5]
    # The peer comes from SO_PEERCRED: this very process.
    assert backend.peers[0].pid == os.getpid()
    assert backend.peers[0].uid == os.geteuid()


async def test_backend_exception_is_an_internal_error_and_the_session_goes_on(
    sock_path: Path,
) -> None:
    async with serving(sock_path), await ApiClient.connect(sock_path) as client:
        with pytest.raises(ApiRefused) as refused:
            await client.release_hold("Ann")
        assert refused.value.code == ErrorCode.INTERNAL
        assert isinstance(await client.snapshot(), Snapshot)


async def test_too_large_reply_becomes_an_error(sock_path: Path) -> None:
    async with serving(sock_path), await ApiClient.connect(sock_path) as client:
        with pytest.raises(ApiRefused, match="1 MiB") as refused:
            await client.audit_log(10)
        assert refused.value.code == ErrorCode.INTERNAL
        assert isinstance(await client.snapshot(), Snapshot)


async def test_every_console_receives_published_events(sock_path: Path) -> None:
    async with serving(sock_path) as (server, backend):
        clients = [await ApiClient.connect(sock_path) for _ in range(3)]
        streams = [client.events() for client in clients]
        for events in streams:
            assert (await next_event(events)).event is EventKind.SNAPSHOT
        await asyncio.wait_for(server.wait_sessions(3), TIMEOUT_S)
        for i in range(5):
            backend.hub.publish(EventKind.READING, reading(i), T0)
        for events in streams:
            got = [await next_event(events) for _ in range(5)]
            assert [f.payload for f in got] == [reading(i) for i in range(5)]
            await events.aclose()
        for client in clients:
            await client.close()
        await asyncio.wait_for(server.wait_sessions(0), TIMEOUT_S)


async def test_subscribe_replaces_the_event_kinds(sock_path: Path) -> None:
    async with (
        serving(sock_path) as (_, backend),
        await ApiClient.connect(sock_path) as client,
        contextlib.aclosing(client.events()) as events,
    ):
        await next_event(events)  # the snapshot
        assert await client.subscribe([EventKind.MODE]) == {"topics": ["mode"]}
        change = ModeChanged(mode=Mode.LOCAL, previous=Mode.REMOTE, reason="test", at=T0)
        backend.hub.publish(EventKind.READING, reading(1), T0)
        backend.hub.publish(EventKind.MODE, change, T0)
        got = await next_event(events)
        assert got.event is EventKind.MODE
        assert got.payload == change
        await client.subscribe([])
        assert backend.hub.subscribers == 1
        backend.hub.publish(EventKind.MODE, change, T0)
        assert isinstance(await client.snapshot(), Snapshot)
        assert client.events_queued == 0


async def test_slow_console_is_dropped_and_the_others_keep_receiving(sock_path: Path) -> None:
    """A console that never reads fills its socket, its hub queue overflows, it is dropped and
    disconnected; publishing never waits and the reading console gets every event."""
    big = "x" * 60_000
    loop = asyncio.get_running_loop()
    async with serving(sock_path, queue_size=8) as (server, backend):
        client = await ApiClient.connect(sock_path)
        events = client.events()
        await next_event(events)
        slow = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        slow.setblocking(False)  # noqa: FBT003
        try:
            await loop.sock_connect(slow, os.fspath(sock_path))
            await asyncio.wait_for(server.wait_sessions(2), TIMEOUT_S)
            assert backend.hub.subscribers == 2
            for i in range(300):
                backend.hub.publish(EventKind.LOG, log_line(f"{i} {big}"), T0)
                got = await next_event(events)
                assert isinstance(got.payload, LogLine)
                assert got.payload.message.startswith(f"{i} ")
                if backend.hub.subscribers == 1:
                    break
            else:
                pytest.fail("the silent console was never dropped")
            # The silent console is disconnected while it still reads nothing...
            await asyncio.wait_for(server.wait_sessions(1), TIMEOUT_S)
            # ...so it finds what the kernel had taken, then EOF.
            while await asyncio.wait_for(loop.sock_recv(slow, 1 << 16), TIMEOUT_S):
                pass
        finally:
            slow.close()
        backend.hub.publish(EventKind.READING, reading(42), T0)
        assert (await next_event(events)).payload == reading(42)
        assert isinstance(await client.snapshot(), Snapshot)
        assert client.events_dropped == 0
        await events.aclose()
        await client.close()


async def test_burst_beyond_the_queue_drops_the_console_with_busy(sock_path: Path) -> None:
    """Events published faster than a session can take them: it is told ``busy`` and closed."""
    async with serving(sock_path, queue_size=4) as (server, backend):
        raw = await RawConsole.open(sock_path)
        await raw.frame()
        await raw.frame()
        for i in range(10):  # no await in between: the session cannot keep up
            backend.hub.publish(EventKind.READING, reading(i), T0)
        frames = []
        while line := await raw.line():
            frames.append(line)
        await raw.close()
        await asyncio.wait_for(server.wait_sessions(0), TIMEOUT_S)
    last = decode(frames[-1])
    assert isinstance(last, Reply)
    assert last.error is not None
    assert last.error.code == ErrorCode.BUSY
    assert all(isinstance(decode(f), EventFrame) for f in frames[:-1])


async def test_too_many_consoles_are_turned_away(sock_path: Path) -> None:
    async with serving(sock_path, max_sessions=1), await ApiClient.connect(sock_path):
        with pytest.raises(ApiConnectError, match="try again later"):
            await ApiClient.connect(sock_path)


async def test_requests_of_one_session_are_answered_in_order(sock_path: Path) -> None:
    async with serving(sock_path) as (_, backend), await ApiClient.connect(sock_path) as client:
        blocked = asyncio.create_task(client.keep_alive("Ann"))
        await asyncio.wait_for(backend.entered.wait(), TIMEOUT_S)
        # The session is busy with the first request: the second waits its turn.
        with pytest.raises(ApiTimeout):
            await client.request(GetSnapshot, timeout_s=0.2)
        backend.gate.set()
        assert await asyncio.wait_for(blocked, TIMEOUT_S) == {}
        assert isinstance(await client.snapshot(), Snapshot)  # the late reply was skipped
        kinds = [r.type for r in backend.requests]
        assert kinds == ["req.keep_alive_hold", "req.snapshot", "req.snapshot"]


async def test_reading_events_arrive_as_models(sock_path: Path) -> None:
    async with (
        serving(sock_path) as (_, backend),
        await ApiClient.connect(sock_path) as client,
        contextlib.aclosing(client.events()) as events,
    ):
        await next_event(events)
        backend.hub.publish(EventKind.READING, reading(3), T0)
        got = await next_event(events)
    assert isinstance(got.payload, Reading)
    assert got.payload.value == 3
    assert got.at == T0
