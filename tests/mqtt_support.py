"""A real mosquitto broker for tests, on a free loopback port, plus a test PKI and a raw client.

* :class:`Mosquitto` writes a config into a work dir and runs Debian's ``/usr/sbin/mosquitto -c``
  bound to 127.0.0.1 only, with ``max_queued_messages 100000`` (the default 1000 silently drops
  QoS 1 messages queued for a slow or absent subscriber) and ``persistence false``. Variants:
  ``users={...}`` (a password file, anonymous refused), ``pki=...`` (TLS on the listener) and
  ``require_certificate=True`` (clients must show a certificate signed by the test CA).
  :meth:`~Mosquitto.stop`, :meth:`~Mosquitto.kill`, :meth:`~Mosquitto.restart` (same port),
  :meth:`~Mosquitto.pause` / :meth:`~Mosquitto.resume` (SIGSTOP/SIGCONT) stage outages.
* :func:`make_pki` makes a CA, a server certificate for ``127.0.0.1``/``localhost`` and a client
  certificate, with the ``openssl`` CLI, else with the ``cryptography`` package.
* :class:`RawMqtt` is a bare paho client for injecting arbitrary topics and payloads and for
  watching ``gw/#`` the way ``mosquitto_sub -t 'gw/#' -v`` would.
* :func:`require_mosquitto` finds the broker, or fails the test with what to install (skips
  only when ``GW_SKIP_BROKER=1``).

Only the standard library and paho are imported here, so the module also works in a bare
interpreter.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import hashlib
import os
import pwd
import queue
import secrets
import shutil
import signal
import socket
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode

MOSQUITTO_PATHS = ("/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto")
SKIP_ENV = "GW_SKIP_BROKER"
START_TIMEOUT_S = 10.0
HOST = "127.0.0.1"


class BrokerUnavailableError(RuntimeError):
    """mosquitto is not installed (or could not start)."""


def find_mosquitto() -> str | None:
    for p in MOSQUITTO_PATHS:
        if os.access(p, os.X_OK):
            return p
    return shutil.which("mosquitto")


def require_mosquitto() -> str:
    """The broker's path; fails the calling test with a clear message when it is missing, or
    skips it when ``GW_SKIP_BROKER=1``."""
    import pytest  # here: the module is usable without pytest

    path = find_mosquitto()
    if path is None:
        if os.environ.get(SKIP_ENV) == "1":
            pytest.skip("mosquitto is not installed and GW_SKIP_BROKER=1")
        pytest.fail(
            "these tests need a real mosquitto broker at /usr/sbin/mosquitto: "
            "`sudo apt-get install mosquitto` (or `make deps`), "
            "or set GW_SKIP_BROKER=1 to skip them",
            pytrace=False,
        )
    return path


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


# ------------------------------------------------------------------------ PKI
@dataclass(frozen=True)
class Pki:
    """A test CA, a server certificate (127.0.0.1, localhost) and a client certificate."""

    dir: Path
    ca_cert: Path
    ca_key: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path


def make_pki(directory: Path) -> Pki:
    """Make the test PKI in ``directory`` with the openssl CLI, else with ``cryptography``."""
    directory.mkdir(parents=True, exist_ok=True)
    pki = Pki(
        directory,
        directory / "ca.crt",
        directory / "ca.key",
        directory / "server.crt",
        directory / "server.key",
        directory / "client.crt",
        directory / "client.key",
    )
    openssl = shutil.which("openssl")
    if openssl is not None:
        _pki_openssl(openssl, pki)
        return pki
    try:
        import cryptography  # type: ignore[import-not-found, unused-ignore]  # noqa: F401
    except ImportError:
        raise BrokerUnavailableError(
            "the TLS tests need the openssl CLI (apt-get install openssl) or the Python "
            "cryptography package"
        ) from None
    _pki_cryptography(pki)
    return pki


def _openssl(openssl: str, *args: str | Path) -> None:
    res = subprocess.run(
        [openssl, *map(str, args)], capture_output=True, text=True, check=False, timeout=30
    )
    if res.returncode != 0:
        raise BrokerUnavailableError(f"openssl {args[0]} failed: {res.stderr.strip()}")


def _pki_openssl(openssl: str, pki: Pki) -> None:
    d = pki.dir
    ec = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes")
    _openssl(
        openssl, "req", "-x509", *ec, "-keyout", pki.ca_key, "-out", pki.ca_cert, "-days", "2",
        "-subj", "/CN=GridWorks test CA",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign",
    )  # fmt: skip
    leaves = (
        ("server", pki.server_cert, pki.server_key, "/CN=localhost", "serverAuth",
         "subjectAltName=IP:127.0.0.1,DNS:localhost\n"),
        ("client", pki.client_cert, pki.client_key, "/CN=gw-test-client", "clientAuth", ""),
    )  # fmt: skip
    for serial, (name, cert, key, subj, usage, extra) in enumerate(leaves, start=2):
        csr, ext = d / f"{name}.csr", d / f"{name}.ext"
        ext.write_text(
            "basicConstraints=critical,CA:FALSE\n"
            "keyUsage=critical,digitalSignature,keyEncipherment\n"
            f"extendedKeyUsage={usage}\n"
            "subjectKeyIdentifier=hash\n"
            "authorityKeyIdentifier=keyid\n" + extra
        )
        _openssl(openssl, "req", "-new", *ec, "-keyout", key, "-out", csr, "-subj", subj)
        _openssl(
            openssl, "x509", "-req", "-in", csr, "-CA", pki.ca_cert, "-CAkey", pki.ca_key,
            "-set_serial", str(serial), "-days", "2", "-out", cert, "-extfile", ext,
        )  # fmt: skip


def _pki_cryptography(pki: Pki) -> None:  # pragma: no cover - used where openssl is missing
    import ipaddress

    from cryptography import x509  # type: ignore[import-not-found, unused-ignore]
    from cryptography.hazmat.primitives import (  # type: ignore[import-not-found, unused-ignore]
        hashes,
        serialization,
    )
    from cryptography.hazmat.primitives.asymmetric import (  # type: ignore[import-not-found, unused-ignore]
        ec,
    )
    from cryptography.x509.oid import (  # type: ignore[import-not-found, unused-ignore]
        ExtendedKeyUsageOID,
        NameOID,
    )

    now = dt.datetime.now(dt.UTC)

    def name(cn: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])

    def save(key: ec.EllipticCurvePrivateKey, cert: x509.Certificate, kp: Path, cp: Path) -> None:
        kp.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        cp.write_bytes(cert.public_bytes(serialization.Encoding.PEM))

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = name("GridWorks test CA")
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(1)
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    save(ca_key, ca, pki.ca_key, pki.ca_cert)
    leaves = (
        (pki.server_cert, pki.server_key, "localhost", ExtendedKeyUsageOID.SERVER_AUTH, True),
        (pki.client_cert, pki.client_key, "gw-test-client", ExtendedKeyUsageOID.CLIENT_AUTH, False),
    )
    for serial, (cert_path, key_path, cn, usage, server) in enumerate(leaves, start=2):
        key = ec.generate_private_key(ec.SECP256R1())
        builder = (
            x509.CertificateBuilder()
            .subject_name(name(cn))
            .issuer_name(ca_name)
            .public_key(key.public_key())
            .serial_number(serial)
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=2))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                critical=False,
            )
        )
        if server:
            builder = builder.add_extension(
                x509.SubjectAlternativeName(
                    [x509.IPAddress(ipaddress.ip_address(HOST)), x509.DNSName("localhost")]
                ),
                critical=False,
            )
        save(key, builder.sign(ca_key, hashes.SHA256()), key_path, cert_path)


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


# ------------------------------------------------------------------------ a raw client
@dataclass(frozen=True)
class RawMessage:
    topic: str
    payload: bytes
    retain: bool
    qos: int


class RawMqtt:
    """A bare synchronous paho client (its own network thread) for injecting and watching.

    Its callbacks are closures over plain objects (never over ``self`` or the client), so the
    client is freed, sockets closed, as soon as the helper goes.
    """

    def __init__(
        self,
        port: int,
        *,
        client_id: str = "",
        subscribe: str | None = None,
        **tls: Any,
    ) -> None:
        messages: queue.Queue[RawMessage] = queue.Queue()
        connected, subscribed = threading.Event(), threading.Event()
        self.messages = messages
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id)
        self.client.suppress_exceptions = True
        if tls:
            self.client.tls_set(**tls)

        def on_connect(c: mqtt.Client, _u: Any, _f: Any, rc: ReasonCode, _p: Any) -> None:
            if not rc.is_failure:
                if subscribe:
                    c.subscribe(subscribe, qos=1)
                connected.set()

        def on_subscribe(*_: Any) -> None:
            subscribed.set()

        def on_message(_c: mqtt.Client, _u: Any, m: mqtt.MQTTMessage) -> None:
            messages.put(RawMessage(m.topic, bytes(m.payload), bool(m.retain), m.qos))

        self.client.on_connect = on_connect
        self.client.on_subscribe = on_subscribe
        self.client.on_message = on_message
        self.client.connect(HOST, port, keepalive=30)
        self.client.loop_start()
        if not connected.wait(5) or (subscribe and not subscribed.wait(5)):
            self.close()
            raise TimeoutError("the raw client could not connect/subscribe")

    def publish(
        self, topic: str, payload: bytes | str, *, qos: int = 1, retain: bool = False
    ) -> None:
        info = self.client.publish(topic, payload, qos=qos, retain=retain)
        info.wait_for_publish(5)

    def take(self, n: int, timeout: float = 5.0) -> list[RawMessage]:
        """The next ``n`` messages (fewer if ``timeout`` passes first)."""
        out: list[RawMessage] = []
        deadline = time.monotonic() + timeout
        while len(out) < n:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            try:
                out.append(self.messages.get(timeout=left))
            except queue.Empty:
                break
        return out

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def __enter__(self) -> RawMqtt:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
