"""A real mosquitto broker for tests (:mod:`sim.broker`, re-exported), plus a test PKI and a
raw client.

* :class:`Mosquitto` (from :mod:`sim.broker`): a broker bound to 127.0.0.1 on a free port, with
  outages to stage (stop, kill, restart on the same port, pause / resume).
* :func:`make_pki` makes a CA, a server certificate for ``127.0.0.1``/``localhost`` and a client
  certificate, with the ``openssl`` CLI, else with the ``cryptography`` package.
* :class:`RawMqtt` is a bare paho client for injecting arbitrary topics and payloads and for
  watching ``gw/#`` the way ``mosquitto_sub -t 'gw/#' -v`` would.
* :func:`require_mosquitto` finds the broker, or fails the test with what to install (skips
  only when ``GW_SKIP_BROKER=1``).

Only the standard library, paho and :mod:`sim.broker` are imported here, so the module also
works in a bare interpreter.
"""

from __future__ import annotations

import datetime as dt
import os
import queue
import shutil
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode

from sim.broker import (
    HOST,
    BrokerUnavailableError,
    Mosquitto,
    Pki,
    find_mosquitto,
    free_port,
)

__all__ = [
    "HOST",
    "BrokerUnavailableError",
    "Mosquitto",
    "Pki",
    "RawMessage",
    "RawMqtt",
    "find_mosquitto",
    "free_port",
    "make_pki",
    "require_mosquitto",
]

SKIP_ENV = "GW_SKIP_BROKER"


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
