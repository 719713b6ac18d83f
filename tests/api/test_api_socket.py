"""The socket file and who may use it: modes, stale and live sockets, peer credentials, and
where the socket lives by default."""

from __future__ import annotations

import os
import socket
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from scada.api.backend import Peer
from scada.api.client import ApiClient, ApiConnectError
from scada.api.paths import check_socket_path, default_socket_path, socket_candidates
from scada.api.server import (
    ApiServer,
    ApiServerError,
    SocketInUseError,
    peer_allowed,
    peer_credentials,
)
from scada.protocol import ErrorCode, Snapshot
from tests.api.api_support import FakeBackend, RawConsole, serving, short_dir

FOREIGN = Peer(pid=1234, uid=4242, gid=4343)


def foreign(sock: socket.socket) -> Peer:
    return FOREIGN


@pytest.fixture
def tmp_dir() -> Iterator[Path]:
    with short_dir() as d:
        yield d


def leave_stale_socket(path: Path) -> None:
    """A socket file nobody listens on, as a killed SCADA leaves behind."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(os.fspath(path))
    sock.close()


async def test_socket_and_directory_modes_and_cleanup(tmp_dir: Path) -> None:
    path = tmp_dir / "new" / "scada.sock"
    async with serving(path) as (server, _):
        assert stat.S_ISSOCK(path.stat().st_mode)
        assert mode_of(path) == 0o660
        assert mode_of(path.parent) == 0o750
        assert server.sessions == 0
    assert not path.exists()
    assert not server.serving
    await server.close()  # idempotent


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def set_mode(path: Path, mode: int) -> None:
    path.chmod(mode)


async def test_existing_directory_keeps_its_mode(tmp_dir: Path) -> None:
    set_mode(tmp_dir, 0o700)
    async with serving(tmp_dir / "scada.sock"):
        assert mode_of(tmp_dir) == 0o700


async def test_stale_socket_is_replaced(tmp_dir: Path) -> None:
    path = tmp_dir / "scada.sock"
    leave_stale_socket(path)
    with pytest.raises(ApiConnectError, match="nothing is listening"):
        await ApiClient.connect(path)
    async with serving(path), await ApiClient.connect(path) as client:
        assert isinstance(await client.snapshot(), Snapshot)


async def test_live_socket_is_not_stolen(tmp_dir: Path) -> None:
    path = tmp_dir / "scada.sock"
    async with serving(path):
        second = ApiServer(FakeBackend(), path)
        with pytest.raises(SocketInUseError, match=f"another SCADA is already serving on {path}"):
            await second.start()
        # The first server still owns and serves the socket.
        async with await ApiClient.connect(path) as client:
            assert isinstance(await client.snapshot(), Snapshot)
        await second.close()  # never started: a no-op
    assert not path.exists()


async def test_a_file_that_is_not_a_socket_is_left_alone(tmp_dir: Path) -> None:
    path = tmp_dir / "scada.sock"
    path.write_text("precious")
    with pytest.raises(ApiServerError, match="not a socket"):
        await ApiServer(FakeBackend(), path).start()
    assert path.read_text() == "precious"


async def test_too_long_path_is_a_clear_error(tmp_dir: Path) -> None:
    path = tmp_dir / ("d" * 120) / "scada.sock"
    with pytest.raises(ApiServerError, match="AF_UNIX allows 107"):
        await ApiServer(FakeBackend(), path).start()
    with pytest.raises(ApiConnectError, match="AF_UNIX allows 107"):
        await ApiClient.connect(path)


async def test_foreign_peer_is_refused(tmp_dir: Path) -> None:
    path = tmp_dir / "scada.sock"
    async with serving(path, credentials=foreign) as (server, backend):
        with pytest.raises(ApiConnectError, match="uid 4242 may not use this SCADA"):
            await ApiClient.connect(path)
        raw = await RawConsole.open(path)
        reply = await raw.reply()
        assert reply.error is not None
        assert (reply.id, reply.error.code) == (None, ErrorCode.REFUSED)
        assert await raw.at_eof()
        await raw.close()
        assert server.sessions == 0
        assert backend.hub.subscribers == 0


@pytest.mark.parametrize(
    "options",
    [{"allowed_uids": frozenset({4242})}, {"allowed_gids": frozenset({4343})}],
    ids=["uid", "gid"],
)
async def test_allowed_uid_or_gid_is_admitted(tmp_dir: Path, options: dict[str, Any]) -> None:
    path = tmp_dir / "scada.sock"
    async with (
        serving(path, credentials=foreign, **options) as (_, backend),
        await ApiClient.connect(path) as client,
    ):
        await client.snapshot()
    assert backend.peers == [FOREIGN]


def test_peer_allowed_rules() -> None:
    def allowed(uid: int, gid: int = 100) -> bool:
        return peer_allowed(
            Peer(pid=1, uid=uid, gid=gid),
            own_uid=1000,
            allowed_uids=frozenset({1001}),
            allowed_gids=frozenset({50}),
        )

    assert allowed(1000)
    assert allowed(0)
    assert allowed(1001)
    assert allowed(2000, gid=50)
    assert not allowed(2000)
    assert not peer_allowed(Peer(pid=1, uid=5, gid=5), own_uid=1000)


def test_peer_credentials_of_a_socketpair() -> None:
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    with a, b:
        assert peer_credentials(a) == Peer(pid=os.getpid(), uid=os.geteuid(), gid=os.getegid())


def test_default_socket_path_order(tmp_dir: Path) -> None:
    missing = tmp_dir / "missing"
    explicit = {"SCADA_SOCKET": "/srv/s.sock", "XDG_RUNTIME_DIR": "/run/user/7"}
    assert default_socket_path(env=explicit, uid=7, run_dir=missing) == Path("/srv/s.sock")
    xdg = {"XDG_RUNTIME_DIR": "/run/user/7"}
    want_xdg = Path("/run/user/7/gwscada/scada.sock")
    assert default_socket_path(env=xdg, uid=7, run_dir=missing) == want_xdg
    assert default_socket_path(env={}, uid=0, run_dir=missing) == missing / "scada.sock"
    assert default_socket_path(env={}, uid=7, run_dir=tmp_dir) == tmp_dir / "scada.sock"
    want_tmp = Path("/tmp/gwscada-7/scada.sock")
    assert default_socket_path(env={}, uid=7, run_dir=missing) == want_tmp
    assert default_socket_path(env={"SCADA_SOCKET": ""}, uid=7, run_dir=missing) == want_tmp


def test_console_looks_in_every_place_a_server_may_be(tmp_dir: Path) -> None:
    assert socket_candidates(env={"SCADA_SOCKET": "/x.sock"}, uid=7) == (Path("/x.sock"),)
    assert socket_candidates(env={"XDG_RUNTIME_DIR": "/run/user/7"}, uid=7, run_dir=tmp_dir) == (
        Path("/run/user/7/gwscada/scada.sock"),
        tmp_dir / "scada.sock",
        Path("/tmp/gwscada-7/scada.sock"),
    )


def test_check_socket_path() -> None:
    check_socket_path(Path("/run/gwscada/scada.sock"))
    check_socket_path(Path("/" + "a" * 106))
    with pytest.raises(ValueError, match="SCADA_SOCKET"):
        check_socket_path(Path("/" + "a" * 107))


async def test_connect_finds_the_socket_through_the_environment(
    tmp_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_dir / "scada.sock"
    monkeypatch.setenv("SCADA_SOCKET", os.fspath(path))
    assert default_socket_path() == path
    async with serving(path), await ApiClient.connect() as client:
        assert client.path == path


def chown(path: Path, uid: int) -> None:
    os.chown(path, uid, -1)


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to hand a directory to another uid")
async def test_directory_of_another_user_is_refused(tmp_dir: Path) -> None:
    theirs = tmp_dir / "theirs"
    theirs.mkdir()
    chown(theirs, 4343)
    server = ApiServer(FakeBackend(), theirs / "scada.sock")
    server._own_uid = 4242  # play an unprivileged SCADA
    with pytest.raises(ApiServerError, match="belongs to uid 4343"):
        await server.start()
    chown(theirs, 0)  # root's directories are trusted
    async with server:
        assert (theirs / "scada.sock").exists()
