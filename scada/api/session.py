"""One console attached to the local API: a reader task answering its requests in order and a
writer task pushing its subscribed events, over one Unix-socket connection.

The runtime never waits for a console. Events reach a session through its bounded hub
:class:`~scada.hub.Subscription`; when the console reads too slowly the socket's buffers fill,
the writer stops draining the subscription, the hub drops it, and the session ends (with a
final ``busy`` error reply when that can be written without queueing behind unread data).
"""

from __future__ import annotations

import asyncio
import enum
import logging
from typing import Final

from pydantic import ValidationError

from scada.api.backend import ApiBackend, Peer
from scada.hub import Event, Subscription
from scada.protocol import (
    MAX_FRAME_BYTES,
    ApiError,
    ApiRequest,
    ErrorCode,
    EventFrame,
    EventKind,
    ProtocolError,
    Reply,
    Subscribe,
    WireMessage,
    decode,
    encode,
)

log = logging.getLogger(__name__)

DROP_POLL_S: Final = 0.05
"""While a console's socket is full, how often the writer checks whether the hub dropped it
(a :class:`Subscription` has no wake-up for that; this poll runs only while blocked)."""

CLOSE_GRACE_S: Final = 1.0
"""How long a closing session waits for its last bytes to leave before aborting."""

_MAX_ERROR_TEXT: Final = 4000
_MAX_ID: Final = 2**53


class EndReason(enum.StrEnum):
    """Why a session ended (logged at disconnect)."""

    CLIENT_CLOSED = "console closed the connection"
    OVERSIZED = "frame larger than 1 MiB"
    SLOW = "console too slow: event queue overflowed"
    EVENTS_ENDED = "event feed closed by the runtime"
    SERVER_CLOSING = "server closing"
    CONNECTION_ERROR = "connection error"
    INTERNAL = "internal error"


class _SlowConsoleError(Exception):
    """The hub dropped this session's subscription."""


def error_reply(req_id: int | None, code: str, message: str) -> Reply:
    """A failed :class:`Reply`; an ``id`` that a Reply cannot carry becomes ``None``."""
    if req_id is not None and not 0 <= req_id <= _MAX_ID:
        req_id = None
    if len(message) > _MAX_ERROR_TEXT:
        message = message[: _MAX_ERROR_TEXT - 3] + "..."
    return Reply(id=req_id, ok=False, error=ApiError(code=code, message=message))


def _render_event(event: Event) -> bytes:
    # The payload was validated when it was built; constructing the frame without validating
    # it again is what keeps a reading's trip to three consoles within a few milliseconds.
    out = EventFrame.model_construct(event=event.kind, payload=event.payload, at=event.at)  # type: ignore[arg-type]
    return frame(out)


def frame(msg: WireMessage) -> bytes:
    """``msg`` as one newline-terminated frame."""
    return encode(msg) + b"\n"


class Session:
    """One attached console. :meth:`run` returns when the session is over, never raising for
    anything the console or the backend did; :meth:`stop` asks it to end."""

    def __init__(
        self,
        backend: ApiBackend,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        *,
        peer: Peer,
        name: str,
        queue_size: int,
    ) -> None:
        self.name = name
        self.peer = peer
        self.end_reason = EndReason.CLIENT_CLOSED
        self._backend = backend
        self._reader = reader
        self._writer = writer
        self._queue_size = queue_size
        self._sub: Subscription | None = None
        self._stop = asyncio.Event()
        self._frames_in = 0

    def stop(self) -> None:
        """End the session soon (the server is closing)."""
        self._stop.set()

    async def run(self) -> None:
        abort = False
        try:
            # Subscribe before taking the snapshot (no await in between): no event falls in a gap.
            self._sub = self._backend.subscribe(self.name, self._queue_size, None)
            hello = self._backend.hello()
            snap = self._backend.snapshot()
            self._writer.write(frame(hello))
            self._writer.write(
                frame(EventFrame(event=EventKind.SNAPSHOT, payload=snap, at=snap.taken_at))
            )
            abort = await self._serve()
        except Exception:
            log.exception("session %s failed", self.name)
            self.end_reason = EndReason.INTERNAL
            abort = True
        finally:
            if self._sub is not None:
                self._sub.close()
            await self._close_transport(abort=abort)

    async def _serve(self) -> bool:
        """Run reader and writer until one ends; True if the connection should be aborted."""
        stop = asyncio.create_task(self._stop.wait(), name=f"{self.name}.stop")
        tasks = {
            asyncio.create_task(self._read_loop(), name=f"{self.name}.reader"),
            asyncio.create_task(self._write_loop(), name=f"{self.name}.writer"),
            stop,
        }
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        abort = stop in done
        if done == {stop}:
            self.end_reason = EndReason.SERVER_CLOSING
        for task in done:
            if task.cancelled():
                continue
            exc = task.exception()
            if isinstance(exc, _SlowConsoleError):
                self._slow_console()
                abort = True
            elif isinstance(exc, ConnectionError):
                self.end_reason = EndReason.CONNECTION_ERROR
                abort = True
            elif exc is not None:
                log.error("session %s: %s failed", self.name, task.get_name(), exc_info=exc)
                self.end_reason = EndReason.INTERNAL
                abort = True
        return abort

    # ---------------------------------------------------------------- reading

    async def _read_loop(self) -> None:
        while True:
            try:
                line = await self._reader.readline()
            except ValueError:  # the StreamReader's limit: a line over MAX_FRAME_BYTES
                self.end_reason = EndReason.OVERSIZED
                self._writer.write(
                    frame(error_reply(None, ErrorCode.BAD_FRAME, "frame larger than 1 MiB"))
                )
                return
            if not line:
                return
            body = line.rstrip(b"\r\n")
            if body.strip():
                reply = await self._answer(body)
                self._send_reply(reply)
                await self._flush()
            if not line.endswith(b"\n"):  # a last unterminated frame before EOF
                return

    async def _answer(self, body: bytes) -> Reply:
        self._frames_in += 1
        try:
            msg = decode(body, where=f"frame {self._frames_in}")
        except ProtocolError as exc:
            return error_reply(exc.frame_id, ErrorCode.BAD_FRAME, str(exc))
        if not isinstance(msg, ApiRequest):
            return error_reply(
                None, ErrorCode.UNSUPPORTED, f"a {msg.type!r} message is not a request"
            )
        if isinstance(msg, Subscribe):
            return self._resubscribe(msg)
        try:
            reply = await self._backend.handle(msg, self.peer)
        except Exception:
            log.exception("session %s: backend failed on %s id %d", self.name, msg.type, msg.id)
            return error_reply(
                msg.id, ErrorCode.INTERNAL, f"internal error handling {msg.type}; see the SCADA log"
            )
        if reply.id != msg.id:
            log.warning("backend answered %s id %d with id %s", msg.type, msg.id, reply.id)
            reply = reply.model_copy(update={"id": msg.id})
        return reply

    def _resubscribe(self, req: Subscribe) -> Reply:
        old = self._sub
        assert old is not None
        kinds = frozenset(req.topics)
        # Close first, then subscribe: both synchronous, so no event is lost or doubled; the
        # writer finishes the old queue, sees it closed and moves on to the new one.
        old.close()
        self._sub = self._backend.subscribe(self.name, self._queue_size, kinds)
        return Reply(id=req.id, ok=True, result={"topics": sorted(kinds)})

    def _send_reply(self, reply: Reply) -> None:
        try:
            data = frame(reply)
        except ProtocolError:
            log.exception("session %s: cannot encode reply %s", self.name, reply.id)
            data = frame(error_reply(reply.id, ErrorCode.INTERNAL, "reply could not be encoded"))
        if len(data) > MAX_FRAME_BYTES:
            log.error(
                "session %s: reply %s of %d bytes is too large", self.name, reply.id, len(data)
            )
            data = frame(
                error_reply(
                    reply.id,
                    ErrorCode.INTERNAL,
                    f"reply of {len(data)} bytes exceeds the 1 MiB frame limit; ask for less",
                )
            )
        self._writer.write(data)

    # ---------------------------------------------------------------- writing

    async def _write_loop(self) -> None:
        while True:
            sub = self._sub
            assert sub is not None
            if sub.dropped:
                raise _SlowConsoleError
            event = await sub.get()
            if event is None:
                if sub is not self._sub:  # replaced by req.subscribe
                    continue
                if sub.dropped:
                    raise _SlowConsoleError
                self.end_reason = EndReason.EVENTS_ENDED
                return
            if sub.dropped:
                raise _SlowConsoleError
            try:
                data = event.wire(_render_event)
            except (ValidationError, ProtocolError):
                log.exception("session %s: cannot send %s event", self.name, event.kind)
                continue
            if len(data) > MAX_FRAME_BYTES:
                log.error(
                    "session %s: %s event of %d bytes dropped", self.name, event.kind, len(data)
                )
                continue
            self._writer.write(data)
            await self._flush()

    async def _flush(self) -> None:
        """Wait until the socket takes our bytes; raise :class:`_SlowConsoleError` if the hub
        drops the subscription meanwhile."""
        if self._writer.transport.get_write_buffer_size() == 0:  # not paused: drain won't wait
            await self._writer.drain()
            return
        drain = asyncio.ensure_future(self._writer.drain())
        try:
            while True:
                done, _ = await asyncio.wait({drain}, timeout=DROP_POLL_S)
                if done:
                    drain.result()
                    return
                sub = self._sub
                if sub is not None and sub.dropped:
                    raise _SlowConsoleError
        finally:
            if not drain.done():
                drain.cancel()
                await asyncio.gather(drain, return_exceptions=True)

    def _slow_console(self) -> None:
        self.end_reason = EndReason.SLOW
        if self._writer.transport.get_write_buffer_size() == 0:
            # Nothing queued: the kernel may still take one more line without us waiting.
            self._writer.write(
                frame(
                    error_reply(None, ErrorCode.BUSY, "console too slow: events dropped; reconnect")
                )
            )

    async def _close_transport(self, *, abort: bool) -> None:
        transport = self._writer.transport
        if abort and transport.get_write_buffer_size() > 0:
            transport.abort()
        else:
            self._writer.close()
        try:
            async with asyncio.timeout(CLOSE_GRACE_S):
                await self._writer.wait_closed()
        except TimeoutError:
            transport.abort()
        except OSError:
            pass
