"""``make demo``: start the SCADA headless on a simulated house and attach the console to it.

The runtime runs as its own process (exactly as on a Pi), on a private socket in a temporary
folder, logging to ``demo.log`` there. The console is gwtui; the runtime is stopped when the
console exits. ``sim walkthrough --watch`` launches its run and the console the same way.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

START_TIMEOUT_S = 20.0
STOP_TIMEOUT_S = 10.0


def bin_path(name: str) -> str:
    """The command ``name`` of this environment (next to its Python), else the one on PATH."""
    local = Path(sys.executable).parent / name
    return str(local) if local.exists() else (shutil.which(name) or name)


def gwtui_command(sock: Path, operator: str | None = None) -> list[str]:
    """gwtui attached to ``sock``, as ``operator`` (default: the user running us)."""
    return [
        bin_path("gwtui"),
        "--socket",
        str(sock),
        "--operator",
        operator or os.environ.get("USER", "installer"),
    ]


def wait_for_socket(
    server: subprocess.Popen[bytes], sock: Path, log_path: Path, what: str
) -> str | None:
    """Wait until ``server`` (``what``, logging to ``log_path``) opens ``sock``; why not, if not."""
    deadline = time.monotonic() + START_TIMEOUT_S
    while not sock.exists():
        if server.poll() is not None:
            return f"{what} stopped at start (exit {server.returncode}):\n{log_path.read_text()}"
        if time.monotonic() > deadline:
            return f"{what} did not open {sock} within {START_TIMEOUT_S:.0f} s; see {log_path}"
        time.sleep(0.05)
    return None


class HungUpError(Exception):
    """The terminal went away (SIGHUP: the SSH session dropped, tmux killed) or we were told
    to stop (SIGTERM)."""


@contextlib.contextmanager
def hangup_stops_children() -> Iterator[None]:
    """Turn SIGHUP and SIGTERM into :class:`HungUpError` while the block runs.

    The SCADA we start runs in a session of its own (so the console's Ctrl-C does not reach
    it), which also means a hang-up does not: left alone, a dropped SSH session would kill us
    and leave it running, orphaned. Raising instead lets the caller's ``finally`` stop it, and
    :func:`subprocess.call` kills the console on the way out.
    """

    def hung_up(signum: int, _frame: object) -> None:
        raise HungUpError(signal.Signals(signum).name)

    previous = {sig: signal.signal(sig, hung_up) for sig in (signal.SIGHUP, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def stop(server: subprocess.Popen[bytes]) -> None:
    """SIGTERM ``server`` and wait for it (killing it if it does not end in time)."""
    server.terminate()
    try:
        server.wait(timeout=STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    workdir = Path(tempfile.mkdtemp(prefix="gwdemo-"))
    sock = workdir / "scada.sock"
    log_path = workdir / "demo.log"
    serve = [
        bin_path("scada"),
        "serve",
        "--sim",
        "--socket",
        str(sock),
        "--data-dir",
        str(workdir / "data"),
        *args,
    ]
    print(f"starting the SCADA on a simulated house (log: {log_path})", flush=True)
    with log_path.open("w") as log:
        server = subprocess.Popen(
            serve, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        with hangup_stops_children():
            problem = wait_for_socket(server, sock, log_path, "the SCADA")
            if problem is not None:
                print(problem, file=sys.stderr)
                return 1
            return subprocess.call(gwtui_command(sock))
    except KeyboardInterrupt:
        return 130
    except HungUpError as e:
        print(f"{e}: stopping the SCADA", file=sys.stderr)
        return 129
    finally:
        stop(server)
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
