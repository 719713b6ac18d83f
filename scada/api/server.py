"""The local API server: a Unix socket in the runtime that consoles (gwtui, the CLI) attach to.

Newline-delimited JSON of :mod:`scada.protocol` models. Each connection is checked with
``SO_PEERCRED`` (our own uid, root, or an allowed uid / gid), then gets a :class:`Hello`, the
current snapshot as an ``EventFrame``, and the events it subscribes to (all by default); its
requests are answered in order by the :class:`~scada.api.backend.ApiBackend`. Sessions are
independent: a slow, broken or hostile console only ever ends its own session.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import os
import socket
import stat
import struct
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Final, Self

from scada.api.backend import ApiBackend, Peer
from scada.api.paths import check_socket_path
from scada.api.session import CLOSE_GRACE_S, Session, error_reply, frame
from scada.hub import DEFAULT_QUEUE
from scada.protocol import MAX_FRAME_BYTES, ErrorCode

log = logging.getLogger(__name__)

SOCKET_MODE: Final = 0o660
DIR_MODE: Final = 0o750
PROBE_TIMEOUT_S: Final = 1.0
_UCRED: Final = struct.Struct("3i")


class ApiServerError(RuntimeError):
    """The server cannot start where it was asked to."""


class SocketInUseError(ApiServerError):
    """A live server already answers on the socket path."""


def peer_credentials(sock: socket.socket) -> Peer:
    """pid, uid, gid and supplementary groups of the process at the other end of a connected
    Unix socket."""
    raw = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _UCRED.size)
    pid, uid, gid = _UCRED.unpack(raw)
    return Peer(pid=pid, uid=uid, gid=gid, groups=process_groups(pid))


def process_groups(pid: int, proc: Path = Path("/proc")) -> frozenset[int]:
    """The supplementary groups of process ``pid`` (empty when they cannot be read)."""
    try:
        text = (proc / str(pid) / "status").read_text(encoding="ascii", errors="replace")
    except OSError:
        return frozenset()
    for line in text.splitlines():
        if line.startswith("Groups:"):
            return frozenset(int(g) for g in line.split()[1:] if g.isdigit())
    return frozenset()


def peer_allowed(
    peer: Peer,
    *,
    own_uid: int,
    allowed_uids: frozenset[int] = frozenset(),
    allowed_gids: frozenset[int] = frozenset(),
) -> bool:
    """Our own uid, root, an allowed uid, or a member (primary or supplementary) of an
    allowed group may attach."""
    return (
        peer.uid in (own_uid, 0)
        or peer.uid in allowed_uids
        or peer.gid in allowed_gids
        or bool(peer.groups & allowed_gids)
    )


def _remove_stale(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


class ApiServer:
    """Serve ``backend`` on the Unix socket ``path``.

    Besides ``allowed_gids``, members of our own group may attach: the socket belongs to that
    group (mode 0660), so they are who its file permissions let in (console users join
    ``gwscada``). ``credentials`` reads the peer of a new connection (``SO_PEERCRED`` by
    default); tests pass a fake to play a foreign user. ``queue_size`` bounds each console's
    event queue and ``max_sessions`` the consoles attached at once (more are turned away with
    ``busy``).
    """

    def __init__(
        self,
        backend: ApiBackend,
        path: Path,
        *,
        allowed_uids: frozenset[int] | None = None,
        allowed_gids: frozenset[int] | None = None,
        queue_size: int = DEFAULT_QUEUE,
        max_sessions: int = 16,
        credentials: Callable[[socket.socket], Peer] = peer_credentials,
    ) -> None:
        self.path = Path(path)
        self._backend = backend
        self._allowed_uids = allowed_uids or frozenset()
        self._allowed_gids = (allowed_gids or frozenset()) | {os.getegid()}
        self._queue_size = queue_size
        self._max_sessions = max_sessions
        self._credentials = credentials
        self._own_uid = os.geteuid()
        self._server: asyncio.Server | None = None
        self._socket_id: tuple[int, int] | None = None
        self._closing = False
        self._sessions: set[Session] = set()
        self._handlers: set[asyncio.Task[None]] = set()
        self._waiters: list[asyncio.Future[None]] = []
        self._ids = itertools.count(1)

    @property
    def sessions(self) -> int:
        """Consoles attached now."""
        return len(self._sessions)

    @property
    def serving(self) -> bool:
        return self._server is not None and not self._closing

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    # ---------------------------------------------------------------- lifecycle

    async def start(self) -> None:
        """Bind the socket (mode 0660) and start accepting consoles.

        Raises :class:`SocketInUseError` if another server answers on the path, and
        :class:`ApiServerError` for a path that is unusable (too long, not a socket, a
        directory owned by someone else).
        """
        if self._server is not None:
            raise ApiServerError("server already started")
        try:
            check_socket_path(self.path)
        except ValueError as exc:
            raise ApiServerError(str(exc)) from None
        self._prepare_dir(self.path.parent)
        await self._clear_stale(self.path)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.bind(os.fspath(self.path))
            # Before listen(): nobody can connect yet, so the mode is right from the first accept.
            self.path.chmod(SOCKET_MODE)
            st = self.path.stat()
            self._socket_id = (st.st_dev, st.st_ino)
            self._server = await asyncio.start_unix_server(
                self._on_connect, sock=sock, limit=MAX_FRAME_BYTES
            )
        except BaseException:
            sock.close()
            self._unlink_socket()
            raise
        self._closing = False
        log.info("local API listening on %s", self.path)

    async def close(self) -> None:
        """Stop accepting, end every session, remove the socket file. Idempotent."""
        server = self._server
        if server is None:
            return
        self._closing = True
        server.close()
        for session in tuple(self._sessions):
            session.stop()
        handlers = set(self._handlers)
        if handlers:
            _, pending = await asyncio.wait(handlers, timeout=2 * CLOSE_GRACE_S + 1)
            for task in pending:  # last resort; sessions end by themselves within the grace
                log.error("console handler %s did not end; cancelling it", task.get_name())
                task.cancel()
        await server.wait_closed()
        self._unlink_socket()
        self._server = None
        log.info("local API on %s closed", self.path)

    async def wait_sessions(self, count: int) -> None:
        """Return once exactly ``count`` consoles are attached."""
        while len(self._sessions) != count:
            waiter = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            await waiter

    # ---------------------------------------------------------------- the socket file

    def _prepare_dir(self, directory: Path) -> None:
        if not directory.exists():
            directory.mkdir(parents=True, mode=DIR_MODE)
            directory.chmod(DIR_MODE)  # mkdir's mode is masked by the umask
            log.info("created socket directory %s (mode %o)", directory, DIR_MODE)
        if not directory.is_dir():
            raise ApiServerError(f"socket directory {directory} is not a directory")
        owner = directory.stat().st_uid
        if self._own_uid != 0 and owner not in (self._own_uid, 0):
            raise ApiServerError(
                f"socket directory {directory} belongs to uid {owner}, not to us"
                f" (uid {self._own_uid}) or root; refusing to serve from it"
            )

    async def _clear_stale(self, path: Path) -> None:
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            return
        if not stat.S_ISSOCK(st.st_mode):
            raise ApiServerError(f"{path} exists and is not a socket; refusing to replace it")
        try:
            async with asyncio.timeout(PROBE_TIMEOUT_S):
                _, writer = await asyncio.open_unix_connection(os.fspath(path))
        except (ConnectionRefusedError, FileNotFoundError):
            log.info("removing stale socket %s (nothing answers on it)", path)
            _remove_stale(path)
            return
        except PermissionError:
            raise ApiServerError(
                f"cannot probe {path}: permission denied (another user's SCADA?)"
            ) from None
        except (TimeoutError, OSError) as exc:
            raise SocketInUseError(
                f"another SCADA is already serving on {path} (it does not answer: {exc!r})"
            ) from None
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
        raise SocketInUseError(f"another SCADA is already serving on {path}")

    def _unlink_socket(self) -> None:
        """Remove the socket file if it is still the one we bound."""
        if self._socket_id is None:
            return
        try:
            st = self.path.stat()
            if (st.st_dev, st.st_ino) == self._socket_id:
                self.path.unlink()
        except FileNotFoundError:
            pass
        except OSError as exc:
            log.warning("could not remove socket %s: %s", self.path, exc)
        self._socket_id = None

    # ---------------------------------------------------------------- connections

    async def _on_connect(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        try:
            await self._admit(reader, writer)
        except Exception:  # never let one connection take the server down
            log.exception("console connection failed")
            writer.transport.abort()
        finally:
            self._handlers.discard(task)

    async def _admit(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            peer = self._credentials(writer.get_extra_info("socket"))
        except OSError as exc:
            log.warning("cannot read a console's credentials: %s", exc)
            writer.transport.abort()
            return
        if self._closing:
            writer.transport.abort()
            return
        allowed = peer_allowed(
            peer,
            own_uid=self._own_uid,
            allowed_uids=self._allowed_uids,
            allowed_gids=self._allowed_gids,
        )
        if not allowed:
            log.warning("refused console pid %d uid %d gid %d", peer.pid, peer.uid, peer.gid)
            await self._turn_away(
                writer,
                ErrorCode.REFUSED,
                f"uid {peer.uid} may not use this SCADA; ask the installer to add it to the"
                " SCADA's group",
            )
            return
        if len(self._sessions) >= self._max_sessions:
            log.warning(
                "turned away console pid %d uid %d: %d consoles attached",
                peer.pid,
                peer.uid,
                len(self._sessions),
            )
            await self._turn_away(
                writer,
                ErrorCode.BUSY,
                f"{self._max_sessions} consoles are attached already; try again later",
            )
            return
        name = f"console-{next(self._ids)}"
        session = Session(
            self._backend, reader, writer, peer=peer, name=name, queue_size=self._queue_size
        )
        self._sessions.add(session)
        self._notify()
        log.info("%s attached: pid %d uid %d gid %d", name, peer.pid, peer.uid, peer.gid)
        try:
            await session.run()
        finally:
            self._sessions.discard(session)
            self._notify()
            log.info("%s detached: pid %d uid %d: %s", name, peer.pid, peer.uid, session.end_reason)

    async def _turn_away(self, writer: asyncio.StreamWriter, code: str, message: str) -> None:
        writer.write(frame(error_reply(None, code, message)))
        writer.close()
        try:
            async with asyncio.timeout(CLOSE_GRACE_S):
                await writer.wait_closed()
        except TimeoutError:
            writer.transport.abort()
        except OSError:
            pass

    def _notify(self) -> None:
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)
