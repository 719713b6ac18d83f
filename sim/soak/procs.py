"""The soak's processes: ``scada serve`` (killed and started again), the ATN, and what the
orchestrator reads of them from outside — RSS from ``/proc``, the outbox from the store file.

Both run as real subprocesses of the orchestrator, logging to files in the soak's work dir,
on the soak's shared simulated time (:mod:`sim.soak.simtime`).
"""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from scada.store import store_path
from sim.soak.simtime import SimTime

BIN = Path(sys.executable).parent
STOP_TIMEOUT_S = 15.0
RECONNECT_S = 1
SERVE_ENV = {
    "SCADA_MQTT_RECONNECT_MIN_S": str(RECONNECT_S),
    "SCADA_MQTT_RECONNECT_MAX_S": str(RECONNECT_S),
}
"""The MQTT link's reconnect delay is real seconds (paho's thread) and doubles when a link
drops within 30 real seconds of connecting. At 600x a broker restart every five simulated hours
is one every 30 real seconds, which a real SCADA would rightly back off from up to a minute,
that is ten simulated hours: the soak keeps the delay at its floor, a second."""


@dataclass
class Life:
    """One run of ``scada serve``: its pid, when it started and ended (CLOCK_MONOTONIC, s),
    and its RSS samples ``(t, kB)``."""

    pid: int
    started: float
    ended: float | None = None
    killed: bool = False
    rss_kb: list[tuple[float, int]] = field(default_factory=list)


def rss_kb(pid: int) -> int | None:
    """VmRSS of ``pid`` in kB, from ``/proc/PID/status`` (None when it is gone)."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return None


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        proc.send_signal(signal.SIGCONT)  # a stopped process cannot act on SIGTERM
        proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


class Serve:
    """``scada serve --sim`` of the house file ``layout`` on ``broker``, with the soak's time
    and fault plan."""

    def __init__(
        self, layout: Path, broker: str, time_: SimTime, *, workdir: Path, socket: Path, plan: Path
    ) -> None:
        self.data_dir = workdir / "data"
        self.log = workdir / "serve.log"
        self.socket = socket
        self.cmd = [
            str(BIN / "scada"),
            "serve",
            "--sim",
            "--layout",
            str(layout),
            "--data-dir",
            str(self.data_dir),
            "--socket",
            str(socket),
            "--broker",
            broker,
            "--log-level",
            "info",
            "--sim-faults",
            str(plan),
            *time_.args(),
        ]
        self.proc: subprocess.Popen[bytes] | None = None
        self.lives: list[Life] = []

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None and self.proc.poll() is None else None

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                self.cmd,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=os.environ | SERVE_ENV,
            )
        self.lives.append(Life(self.proc.pid, time.monotonic()))

    def sample_rss(self) -> int | None:
        pid = self.pid
        kb = rss_kb(pid) if pid is not None else None
        if kb is not None:
            self.lives[-1].rss_kb.append((time.monotonic(), kb))
        return kb

    def kill(self) -> None:
        """SIGKILL: no shutdown of any kind."""
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait()
        self.lives[-1].ended = time.monotonic()
        self.lives[-1].killed = True

    def stop(self) -> int | None:
        """SIGTERM (SIGKILL after a while); the exit status."""
        if self.proc is None:
            return None
        _stop(self.proc)
        if self.lives[-1].ended is None:
            self.lives[-1].ended = time.monotonic()
        return self.proc.returncode

    def crashed(self) -> bool:
        """Whether the current life ended by itself."""
        return self.proc is not None and self.proc.poll() is not None and not self.lives[-1].killed

    def log_counts(self, marks: tuple[str, ...]) -> dict[str, int]:
        """How many lines of the log (all lives) hold each of ``marks``."""
        counts = dict.fromkeys(marks, 0)
        if self.log.exists():
            with self.log.open(errors="replace") as f:
                for line in f:
                    for mark in marks:
                        counts[mark] += mark in line
        return counts

    def outbox(self) -> tuple[set[str], int] | None:
        """The ids in the outbox on disk now, and how many messages are quarantined (None if
        the store cannot be read at this instant)."""
        path = store_path(self.data_dir)
        if not path.exists():
            return set(), 0
        try:
            db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5.0)
            try:
                with db:  # one read transaction: both answers from the same instant
                    ids = {str(r[0]) for r in db.execute("SELECT id FROM outbox")}
                    quarantined = int(db.execute("SELECT count(*) FROM quarantine").fetchone()[0])
            finally:
                db.close()
        except sqlite3.Error:
            return None
        return ids, quarantined


class Atn:
    """The soak's ATN process (:mod:`sim.soak.atn_proc`)."""

    def __init__(self, layout: Path, broker: str, time_: SimTime, workdir: Path) -> None:
        self.journal = workdir / "atn.jsonl"
        self.log = workdir / "atn.log"
        self.cmd = [
            sys.executable,
            "-m",
            "sim.soak.atn_proc",
            "--layout",
            str(layout),
            "--broker",
            broker,
            "--journal",
            str(self.journal),
            *time_.args(),
        ]
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                self.cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT
            )

    def pause(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGCONT)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self) -> None:
        if self.proc is not None:
            _stop(self.proc)
