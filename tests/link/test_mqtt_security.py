"""TLS (CA, client certificate) and username/password against a real mosquitto."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from scada.protocol import LinkState, Status
from tests.link.conftest import USERS
from tests.link.link_support import (
    atn_link,
    running,
    scada_link,
    status,
    wait_state,
)
from tests.mqtt_support import Mosquitto, Pki

pytestmark = pytest.mark.broker


async def test_tls_with_the_test_ca(tls_broker: Mosquitto, pki: Pki) -> None:
    assert tls_broker.url.startswith("mqtts://127.0.0.1:")
    scada = scada_link(tls_broker.url, ca_file=pki.ca_cert)
    atn = atn_link(tls_broker.url, ca_file=pki.ca_cert)
    async with running(atn) as atn_in, running(scada):
        s = status(1)
        assert scada.send(s)
        assert await atn_in.count(Status, 1) == [s]


async def test_tls_without_the_right_ca_stays_down_and_says_why(
    tls_broker: Mosquitto, tmp_path: Path
) -> None:
    scada = scada_link(tls_broker.url)  # the system's CAs do not know the test CA
    scada.start()
    try:
        await wait_state(scada, LinkState.DOWN, 5)
        assert scada.detail is not None
        assert "TLS" in scada.detail
        assert "certificate verify failed" in scada.detail
    finally:
        await scada.close()


async def test_tls_insecure_still_verifies_the_chain(tls_broker: Mosquitto) -> None:
    scada = scada_link(tls_broker.url, tls_insecure=True)  # host name unchecked, chain checked
    scada.start()
    try:
        await wait_state(scada, LinkState.DOWN, 5)
        assert scada.detail is not None
        assert "certificate verify failed" in scada.detail
    finally:
        await scada.close()


async def test_a_client_certificate_when_the_broker_requires_one(
    cert_broker: Mosquitto, pki: Pki
) -> None:
    with_cert = scada_link(
        cert_broker.url, ca_file=pki.ca_cert, cert_file=pki.client_cert, key_file=pki.client_key
    )
    async with running(with_cert):
        assert with_cert.broker_state is LinkState.UP
    without = atn_link(cert_broker.url, ca_file=pki.ca_cert)
    without.start()
    try:
        await wait_state(without, LinkState.DOWN, 5)
        await asyncio.sleep(0.5)
        assert without.broker_state is LinkState.DOWN
        assert without.stats().connects == 0
    finally:
        await without.close()


async def test_an_unreadable_ca_file_leaves_the_link_down_without_raising(
    tls_broker: Mosquitto, tmp_path: Path
) -> None:
    scada = scada_link(tls_broker.url, ca_file=tmp_path / "missing.pem")
    assert scada.start()
    try:
        assert scada.broker_state is LinkState.DOWN
        assert scada.detail is not None
        assert scada.detail.startswith("cannot set up the MQTT client:")
        assert not scada.send(status(1))
    finally:
        await scada.close()


async def test_username_and_password(auth_broker: Mosquitto, tmp_path: Path) -> None:
    scada = scada_link(auth_broker.url, username="scada", password=USERS["scada"])
    secret = tmp_path / "atn.password"
    secret.write_text(USERS["atn"] + "\n")
    atn = atn_link(auth_broker.url, username="atn", password_file=secret)
    async with running(atn) as atn_in, running(scada):
        s = status(3)
        assert scada.send(s)
        assert await atn_in.count(Status, 1) == [s]


async def test_a_wrong_password_is_refused_and_the_link_stays_down_saying_why(
    auth_broker: Mosquitto, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = "not-the-Pa55word"
    scada = scada_link(auth_broker.url, username="scada", password=wrong)
    scada.start()
    try:
        await wait_state(scada, LinkState.DOWN, 5)
        await asyncio.sleep(1.5)  # it keeps trying, with back-off, and keeps failing
        assert scada.broker_state is LinkState.DOWN
        assert scada.detail is not None
        assert scada.detail.startswith("the broker refused the connection: Not authorized")
        assert scada.stats().connects == 0
        assert scada.stats().connect_failures >= 1
    finally:
        await scada.close()
    assert wrong not in caplog.text
    assert wrong not in repr(scada.settings)
    anonymous = atn_link(auth_broker.url)
    anonymous.start()
    try:
        await wait_state(anonymous, LinkState.DOWN, 5)
        assert anonymous.detail is not None
        assert "Not authorized" in anonymous.detail
    finally:
        await anonymous.close()
