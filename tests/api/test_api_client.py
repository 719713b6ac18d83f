"""The console's client: timeouts, lost connections, events it cannot read, an incompatible or
absent SCADA, and a consumer too slow for its event queue."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from scada.api.client import (
    ApiBadRequest,
    ApiClient,
    ApiConnectError,
    ApiConnectionLost,
    ApiTimeout,
    UnknownEvent,
)
from scada.protocol import (
    EventFrame,
    EventKind,
    GetSnapshot,
    KeepAliveHold,
    WireMessage,
    encode,
)
from scada.protocol.examples import T0
from tests.api.api_support import TIMEOUT_S, hello, reading, scripted_server, serving, short_dir


@pytest.fixture
def sock_path() -> Iterator[Path]:
    with short_dir() as d:
        yield d / "scada.sock"


def event(i: int) -> EventFrame:
    return EventFrame(event=EventKind.READING, payload=reading(i), at=T0)


async def test_request_times_out_and_a_late_reply_is_ignored(sock_path: Path) -> None:
    async with serving(sock_path) as (_, backend):
        client = await ApiClient.connect(sock_path, request_timeout=0.1)
        with pytest.raises(ApiTimeout, match=r"req.keep_alive_hold \(id 1\) within 0.1 s"):
            await client.keep_alive("Ann")
        backend.gate.set()
        reply = await client.request(GetSnapshot, timeout_s=TIMEOUT_S)
        assert reply.id == 2
        assert not client.closed
        await client.close()


async def test_lost_connection_fails_pending_requests_and_ends_events(sock_path: Path) -> None:
    async with serving(sock_path) as (server, backend):
        client = await ApiClient.connect(sock_path)
        pending = asyncio.create_task(client.request(KeepAliveHold, operator="Ann"))
        await asyncio.wait_for(backend.entered.wait(), TIMEOUT_S)
        await server.close()
        with pytest.raises(ApiConnectionLost, match="closed the connection"):
            await asyncio.wait_for(pending, TIMEOUT_S)
        received = [item async for item in client.events()]  # the snapshot, then the end
        assert [type(item) for item in received] == [EventFrame]
        assert client.closed
        with pytest.raises(ApiConnectionLost):
            await client.snapshot()
        await client.close()


async def test_close_fails_pending_requests(sock_path: Path) -> None:
    async with serving(sock_path) as (_, backend):
        client = await ApiClient.connect(sock_path)
        pending = asyncio.create_task(client.keep_alive("Ann"))
        await asyncio.wait_for(backend.entered.wait(), TIMEOUT_S)
        await client.close()
        with pytest.raises(ApiConnectionLost, match="closed by this console"):
            await asyncio.wait_for(pending, TIMEOUT_S)
        assert client.closed


async def test_invalid_request_is_refused_before_sending(sock_path: Path) -> None:
    async with serving(sock_path) as (_, backend), await ApiClient.connect(sock_path) as client:
        with pytest.raises(ApiBadRequest, match="TakeHold"):
            await client.take_hold("Ann", 2000)
        with pytest.raises(ApiBadRequest, match="RecentEvents"):
            await client.recent_events(0)
        await client.snapshot()
    assert [r.type for r in backend.requests] == ["req.snapshot"]


async def test_unknown_events_are_yielded_not_fatal(sock_path: Path) -> None:
    newer_event = {
        "type": "event",
        "version": 1,
        "event": "weather",
        "payload": {"type": "weather", "version": 1, "temp_c": -3.5},
        "at": "2025-01-15T12:00:00Z",
    }
    frames: list[bytes | WireMessage] = [
        hello(),
        event(1),
        json.dumps(newer_event).encode() + b"\n",
        b'{"type": "thermostat", "version": 1}\n',
        b"[1, 2, 3]\n",
        b"\xff\xfe\n",
        event(2),
    ]
    async with (
        scripted_server(sock_path, frames),
        await ApiClient.connect(sock_path) as client,
        contextlib.aclosing(client.events()) as events,
    ):
        got = [await asyncio.wait_for(anext(events), TIMEOUT_S) for _ in range(6)]
    assert got[0] == event(1)
    assert got[5] == event(2)
    unknown = got[1:5]
    assert all(isinstance(u, UnknownEvent) for u in unknown)
    assert isinstance(got[1], UnknownEvent)
    assert got[1].raw == newer_event
    assert isinstance(got[2], UnknownEvent)
    assert got[2].raw == {"type": "thermostat", "version": 1}
    assert "thermostat" in got[2].error
    assert isinstance(got[3], UnknownEvent)
    assert got[3].raw == "[1, 2, 3]"
    assert isinstance(got[4], UnknownEvent)
    assert "UTF-8" in got[4].error


async def test_slow_consumer_loses_the_oldest_events_not_the_connection(sock_path: Path) -> None:
    frames = [hello(), *(event(i) for i in range(10))]
    async with (
        scripted_server(sock_path, frames),
        await ApiClient.connect(sock_path, event_queue=4) as client,
    ):
        # The reply comes after the ten events on the wire: all of them have been read by now.
        await client.request(GetSnapshot)
        assert client.events_dropped == 6
        assert client.events_queued == 4
        async with contextlib.aclosing(client.events()) as events:
            got = [await asyncio.wait_for(anext(events), TIMEOUT_S) for _ in range(4)]
    assert got == [event(i) for i in range(6, 10)]


async def test_protocol_version_mismatch_is_a_connect_error(sock_path: Path) -> None:
    async with scripted_server(sock_path, [hello(protocol_version=2)]):
        with pytest.raises(ApiConnectError, match="protocol version mismatch: the SCADA speaks 2"):
            await ApiClient.connect(sock_path)


@pytest.mark.parametrize(
    ("frames", "message"),
    [
        ([b"SSH-2.0-OpenSSH_9.6\n"], "does not speak the SCADA protocol"),
        ([encode(event(1)) + b"\n"], "instead of a hello"),
        ([], "closed the connection without a hello"),
    ],
    ids=["not-scada", "no-hello", "silent-close"],
)
async def test_not_a_scada_is_a_connect_error(
    sock_path: Path, frames: list[bytes], message: str
) -> None:
    async with scripted_server(sock_path, frames, hang_up=True):
        with pytest.raises(ApiConnectError, match=message):
            await ApiClient.connect(sock_path, timeout=TIMEOUT_S)


async def test_no_socket_is_a_connect_error(sock_path: Path) -> None:
    with pytest.raises(ApiConnectError, match=f"no SCADA socket at {sock_path}"):
        await ApiClient.connect(sock_path)


async def test_connect_timeout(sock_path: Path) -> None:
    async with scripted_server(sock_path, []):  # accepts, never says hello
        with pytest.raises(ApiConnectError, match=r"did not answer within 0\.1 s"):
            await ApiClient.connect(sock_path, timeout=0.1)


async def test_a_dropped_console_learns_why(sock_path: Path) -> None:
    async with serving(sock_path, queue_size=4) as (_, backend):
        client = await ApiClient.connect(sock_path)
        for i in range(10):  # faster than any session can take them
            backend.hub.publish(EventKind.READING, reading(i), T0)
        received = [item async for item in client.events()]
        assert client.closed
        assert client.last_error is not None
        assert client.last_error.startswith("busy: console too slow")
        assert all(isinstance(item, EventFrame) for item in received)
        with pytest.raises(ApiConnectionLost, match="last error: busy"):
            await client.snapshot()
        await client.close()
