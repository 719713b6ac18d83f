"""Start ``scada serve`` as a real subprocess on a short socket path, for end-to-end tests."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

BIN = Path(sys.executable).parent
START_TIMEOUT_S = 20.0


@dataclass
class Served:
    proc: subprocess.Popen[str]
    socket: Path
    log: Path

    def cli(self, *args: str, timeout: float = 20.0) -> subprocess.CompletedProcess[str]:
        """Run ``scada ARGS --socket <this server>``."""
        return subprocess.run(
            [str(BIN / "scada"), *args, "--socket", str(self.socket)],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )


@contextmanager
def scada_serve(*args: str) -> Iterator[Served]:
    """``scada serve --sim ARGS`` in a fresh temp dir; stopped with SIGTERM on exit."""
    workdir = Path(tempfile.mkdtemp(prefix="gwt"))
    sock = workdir / "s.sock"
    log = workdir / "serve.log"
    cmd = [
        str(BIN / "scada"),
        "serve",
        "--sim",
        "--socket",
        str(sock),
        "--data-dir",
        str(workdir / "d"),
        *args,
    ]
    with log.open("w") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not sock.exists():
            if proc.poll() is not None:
                raise AssertionError(f"scada serve exited {proc.returncode}:\n{log.read_text()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"no socket after {START_TIMEOUT_S} s:\n{log.read_text()}")
            time.sleep(0.02)
        yield Served(proc, sock, log)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        shutil.rmtree(workdir, ignore_errors=True)
