"""Where the local API socket lives.

The server binds :func:`default_socket_path` unless told otherwise; a console tries
:func:`socket_candidates` in order, so an installer's SSH session (which has its own
``XDG_RUNTIME_DIR``) still finds a system service's socket under ``/run/gwscada``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Final

ENV_VAR: Final = "SCADA_SOCKET"
SOCKET_NAME: Final = "scada.sock"
RUN_DIR: Final = Path("/run/gwscada")

MAX_SOCKET_PATH_BYTES: Final = 107
"""AF_UNIX ``sun_path`` holds 108 bytes on Linux, one of them the terminating NUL."""


def default_socket_path(
    *, env: Mapping[str, str] | None = None, uid: int | None = None, run_dir: Path = RUN_DIR
) -> Path:
    """The socket path the SCADA serves on, by the first rule that applies:

    1. ``$SCADA_SOCKET``, if set (and not empty);
    2. ``$XDG_RUNTIME_DIR/gwscada/scada.sock``, if ``XDG_RUNTIME_DIR`` is set (a user session);
    3. ``/run/gwscada/scada.sock``, when running as root, or when ``/run/gwscada`` exists and is
       writable by us (a system service, its directory made by systemd's ``RuntimeDirectory=``);
    4. ``/tmp/gwscada-<uid>/scada.sock`` otherwise.

    ``env``, ``uid`` and ``run_dir`` default to the process's own and exist for tests.
    """
    environ = os.environ if env is None else env
    explicit = environ.get(ENV_VAR)
    if explicit:
        return Path(explicit)
    xdg = environ.get("XDG_RUNTIME_DIR")
    if xdg:
        return Path(xdg) / "gwscada" / SOCKET_NAME
    me = os.geteuid() if uid is None else uid
    if me == 0 or (run_dir.is_dir() and os.access(run_dir, os.W_OK)):
        return run_dir / SOCKET_NAME
    return _tmp_path(me)


def socket_candidates(
    *, env: Mapping[str, str] | None = None, uid: int | None = None, run_dir: Path = RUN_DIR
) -> tuple[Path, ...]:
    """Where a console looks for the SCADA, in order: ``$SCADA_SOCKET`` alone if it is set,
    else the per-user runtime dir, the system dir and the ``/tmp`` fallback (each of rules 2-4
    of :func:`default_socket_path` that can apply, without duplicates)."""
    environ = os.environ if env is None else env
    explicit = environ.get(ENV_VAR)
    if explicit:
        return (Path(explicit),)
    found: list[Path] = []
    xdg = environ.get("XDG_RUNTIME_DIR")
    if xdg:
        found.append(Path(xdg) / "gwscada" / SOCKET_NAME)
    found.append(run_dir / SOCKET_NAME)
    found.append(_tmp_path(os.geteuid() if uid is None else uid))
    return tuple(dict.fromkeys(found))


def check_socket_path(path: Path) -> None:
    """Raise ``ValueError`` if ``path`` is too long for an AF_UNIX address."""
    size = len(os.fsencode(path))
    if size > MAX_SOCKET_PATH_BYTES:
        raise ValueError(
            f"socket path {path} is {size} bytes long; AF_UNIX allows {MAX_SOCKET_PATH_BYTES}"
            f" (set ${ENV_VAR} to a shorter path)"
        )


def _tmp_path(uid: int) -> Path:
    return Path("/tmp") / f"gwscada-{uid}" / SOCKET_NAME  # noqa: S108 -- owner checked on use
