"""Shared pieces of the local API tests: a fake backend on a real EventHub, a short socket
directory (AF_UNIX paths are limited to 107 bytes), raw socket helpers and a scripted server."""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator, Sequence
from pathlib import Path
from typing import Any

from scada.api.backend import Peer
from scada.api.server import ApiServer
from scada.hub import EventHub, Subscription
from scada.protocol import (
    MAX_FRAME_BYTES,
    PROTOCOL_VERSION,
    ApiError,
    ApiRequest,
    AuditLog,
    CommandOutcome,
    CommandResult,
    ErrorCode,
    EventKind,
    GetSnapshot,
    Hello,
    HouseInfo,
    HouseList,
    KeepAliveHold,
    ListHouses,
    LogLevel,
    LogLine,
    Message,
    Reading,
    ReleaseHold,
    Reply,
    SetRelay,
    Snapshot,
    TakeHold,
    WireMessage,
    decode,
    encode,
)
from scada.protocol.examples import HOUSE, T0, example_id, example_snapshot

TIMEOUT_S = 2.0


def hello(protocol_version: int = PROTOCOL_VERSION) -> Hello:
    return Hello(
        protocol_version=protocol_version,
        server_version="0.1.0-test",
        house_alias=HOUSE,
        simulated=True,
        capabilities=("events",),
    )


def reading(i: int) -> Reading:
    return Reading(channel="tank1-depth1", node="a.tank1.depth1", value=i, unit="degC", read_at=T0)


def log_line(text: str) -> LogLine:
    return LogLine(at=T0, level=LogLevel.INFO, logger="test", message=text)


class FakeBackend:
    """An :class:`~scada.api.backend.ApiBackend` over a real hub, with scripted answers:

    * ``req.snapshot``, ``req.list_houses``, ``req.set_relay``: ok with a model as result;
    * ``req.take_hold`` over 60 minutes: refused (``no_hold``);
    * ``req.release_hold``: raises (a backend bug);
    * ``req.keep_alive_hold``: waits for ``gate`` (``entered`` is set while waiting);
    * ``req.audit_log``: a result larger than a frame;
    * anything else: ok with an empty result.
    """

    def __init__(self) -> None:
        self.hub = EventHub()
        self.snap: Snapshot = example_snapshot(n_channels=6, n_actuators=2)
        self.requests: list[ApiRequest] = []
        self.peers: list[Peer] = []
        self.gate = asyncio.Event()
        self.entered = asyncio.Event()

    def hello(self) -> Hello:
        return hello()

    def snapshot(self) -> Snapshot:
        return self.snap

    def subscribe(
        self, name: str, maxsize: int, kinds: frozenset[EventKind] | None
    ) -> Subscription:
        return self.hub.subscribe(name, maxsize=maxsize, kinds=kinds)

    async def handle(self, request: ApiRequest, peer: Peer) -> Reply:
        self.requests.append(request)
        self.peers.append(peer)
        if isinstance(request, GetSnapshot):
            return ok(request.id, self.snap)
        if isinstance(request, ListHouses):
            house = HouseInfo(
                alias=HOUSE, display_name="Orange 1", simulated=True, layout_path="orange.json"
            )
            return ok(request.id, HouseList(houses=(house,), current=HOUSE))
        if isinstance(request, SetRelay):
            result = CommandResult(
                command_id=example_id(9),
                target=request.node,
                outcome=CommandOutcome.ACCEPTED,
                at=T0,
            )
            return ok(request.id, result)
        if isinstance(request, TakeHold) and request.minutes > 60:
            error = ApiError(code=ErrorCode.NO_HOLD, message="holds are capped at 60 minutes")
            return Reply(id=request.id, ok=False, error=error)
        if isinstance(request, ReleaseHold):
            raise RuntimeError("backend bug")  # noqa: TRY004 -- a bug, on purpose
        if isinstance(request, KeepAliveHold):
            self.entered.set()
            await self.gate.wait()
        if isinstance(request, AuditLog):
            return Reply(id=request.id, ok=True, result={"blob": "x" * MAX_FRAME_BYTES})
        return Reply(id=request.id, ok=True, result={})


def ok(req_id: int, model: Any) -> Reply:
    return Reply(id=req_id, ok=True, result=model.model_dump(mode="json"))


@contextlib.contextmanager
def short_dir() -> Iterator[Path]:
    """A fresh directory under /tmp with a short name, removed afterwards."""
    path = Path(tempfile.mkdtemp(prefix="gw", dir="/tmp"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@contextlib.asynccontextmanager
async def serving(
    path: Path, backend: FakeBackend | None = None, **options: Any
) -> AsyncIterator[tuple[ApiServer, FakeBackend]]:
    backend = backend or FakeBackend()
    async with ApiServer(backend, path, **options) as server:
        yield server, backend


class RawConsole:
    """A console speaking raw bytes, to send what a real client never would."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def open(cls, path: Path) -> RawConsole:
        reader, writer = await asyncio.open_unix_connection(path, limit=MAX_FRAME_BYTES + 1)
        return cls(reader, writer)

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def line(self) -> bytes:
        line: bytes = await asyncio.wait_for(self.reader.readline(), TIMEOUT_S)
        return line

    async def frame(self) -> Message:
        line = await self.line()
        assert line, "connection closed"
        return decode(line)

    async def reply(self) -> Reply:
        msg = await self.frame()
        assert isinstance(msg, Reply), msg
        return msg

    async def at_eof(self) -> bool:
        """True once the server closed (EOF or reset), reading and discarding what is left."""
        try:
            while await self.line():
                pass
        except ConnectionResetError:
            pass
        return True

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(OSError):
            await self.writer.wait_closed()


@contextlib.asynccontextmanager
async def scripted_server(
    path: Path, frames: Sequence[bytes | WireMessage], *, hang_up: bool = False
) -> AsyncIterator[None]:
    """A fake SCADA that sends ``frames`` on connect, then hangs up (``hang_up``) or answers
    every request ``ok``."""
    writers: list[asyncio.StreamWriter] = []

    async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writers.append(writer)
        with contextlib.suppress(OSError):
            for item in frames:
                writer.write(item if isinstance(item, bytes) else encode(item) + b"\n")
            await writer.drain()
            while not hang_up and (line := await reader.readline()):
                req_id = json.loads(line)["id"]
                writer.write(encode(Reply(id=req_id, ok=True, result={})) + b"\n")
                await writer.drain()
        writer.close()

    server = await asyncio.start_unix_server(on_connect, path)
    try:
        yield
    finally:
        server.close()
        for writer in writers:
            writer.close()
        await server.wait_closed()
