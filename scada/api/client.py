"""The plain-asyncio client of the local API, shared by gwtui and the ``scada`` CLI.

No Textual here. One reader task routes each :class:`Reply` to the request waiting for it (by
``id``) and each pushed event to a bounded queue read through :meth:`ApiClient.events`; a slow
event consumer loses the oldest events (counted in ``events_dropped``), never the connection.

    client = await ApiClient.connect()          # reads the Hello; raises ApiConnectError
    snap = await client.snapshot()              # raises ApiRefused, ApiTimeout, ApiConnectionLost
    async for ev in client.events():            # EventFrame | UnknownEvent, ends on disconnect
        ...
    await client.close()
"""

from __future__ import annotations

import asyncio
import collections
import json
import logging
import os
from collections.abc import AsyncGenerator, Iterable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Final, Self, TypeVar

from pydantic import BaseModel, ValidationError

from scada.api.paths import check_socket_path, default_socket_path, socket_candidates
from scada.protocol import (
    MAX_FRAME_BYTES,
    PROTOCOL_VERSION,
    ApiRequest,
    AuditList,
    AuditLog,
    CommandResult,
    EventFrame,
    EventKind,
    EventList,
    GetSnapshot,
    Hello,
    HouseList,
    KeepAliveHold,
    ListHouses,
    Mode,
    ProtocolError,
    RecentEvents,
    RelayState,
    ReleaseHold,
    Reply,
    SetMode,
    SetRelay,
    Snapshot,
    Subscribe,
    SwitchHouse,
    TakeHold,
    decode,
    encode,
)

__all__ = [
    "ApiBadRequest",
    "ApiClient",
    "ApiClientError",
    "ApiConnectError",
    "ApiConnectionLost",
    "ApiProtocolError",
    "ApiRefused",
    "ApiTimeout",
    "UnknownEvent",
    "default_socket_path",
]

log = logging.getLogger(__name__)

DEFAULT_REQUEST_TIMEOUT_S: Final = 10.0
DEFAULT_EVENT_QUEUE: Final = 4096

P = TypeVar("P", bound=BaseModel)


class ApiClientError(Exception):
    """Base of every error the client raises."""


class ApiConnectError(ApiClientError):
    """Could not attach: no socket, nobody listening, refused, or an incompatible SCADA."""


class ApiTimeout(ApiClientError):  # noqa: N818 -- the console's vocabulary
    """No reply within the timeout (the request may still take effect)."""


class ApiConnectionLost(ApiClientError):  # noqa: N818 -- the console's vocabulary
    """The connection ended before the reply came."""


class ApiProtocolError(ApiClientError):
    """The SCADA answered with something this console cannot read."""


class ApiBadRequest(ApiClientError):  # noqa: N818 -- the console's vocabulary
    """The request was invalid before it was sent (e.g. a hold longer than 24 h)."""


class ApiRefused(ApiClientError):  # noqa: N818 -- the console's vocabulary
    """The SCADA answered the request with an error (``code`` is an ``ErrorCode`` value)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


@dataclass(frozen=True, slots=True)
class UnknownEvent:
    """A pushed frame this console could not decode (typically a newer SCADA's event):
    the parsed JSON object when there was one, else the text; and why it failed."""

    raw: dict[str, Any] | str
    error: str


class ApiClient:
    """One attached session. Build it with :meth:`connect`."""

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        hello: Hello,
        path: Path,
        *,
        request_timeout: float = DEFAULT_REQUEST_TIMEOUT_S,
        event_queue: int = DEFAULT_EVENT_QUEUE,
    ) -> None:
        self.hello = hello
        self.path = path
        self.request_timeout = request_timeout
        self.events_dropped = 0
        self.last_error: str | None = None
        """The last error the SCADA sent that answered no request (a bad frame, ``busy``)."""
        self._reader = reader
        self._writer = writer
        self._ids = 0
        self._pending: dict[int, asyncio.Future[Reply]] = {}
        self._events: collections.deque[EventFrame | UnknownEvent] = collections.deque(
            maxlen=event_queue
        )
        self._wakeup = asyncio.Event()
        self._closed = False
        self._lost_reason = "connection closed"
        self._task = asyncio.create_task(self._read_loop(), name=f"api-client {path}")

    # ---------------------------------------------------------------- connecting

    @classmethod
    async def connect(
        cls,
        path: Path | str | None = None,
        timeout: float = 5.0,  # noqa: ASYNC109 -- covers connect and hello together
        *,
        request_timeout: float = DEFAULT_REQUEST_TIMEOUT_S,
        event_queue: int = DEFAULT_EVENT_QUEUE,
    ) -> ApiClient:
        """Attach to the SCADA at ``path`` and read its Hello.

        With no ``path``: ``$SCADA_SOCKET`` if set, else the first socket that exists among
        :func:`~scada.api.paths.socket_candidates`. Raises :class:`ApiConnectError`.
        """
        where = Path(path) if path is not None else _find_socket()
        try:
            check_socket_path(where)
        except ValueError as exc:
            raise ApiConnectError(str(exc)) from None
        try:
            async with asyncio.timeout(timeout):
                reader, writer = await asyncio.open_unix_connection(
                    os.fspath(where), limit=MAX_FRAME_BYTES
                )
                try:
                    hello = await _read_hello(reader, where)
                except BaseException:
                    writer.close()
                    raise
        except TimeoutError:
            raise ApiConnectError(
                f"the SCADA at {where} did not answer within {timeout:g} s"
            ) from None
        except FileNotFoundError:
            raise ApiConnectError(
                f"no SCADA socket at {where}: is `scada serve` running?"
            ) from None
        except ConnectionRefusedError:
            raise ApiConnectError(
                f"nothing is listening on {where} (a stale socket): is `scada serve` running?"
            ) from None
        except PermissionError:
            raise ApiConnectError(
                f"permission denied on {where}: this user must be in the SCADA's group"
            ) from None
        except (OSError, ValueError) as exc:
            raise ApiConnectError(f"cannot attach to the SCADA at {where}: {exc}") from None
        return cls(
            reader,
            writer,
            hello,
            where,
            request_timeout=request_timeout,
            event_queue=event_queue,
        )

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    @property
    def closed(self) -> bool:
        return self._closed

    async def close(self) -> None:
        """Detach. Pending requests fail with :class:`ApiConnectionLost`; events end."""
        self._finish("closed by this console")
        if not self._task.done():
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        self._writer.close()
        try:
            async with asyncio.timeout(1.0):
                await self._writer.wait_closed()
        except (TimeoutError, OSError):
            self._writer.transport.abort()

    # ---------------------------------------------------------------- requests

    async def request(
        self, request_type: type[ApiRequest], /, *, timeout_s: float | None = None, **fields: Any
    ) -> Reply:
        """Send ``request_type(**fields)`` with the next id; return its ok :class:`Reply`.

        Raises :class:`ApiRefused` for a failed reply, :class:`ApiTimeout`,
        :class:`ApiConnectionLost`, :class:`ApiBadRequest`.
        """
        if self._closed:
            raise ApiConnectionLost(self._lost_reason)
        self._ids += 1
        req_id = self._ids
        try:
            req = request_type(id=req_id, **fields)
            data = encode(req) + b"\n"
        except (ValidationError, ProtocolError) as exc:
            raise ApiBadRequest(f"invalid {request_type.__name__}: {exc}") from None
        future: asyncio.Future[Reply] = asyncio.get_running_loop().create_future()
        self._pending[req_id] = future
        wait = self.request_timeout if timeout_s is None else timeout_s
        try:
            self._writer.write(data)
            async with asyncio.timeout(wait):
                await self._writer.drain()
                reply = await future
        except TimeoutError:
            raise ApiTimeout(f"no reply to {req.type} (id {req_id}) within {wait:g} s") from None
        except ConnectionError:
            raise ApiConnectionLost(self._lost_reason) from None
        finally:
            self._pending.pop(req_id, None)
        if not reply.ok:
            err = reply.error
            raise ApiRefused(err.code if err else "unknown", err.message if err else "no reason")
        return reply

    async def snapshot(self) -> Snapshot:
        return _result_as(await self.request(GetSnapshot), Snapshot)

    async def set_relay(
        self, node: str, state: RelayState, operator: str
    ) -> CommandResult | dict[str, Any]:
        """The :class:`CommandResult` when the SCADA sends one, else the raw result."""
        result = (await self.request(SetRelay, node=node, state=state, operator=operator)).result
        try:
            return CommandResult.model_validate(result or {})
        except ValidationError:
            return result or {}

    async def take_hold(self, operator: str, minutes: float) -> dict[str, Any]:
        return _result(await self.request(TakeHold, operator=operator, minutes=minutes))

    async def keep_alive(self, operator: str) -> dict[str, Any]:
        return _result(await self.request(KeepAliveHold, operator=operator))

    async def release_hold(self, operator: str) -> dict[str, Any]:
        return _result(await self.request(ReleaseHold, operator=operator))

    async def set_mode(self, mode: Mode, operator: str) -> dict[str, Any]:
        return _result(await self.request(SetMode, mode=mode, operator=operator))

    async def list_houses(self) -> HouseList:
        return _result_as(await self.request(ListHouses), HouseList)

    async def switch_house(
        self, alias: str, simulated: bool, operator: str, confirm: str | None = None
    ) -> dict[str, Any]:
        reply = await self.request(
            SwitchHouse, house_alias=alias, simulated=simulated, operator=operator, confirm=confirm
        )
        return _result(reply)

    async def recent_events(self, limit: int = 100) -> EventList:
        return _result_as(await self.request(RecentEvents, limit=limit), EventList)

    async def audit_log(self, limit: int = 100) -> AuditList:
        return _result_as(await self.request(AuditLog, limit=limit), AuditList)

    async def subscribe(self, kinds: Iterable[EventKind]) -> dict[str, Any]:
        """Replace this session's event streams with ``kinds`` (empty: no events)."""
        return _result(await self.request(Subscribe, topics=tuple(kinds)))

    # ---------------------------------------------------------------- events

    async def events(self) -> AsyncGenerator[EventFrame | UnknownEvent, None]:
        """Pushed events in arrival order (the snapshot first); ends when the connection does.

        Meant for one consumer at a time.
        """
        while True:
            if self._events:
                yield self._events.popleft()
                continue
            if self._closed:
                return
            self._wakeup.clear()
            await self._wakeup.wait()

    @property
    def events_queued(self) -> int:
        return len(self._events)

    # ---------------------------------------------------------------- the reader

    async def _read_loop(self) -> None:
        reason = "the SCADA closed the connection"
        try:
            while True:
                try:
                    line = await self._reader.readline()
                except ValueError:  # longer than MAX_FRAME_BYTES; the reader skipped it
                    self._push(
                        UnknownEvent("", f"frame larger than {MAX_FRAME_BYTES} bytes skipped")
                    )
                    continue
                if not line:
                    break
                body = line.rstrip(b"\r\n")
                if body.strip():
                    self._route(body)
        except OSError as exc:
            reason = f"connection to the SCADA lost: {exc}"
        finally:
            if self.last_error is not None:
                reason += f" (last error: {self.last_error})"
            self._finish(reason)

    def _route(self, body: bytes) -> None:
        try:
            msg = decode(body, where="SCADA frame")
        except ProtocolError as exc:
            self._undecodable(body, exc)
            return
        if isinstance(msg, EventFrame):
            self._push(msg)
        elif isinstance(msg, Reply):
            future = self._pending.get(msg.id) if msg.id is not None else None
            if future is not None:
                if not future.done():
                    future.set_result(msg)
            elif msg.error is not None:
                self.last_error = f"{msg.error.code}: {msg.error.message}"
                log.warning("the SCADA reported %s", self.last_error)
            else:
                log.debug("reply %s came after its request gave up", msg.id)
        else:
            log.warning("ignoring an unexpected %r frame from the SCADA", msg.type)

    def _undecodable(self, body: bytes, exc: ProtocolError) -> None:
        raw: dict[str, Any] | str
        try:
            parsed = json.loads(body)
        except (ValueError, RecursionError):
            parsed = None
        raw = parsed if isinstance(parsed, dict) else body.decode("utf-8", errors="replace")
        if isinstance(parsed, dict) and parsed.get("type") == "reply":
            req_id = parsed.get("id")
            future = self._pending.get(req_id) if isinstance(req_id, int) else None
            if future is not None and not future.done():
                future.set_exception(ApiProtocolError(f"unreadable reply: {exc}"))
                return
        self._push(UnknownEvent(raw, str(exc)))

    def _push(self, item: EventFrame | UnknownEvent) -> None:
        if len(self._events) == self._events.maxlen:
            self.events_dropped += 1  # the deque drops the oldest on append
        self._events.append(item)
        self._wakeup.set()

    def _finish(self, reason: str) -> None:
        if self._closed:
            return
        self._closed = True
        self._lost_reason = reason
        for future in self._pending.values():
            if not future.done():
                future.set_exception(ApiConnectionLost(reason))
        self._wakeup.set()


def _find_socket() -> Path:
    candidates = socket_candidates()
    for candidate in candidates:
        if candidate.exists():
            return candidate
    if len(candidates) == 1:
        return candidates[0]
    tried = ", ".join(str(c) for c in candidates)
    raise ApiConnectError(f"no SCADA socket found (looked at {tried}): is `scada serve` running?")


async def _read_hello(reader: asyncio.StreamReader, where: Path) -> Hello:
    line = await reader.readline()
    if not line:
        raise ApiConnectError(f"the SCADA at {where} closed the connection without a hello")
    try:
        msg = decode(line.rstrip(b"\r\n"), where="hello")
    except ProtocolError as exc:
        raise ApiConnectError(f"{where} does not speak the SCADA protocol: {exc}") from None
    if isinstance(msg, Reply) and msg.error is not None:
        raise ApiConnectError(f"the SCADA at {where} turned us away: {msg.error.message}")
    if not isinstance(msg, Hello):
        raise ApiConnectError(f"{where} sent a {msg.type!r} frame instead of a hello")
    if msg.protocol_version != PROTOCOL_VERSION:
        raise ApiConnectError(
            f"protocol version mismatch: the SCADA speaks {msg.protocol_version}, this console"
            f" {PROTOCOL_VERSION}; install matching versions"
        )
    return msg


def _result(reply: Reply) -> dict[str, Any]:
    return dict(reply.result or {})


def _result_as(reply: Reply, model: type[P]) -> P:
    try:
        return model.model_validate(reply.result or {})
    except ValidationError as exc:
        raise ApiProtocolError(
            f"reply {reply.id} is not a valid {model.__name__}: {exc.errors()[0]['msg']}"
        ) from None
