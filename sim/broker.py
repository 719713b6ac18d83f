"""A real mosquitto broker process on a free loopback port, for the tests, the benchmarks and
the soak (``sim soak``).

:class:`Mosquitto` writes a config into a work dir and runs Debian's ``/usr/sbin/mosquitto -c``
bound to 127.0.0.1 only, with ``max_queued_messages 100000`` (the default 1000 silently drops
QoS 1 messages queued for a slow or absent subscriber) and ``persistence false``. Variants:
``users={...}`` (a password file, anonymous refused), ``pki=...`` (TLS on the listener, with the
certificates a :class:`Pki` names) and ``require_certificate=True`` (clients must show a
certificate signed by its CA). :meth:`~Mosquitto.stop`, :meth:`~Mosquitto.kill`,
:meth:`~Mosquitto.restart` (same port), :meth:`~Mosquitto.pause` / :meth:`~Mosquitto.resume`
(SIGSTOP/SIGCONT) stage outages.

Only the standard library is imported here.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

MOSQUITTO_PATHS = ("/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto")
START_TIMEOUT_S = 10.0
HOST = "127.0.0.1"


class BrokerUnavailableError(RuntimeError):
    """mosquitto is not installed (or could not start)."""


def find_mosquitto() -> str | None:
    for p in MOSQUITTO_PATHS:
        if os.access(p, os.X_OK):
            return p
    return shutil.which("mosquitto")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        port: int = s.getsockname()[1]
        return port


def _listening(port: int) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=0.2):
            return True
    except OSError:
        return False


# ------------------------------------------------------------------------ passwords
def mosquitto_password_hash(password: str, *, iterations: int = 101) -> str:
    """mosquitto 2's ``$7$`` (PBKDF2-SHA512) password-file hash, as ``mosquitto_passwd`` makes."""
    salt = secrets.token_bytes(12)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, iterations)
    return f"$7${iterations}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def write_password_file(path: Path, users: dict[str, str]) -> Path:
    path.write_text("".join(f"{u}:{mosquitto_password_hash(p)}\n" for u, p in users.items()))
    path.chmod(0o600)
    return path


# ------------------------------------------------------------------------ TLS files
@dataclass(frozen=True)
class Pki:
    """A CA, a server certificate (127.0.0.1, localhost) and a client certificate, as files."""

    dir: Path
    ca_cert: Path
    ca_key: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path


# ------------------------------------------------------------------------ the broker
class Mosquitto:
    """One mosquitto process on 127.0.0.1; see the module docstring.

    Use as a context manager or call :meth:`start` / :meth:`stop`. The port is chosen at the
    first start and kept across :meth:`restart`.
    """

    def __init__(
        self,
        workdir: Path,
        *,
        binary: str | None = None,
        port: int | None = None,
        users: dict[str, str] | None = None,
        pki: Pki | None = None,
        require_certificate: bool = False,
        max_queued_messages: int = 100_000,
    ) -> None:
        found = binary or find_mosquitto()
        if found is None:
            raise BrokerUnavailableError("mosquitto is not installed (apt-get install mosquitto)")
        if require_certificate and pki is None:
            raise ValueError("require_certificate needs a pki")
        self.binary = found
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        self._port = port
        self.users = users
        self.pki = pki
        self.require_certificate = require_certificate
        self.max_queued_messages = max_queued_messages
        self.conf = workdir / "mosquitto.conf"
        self.log = workdir / "mosquitto.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self._fixed_port = port is not None

    # ---------------------------------------------------------------- address
    @property
    def port(self) -> int:
        assert self._port is not None, "start the broker first"
        return self._port

    @property
    def url(self) -> str:
        """``mqtt://127.0.0.1:PORT`` (``mqtts://`` with TLS)."""
        return f"{'mqtts' if self.pki else 'mqtt'}://{HOST}:{self.port}"

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    # ---------------------------------------------------------------- lifecycle
    def start(self) -> Mosquitto:
        if self.running:
            return self
        attempts = 1 if self._fixed_port else 5
        for attempt in range(attempts):
            if self._port is None or (attempt > 0 and not self._fixed_port):
                self._port = free_port()
            if self._launch():
                return self
        raise BrokerUnavailableError(
            f"mosquitto did not start on {HOST}:{self._port}:\n{self.log_text()[-2000:]}"
        )

    def _launch(self) -> bool:
        self.conf.write_text(self._config())
        with contextlib.suppress(FileNotFoundError):
            self.log.unlink()
        with (self.workdir / "mosquitto.stderr").open("ab") as stderr:
            self.proc = subprocess.Popen(
                [self.binary, "-c", str(self.conf)],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=stderr,
            )
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self.proc = None
                return False  # e.g. the port was taken in the meantime
            if _listening(self.port):
                return True
            time.sleep(0.01)
        self.kill()
        return False

    def _config(self) -> str:
        lines = [
            f"listener {self.port} {HOST}",
            f"allow_anonymous {'false' if self.users else 'true'}",
            "persistence false",
            f"max_queued_messages {self.max_queued_messages}",
            "set_tcp_nodelay true",
            f"log_dest file {self.log}",
            "log_type error",
            "log_type warning",
            "log_type notice",
            "log_type information",
            "log_timestamp_format %H:%M:%S",
            "connection_messages true",
        ]
        if os.geteuid() == 0:
            # As root, mosquitto would switch to the "mosquitto" user, who cannot read our files.
            lines.append(f"user {pwd.getpwuid(os.geteuid()).pw_name}")
        if self.users:
            lines.append(
                f"password_file {write_password_file(self.workdir / 'passwd', self.users)}"
            )
        if self.pki is not None:
            lines += [
                f"cafile {self.pki.ca_cert}",
                f"certfile {self.pki.server_cert}",
                f"keyfile {self.pki.server_key}",
            ]
            if self.require_certificate:
                lines.append("require_certificate true")
        return "\n".join(lines) + "\n"

    def stop(self, timeout: float = 5.0) -> None:
        """SIGTERM (clean shutdown), SIGKILL if it lingers."""
        proc = self.proc
        if proc is None:
            return
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGCONT)  # in case it was paused
            proc.terminate()
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.proc = None

    def kill(self) -> None:
        """SIGKILL: the broker dies without a word to anyone."""
        proc = self.proc
        if proc is None:
            return
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        self.proc = None

    def restart(self, *, hard: bool = False) -> None:
        """Stop (``hard``: kill) and start again on the same port."""
        self.kill() if hard else self.stop()
        self._fixed_port = True
        if not self._launch():
            raise BrokerUnavailableError(
                f"mosquitto did not restart on {HOST}:{self.port}:\n{self.log_text()[-2000:]}"
            )

    def pause(self) -> None:
        """SIGSTOP: connections stay open, nothing is answered."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGCONT)

    def __enter__(self) -> Mosquitto:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
