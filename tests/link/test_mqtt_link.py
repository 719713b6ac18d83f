"""The MQTT link against a real mosquitto: round trips, topics, QoS, presence, PUBACKs."""

from __future__ import annotations

import asyncio
import json
import shutil
import time

import pytest

from scada.link import MqttLink
from scada.protocol import (
    Ack,
    LinkState,
    OnlineState,
    OnlineStatus,
    PowerReading,
    Status,
    decode,
    encode,
)
from tests.link.link_support import (
    ATN,
    SCADA,
    Inbox,
    ack,
    atn_link,
    eventually,
    power,
    running,
    scada_link,
    state_of,
    status,
)
from tests.mqtt_support import Mosquitto, RawMqtt

pytestmark = pytest.mark.broker


async def test_status_up_and_ack_down_between_a_scada_and_an_atn(broker: Mosquitto) -> None:
    scada, atn = scada_link(broker.url), atn_link(broker.url)
    async with running(atn) as atn_in, running(scada) as scada_in:
        sent = [status(i) for i in range(5)]
        assert all(scada.send(s) for s in sent)
        got = await atn_in.count(Status, 5)
        assert got == sent  # equal, in order
        assert atn.send(ack(sent[0].id))
        (back,) = await scada_in.count(Ack, 1)
        assert back.message_ids == (sent[0].id,)
        assert scada.broker_state is LinkState.UP
        assert scada.detail is None
    stats = scada.stats()
    assert stats.published >= 6  # five statuses and the online presence
    assert stats.received >= 1
    assert stats.malformed == {}
    assert stats.connects == 1
    assert state_of(scada) is LinkState.DOWN  # closed when run() ended
    assert scada.detail == "closed"


async def test_power_goes_at_qos0_and_statuses_at_qos1(broker: Mosquitto) -> None:
    scada = scada_link(broker.url)
    with RawMqtt(broker.port, subscribe=f"gw/{SCADA}/to/{ATN}/#") as watch:
        async with running(scada):
            watch.take(1)  # the presence
            assert scada.send(status(1))
            assert scada.send(power(1))
            got = await asyncio.to_thread(watch.take, 2)
    by_type = {decode(m.payload).type: m for m in got}
    assert by_type["status"].qos == 1
    assert by_type["power"].qos == 0
    assert not any(m.retain for m in got)


async def test_topics_look_as_mosquitto_sub_shows_them(broker: Mosquitto) -> None:
    sub = shutil.which("mosquitto_sub")
    if sub is None:  # Debian ships it apart from the broker
        pytest.skip("mosquitto_sub is not installed (apt-get install mosquitto-clients)")
    # One line per message: "<topic> <payload>", as an operator would watch the traffic.
    proc = await asyncio.create_subprocess_exec(
        *[
            sub,
            "-h",
            "127.0.0.1",
            "-p",
            str(broker.port),
            "-t",
            "gw/#",
            "-v",
            "-C",
            "4",
            "-W",
            "10",
        ],
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        await asyncio.sleep(0.3)  # let it subscribe
        scada, atn = scada_link(broker.url), atn_link(broker.url)
        async with running(atn) as atn_in, running(scada):
            s = status(7)
            assert scada.send(s)
            await atn_in.count(Status, 1)
            assert atn.send(ack(s.id))
            async with asyncio.timeout(10):
                out, _ = await proc.communicate()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    lines = out.decode().splitlines()
    topics = [line.split(" ", 1)[0] for line in lines]
    assert set(topics) == {
        f"gw/{ATN}/to/{SCADA}/online",
        f"gw/{SCADA}/to/{ATN}/online",
        f"gw/{SCADA}/to/{ATN}/status",
        f"gw/{ATN}/to/{SCADA}/ack",
    }
    status_line = next(line for line in lines if line.startswith(f"gw/{SCADA}/to/{ATN}/status "))
    payload = json.loads(status_line.split(" ", 1)[1])
    assert payload["type"] == "status"
    assert payload["id"] == s.id


async def test_a_late_atn_finds_the_retained_online_presence_with_the_boot_id(
    broker: Mosquitto,
) -> None:
    scada = scada_link(broker.url)
    async with running(scada):
        await asyncio.sleep(0.2)  # the presence is published
        atn = atn_link(broker.url)
        async with running(atn) as atn_in:
            (presence,) = await atn_in.count(OnlineStatus, 1)
    assert presence.state is OnlineState.ONLINE
    assert presence.boot_id == scada.boot_id
    assert atn.peer_presence == presence


async def test_a_clean_close_leaves_offline_retained(broker: Mosquitto) -> None:
    scada = scada_link(broker.url)
    async with running(scada):
        pass
    with RawMqtt(broker.port, subscribe=f"gw/{SCADA}/to/{ATN}/online") as watch:
        (msg,) = await asyncio.to_thread(watch.take, 1)
    assert msg.retain
    presence = decode(msg.payload)
    assert isinstance(presence, OnlineStatus)
    assert presence.state is OnlineState.OFFLINE
    assert presence.boot_id == scada.boot_id


async def test_nothing_but_presence_is_retained(broker: Mosquitto) -> None:
    scada, atn = scada_link(broker.url), atn_link(broker.url)
    async with running(atn), running(scada) as scada_in:
        assert atn.send(ack(status(1).id))
        await scada_in.count(Ack, 1)
    with RawMqtt(broker.port, subscribe="gw/#") as watch:
        retained = await asyncio.to_thread(watch.take, 10, 1.0)
    assert {decode(m.payload).type for m in retained} == {"online"}
    assert all(m.retain for m in retained)


async def test_publish_reports_the_brokers_ack(broker: Mosquitto) -> None:
    scada = scada_link(broker.url)
    async with running(scada):
        pubs = [scada.publish(status(1)), scada.publish(power(2))]
        assert all(p is not None for p in pubs)
        async with asyncio.timeout(5):
            acked = [await p.broker_ack for p in pubs if p is not None]
    assert acked == [True, True]
    first, second = pubs
    assert first is not None
    assert second is not None
    assert first.qos == 1
    assert second.qos == 0
    assert first.message_id is not None
    assert scada.stats().broker_acked >= 2


async def test_a_burst_arrives_whole_and_in_order_with_every_brokers_ack(
    broker: Mosquitto,
) -> None:
    # paho's thread hands over whatever piled up at once: nothing may be lost, doubled or
    # reordered on the way, and every PUBACK still resolves its own publication.
    scada, atn = scada_link(broker.url), atn_link(broker.url)
    async with running(atn) as atn_in, running(scada):
        sent = [status(i) for i in range(300)]
        pubs = [scada.publish(s) for s in sent]
        assert await atn_in.count(Status, len(sent), within=20) == sent
        async with asyncio.timeout(20):
            acked = [await p.broker_ack for p in pubs if p is not None]
    assert acked == [True] * len(sent)


async def test_an_already_encoded_message_goes_as_it_is(broker: Mosquitto) -> None:
    scada, atn = scada_link(broker.url), atn_link(broker.url)
    async with running(atn) as atn_in, running(scada):
        s = status(4)
        pub = scada.publish_encoded("status", encode(s), message_id=s.id)
        assert pub is not None
        assert pub.qos == 1
        assert pub.message_id == s.id
        assert pub.topic == f"gw/{SCADA}/to/{ATN}/status"
        assert await atn_in.count(Status, 1) == [s]
        assert await asyncio.wait_for(pub.broker_ack, 5)
        assert scada.publish_encoded("Not A Type", b"{}") is None
    assert scada.stats().dropped == {"encode": 1}


async def test_send_is_refused_while_the_broker_is_not_up(broker: Mosquitto) -> None:
    scada = scada_link(broker.url)
    assert scada.broker_state is LinkState.NOT_CONFIGURED
    assert not scada.send(status(1))
    assert scada.publish(status(2)) is None
    assert scada.stats().dropped == {"not_connected": 2}


async def test_state_listeners_hear_every_change_on_the_loop(broker: Mosquitto) -> None:
    scada = scada_link(broker.url)
    seen: list[LinkState] = []
    scada.add_state_listener(lambda state, _detail: seen.append(state))

    def broken(_state: LinkState, _detail: str | None) -> None:
        raise RuntimeError("a listener bug")

    scada.add_state_listener(broken)  # must not stop the others or the link
    async with running(scada):
        pass
    assert seen == [LinkState.CONNECTING, LinkState.UP, LinkState.DOWN]


async def test_a_failing_handler_does_not_stop_the_link(
    broker: Mosquitto, caplog: pytest.LogCaptureFixture
) -> None:
    scada, atn = scada_link(broker.url), atn_link(broker.url)
    got: list[str] = []

    async def handler(msg: object) -> None:
        if isinstance(msg, Status) and msg.seq == 1:
            raise ValueError("boom")
        if isinstance(msg, Status):
            got.append(msg.id)

    task = asyncio.create_task(atn.run(handler))
    try:
        async with running(scada):
            await asyncio.wait_for(atn.wait_for_state(LinkState.UP), 5)
            second = status(2)
            assert scada.send(status(1))
            assert scada.send(second)
            await eventually(lambda: bool(got))
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert got == [second.id]
    assert atn.stats().handler_errors == 1
    assert "the uplink handler failed on status" in caplog.text


async def test_the_inbound_queue_is_bounded_and_counts_what_it_drops(broker: Mosquitto) -> None:
    scada = scada_link(broker.url)
    atn = MqttLink(scada.settings, ATN, SCADA, scada.clock, inbound_limit=5)
    async with running(scada):
        atn.start()  # connected, but nobody takes messages out yet
        try:
            await asyncio.wait_for(atn.wait_for_state(LinkState.UP), 5)
            for i in range(10):
                assert scada.send(status(i))
            # ten statuses and the presence arrive; five fit
            await eventually(lambda: atn.stats().dropped.get("inbound_full", 0) == 6)
            inbox = Inbox()
            task = asyncio.create_task(atn.run(inbox))
            await inbox.until(lambda ms: len(ms) == 5)
            await asyncio.sleep(0.1)
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        finally:
            await atn.close()
    assert len(inbox.messages) == 5
    assert atn.stats().dropped == {"inbound_full": 6}


async def test_mqtt_5_works_too(broker: Mosquitto) -> None:
    scada, atn = scada_link(broker.url, protocol="5"), atn_link(broker.url, protocol="5")
    async with running(atn) as atn_in, running(scada):
        assert scada.send(power(3))
        (p,) = await atn_in.count(PowerReading, 1)
    assert p.seq == 3


async def test_start_returns_at_once_even_with_no_broker() -> None:
    link = scada_link("mqtt://127.0.0.1:9")  # discard port: nothing listens
    t0 = time.monotonic()
    link.start()
    try:
        assert time.monotonic() - t0 < 0.2
        assert link.broker_state is LinkState.CONNECTING
    finally:
        await link.close()
