"""Fixtures for the MQTT link tests: a real mosquitto per test (plain, TLS, client-cert, users).

Without mosquitto these tests fail with what to install, unless ``GW_SKIP_BROKER=1``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.mqtt_support import BrokerUnavailableError, Mosquitto, Pki, make_pki, require_mosquitto

USERS = {"scada": "s3cret-Pa55", "atn": "atn-Pa55"}


@pytest.fixture(scope="session")
def mosquitto_bin() -> str:
    return require_mosquitto()


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    try:
        return make_pki(tmp_path_factory.mktemp("pki"))
    except BrokerUnavailableError as e:
        pytest.fail(str(e), pytrace=False)


def _broker(
    binary: str,
    workdir: Path,
    *,
    users: dict[str, str] | None = None,
    pki: Pki | None = None,
    require_certificate: bool = False,
) -> Iterator[Mosquitto]:
    b = Mosquitto(
        workdir, binary=binary, users=users, pki=pki, require_certificate=require_certificate
    )
    try:
        yield b.start()
    finally:
        b.stop()


@pytest.fixture
def broker(mosquitto_bin: str, tmp_path: Path) -> Iterator[Mosquitto]:
    """A plain mosquitto on 127.0.0.1, anonymous allowed."""
    yield from _broker(mosquitto_bin, tmp_path / "broker")


@pytest.fixture
def auth_broker(mosquitto_bin: str, tmp_path: Path) -> Iterator[Mosquitto]:
    """Anonymous refused; users :data:`USERS`."""
    yield from _broker(mosquitto_bin, tmp_path / "broker", users=USERS)


@pytest.fixture
def tls_broker(mosquitto_bin: str, tmp_path: Path, pki: Pki) -> Iterator[Mosquitto]:
    """TLS with the test CA's server certificate."""
    yield from _broker(mosquitto_bin, tmp_path / "broker", pki=pki)


@pytest.fixture
def cert_broker(mosquitto_bin: str, tmp_path: Path, pki: Pki) -> Iterator[Mosquitto]:
    """TLS that also requires a client certificate signed by the test CA."""
    yield from _broker(mosquitto_bin, tmp_path / "broker", pki=pki, require_certificate=True)
