"""Starting a simulated SCADA for the console when none is running.

``scada serve --sim --socket PATH`` runs as a child process in its own session (so Ctrl-C in
the console does not hit it), logging to a file in a private temporary folder; the console
stops it when it quits. Nothing here imports Textual.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import IO, Final

START_TIMEOUT_S: Final = 20.0
STOP_TIMEOUT_S: Final = 10.0


class LaunchError(Exception):
    """The simulated SCADA could not be started; the message carries its log's tail."""


def scada_command() -> str:
    """The ``scada`` executable next to this Python (a virtualenv), else on ``PATH``."""
    local = Path(sys.executable).parent / "scada"
    if local.exists():
        return str(local)
    return shutil.which("scada") or "scada"


class SimLauncher:
    """One simulated SCADA started on behalf of the console."""

    def __init__(self, socket: Path, *, argv_prefix: list[str] | None = None) -> None:
        self.socket = socket
        self.workdir: Path | None = None
        self.process: subprocess.Popen[bytes] | None = None
        self._prefix = argv_prefix or [scada_command()]
        self._log: IO[bytes] | None = None

    @property
    def log_path(self) -> Path | None:
        return None if self.workdir is None else self.workdir / "scada.log"

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def command(self, workdir: Path) -> list[str]:
        return [
            *self._prefix,
            "serve",
            "--sim",
            "--socket",
            str(self.socket),
            "--data-dir",
            str(workdir / "data"),
        ]

    def start(self) -> None:
        if self.running:
            return
        self.workdir = Path(tempfile.mkdtemp(prefix="gwtui-sim-"))
        self.socket.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        log_path = self.workdir / "scada.log"
        self._log = log_path.open("wb")
        try:
            self.process = subprocess.Popen(
                self.command(self.workdir),
                stdin=subprocess.DEVNULL,
                stdout=self._log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        except OSError as exc:
            raise LaunchError(f"cannot run {self._prefix[0]}: {exc}") from None

    async def wait_ready(self, timeout_s: float = START_TIMEOUT_S) -> None:
        """Return once the socket exists; raise :class:`LaunchError` if the child dies first."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while not self.socket.exists():
            process = self.process
            if process is None or process.poll() is not None:
                code = None if process is None else process.returncode
                raise LaunchError(f"the simulated SCADA stopped (exit {code}): {self.log_tail()}")
            if loop.time() > deadline:
                raise LaunchError(f"no socket at {self.socket} after {timeout_s:g} s")
            await asyncio.sleep(0.05)

    def log_tail(self, lines: int = 5) -> str:
        path = self.log_path
        if path is None or not path.exists():
            return "(no log)"
        text = path.read_text(errors="replace").strip().splitlines()
        return " | ".join(text[-lines:]) or "(empty log)"

    def stop(self) -> None:
        process = self.process
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self._log is not None:
            self._log.close()
            self._log = None
        self.process = None
