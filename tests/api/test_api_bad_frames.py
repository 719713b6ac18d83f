"""Broken frames get an error reply and never crash the server or disturb other consoles."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from scada.api.client import ApiClient
from scada.protocol import ErrorCode, Reply, Snapshot, encode
from scada.protocol.examples import example_reading
from tests.api.api_support import TIMEOUT_S, RawConsole, serving, short_dir


@pytest.fixture
def sock_path() -> Iterator[Path]:
    with short_dir() as d:
        yield d / "scada.sock"


async def attach(path: Path) -> RawConsole:
    raw = await RawConsole.open(path)
    await raw.frame()  # hello
    await raw.frame()  # snapshot
    return raw


def error_of(reply: Reply) -> tuple[int | None, str, str]:
    assert not reply.ok
    assert reply.error is not None
    return reply.id, reply.error.code, reply.error.message


@pytest.mark.parametrize(
    ("frame", "want_id", "want_code", "want_text"),
    [
        pytest.param(b"not json", None, ErrorCode.BAD_FRAME, "invalid JSON", id="not-json"),
        pytest.param(b"[1, 2]", None, ErrorCode.BAD_FRAME, "JSON object", id="array"),
        pytest.param(b'"hello"', None, ErrorCode.BAD_FRAME, "JSON object", id="string"),
        pytest.param(b"\xff\xfe{}", None, ErrorCode.BAD_FRAME, "UTF-8", id="bad-utf8"),
        pytest.param(
            b'{"type": "req.teleport", "version": 1, "id": 7}',
            7,
            ErrorCode.BAD_FRAME,
            "unknown message type",
            id="unknown-type",
        ),
        pytest.param(
            b'{"type": "req.take_hold", "version": 1, "id": 9, "operator": "Ann", "minutes": -1}',
            9,
            ErrorCode.BAD_FRAME,
            "minutes",
            id="invalid-field",
        ),
        pytest.param(
            b'{"type": "req.snapshot", "version": 2, "id": 3}',
            3,
            ErrorCode.BAD_FRAME,
            "version",
            id="newer-version",
        ),
        pytest.param(
            b'{"type": "req.snapshot", "version": 1, "id": 4, "extra": 1}',
            4,
            ErrorCode.BAD_FRAME,
            "unknown field",
            id="unknown-field",
        ),
        pytest.param(
            b'{"type": "req.snapshot", "version": 1, "id": 9007199254740993}',
            None,
            ErrorCode.BAD_FRAME,
            "id",
            id="id-out-of-range",
        ),
        pytest.param(
            encode(example_reading()),
            None,
            ErrorCode.UNSUPPORTED,
            "not a request",
            id="not-a-request",
        ),
    ],
)
async def test_bad_frame_gets_an_error_and_the_session_goes_on(
    sock_path: Path, frame: bytes, want_id: int | None, want_code: str, want_text: str
) -> None:
    async with serving(sock_path):
        raw = await attach(sock_path)
        await raw.send(frame + b"\n")
        got_id, code, message = error_of(await raw.reply())
        assert (got_id, code) == (want_id, want_code)
        assert want_text in message
        # Same connection, next request: answered.
        await raw.send(b'{"type": "req.snapshot", "version": 1, "id": 11}\n')
        reply = await raw.reply()
        assert reply.ok
        assert reply.id == 11
        await raw.close()


async def test_blank_lines_are_ignored(sock_path: Path) -> None:
    async with serving(sock_path):
        raw = await attach(sock_path)
        await raw.send(b'\n  \r\n{"type": "req.snapshot", "version": 1, "id": 1}\r\n')
        reply = await raw.reply()
        assert (reply.id, reply.ok) == (1, True)
        await raw.close()


async def test_oversized_frame_is_refused_and_closed_while_others_are_served(
    sock_path: Path,
) -> None:
    async with serving(sock_path) as (server, _), await ApiClient.connect(sock_path) as client:
        raw = await attach(sock_path)
        raw.writer.write(b"x" * (1024 * 1024 + 100 * 1024) + b"\n")
        with contextlib.suppress(ConnectionError):
            await raw.writer.drain()
        got_id, code, message = error_of(await raw.reply())
        assert (got_id, code, message) == (None, ErrorCode.BAD_FRAME, "frame larger than 1 MiB")
        assert await raw.at_eof()
        await raw.close()
        await asyncio.wait_for(server.wait_sessions(1), TIMEOUT_S)
        assert isinstance(await client.snapshot(), Snapshot)


async def test_a_frame_of_exactly_the_limit_is_read(sock_path: Path) -> None:
    """1 MiB of payload (the newline not counted) is still a frame; it just is not JSON."""
    async with serving(sock_path):
        raw = await attach(sock_path)
        await raw.send(b" " * (1024 * 1024 - 2) + b"[]\n")
        _, code, message = error_of(await raw.reply())
        assert code == ErrorCode.BAD_FRAME
        assert "JSON object" in message
        await raw.close()


async def test_unterminated_last_frame_is_answered_before_close(sock_path: Path) -> None:
    async with serving(sock_path) as (server, _):
        raw = await attach(sock_path)
        await raw.send(b'{"type": "req.snapshot", "version": 1, "id": 5}')
        raw.writer.write_eof()
        reply = await raw.reply()
        assert (reply.id, reply.ok) == (5, True)
        assert await raw.at_eof()
        await raw.close()
        await asyncio.wait_for(server.wait_sessions(0), TIMEOUT_S)


async def test_garbage_storm_leaves_the_server_serving(sock_path: Path) -> None:
    async with serving(sock_path) as (server, _):
        raws = [await attach(sock_path) for _ in range(3)]
        for i, raw in enumerate(raws):
            await raw.send(b"\x00\x01garbage" * (i + 1) + b"\n" + b"{" * 5000 + b"\n")
            assert error_of(await raw.reply())[1] == ErrorCode.BAD_FRAME
            assert error_of(await raw.reply())[1] == ErrorCode.BAD_FRAME
        for raw in raws:
            await raw.close()
        await asyncio.wait_for(server.wait_sessions(0), TIMEOUT_S)
        async with await ApiClient.connect(sock_path) as client:
            assert isinstance(await client.snapshot(), Snapshot)
