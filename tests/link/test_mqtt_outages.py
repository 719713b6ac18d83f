"""Outages with the real broker: none at boot, restarts, a frozen broker, a client killed -9."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import textwrap
import time
from pathlib import Path

import pytest

from scada.link.mqtt_types import Backoff
from scada.protocol import LinkState, OnlineState, OnlineStatus, Status, decode_as
from tests.link.link_support import (
    ATN,
    SCADA,
    atn_link,
    eventually,
    running,
    scada_link,
    status,
    wait_state,
)
from tests.mqtt_support import Mosquitto, RawMqtt, free_port

pytestmark = pytest.mark.broker

ROOT = Path(__file__).resolve().parents[2]


async def test_no_broker_at_boot_then_it_appears(mosquitto_bin: str, tmp_path: Path) -> None:
    port = free_port()
    scada = scada_link(f"mqtt://127.0.0.1:{port}")
    scada.start()
    try:
        await wait_state(scada, LinkState.DOWN, 3)
        assert scada.detail is not None
        assert "connection refused" in scada.detail
        assert "retrying in" in scada.detail
        assert not scada.send(status(1))
        await asyncio.sleep(2.5)
        # No busy loop: a handful of attempts, each at least a second apart.
        assert 1 <= scada.stats().connect_failures <= 3
        broker = Mosquitto(tmp_path / "late", binary=mosquitto_bin, port=port)
        with broker:
            await wait_state(scada, LinkState.UP, 10)
            assert scada.detail is None
    finally:
        await scada.close()


async def test_broker_restart_reconnects_and_restores_the_subscription(
    broker: Mosquitto,
) -> None:
    scada, atn = scada_link(broker.url), atn_link(broker.url)
    states: list[LinkState] = []
    scada.add_state_listener(lambda s, _d: states.append(s))
    async with running(atn) as atn_in, running(scada) as _:
        await asyncio.sleep(0.2)
        broker.restart(hard=True)
        await wait_state(scada, LinkState.DOWN, 5)
        assert scada.detail is not None
        assert "connection lost" in scada.detail
        await wait_state(scada, LinkState.UP, 10)
        await wait_state(atn, LinkState.UP, 10)
        after = status(2)
        assert scada.send(after)
        got = await atn_in.count(Status, 1, within=5)
        presences = atn_in.of(OnlineStatus)
    assert got == [after]
    up, down = LinkState.UP, LinkState.DOWN
    assert states == [LinkState.CONNECTING, up, down, up, down]  # the last: closed
    assert scada.stats().connects == 2
    assert scada.stats().disconnects == 1
    # online again after the restart (the broker forgot the retained one), same boot id
    assert [p.state for p in presences][-1] is OnlineState.ONLINE
    assert {p.boot_id for p in presences} == {scada.boot_id}


async def test_qos1_messages_sent_while_connected_survive_a_broker_crash(
    broker: Mosquitto,
) -> None:
    """Published into a frozen broker (so never acknowledged), then the broker is killed and
    restarted: the client sends them again after reconnecting, and they all arrive, in order.
    The ATN end reconnects first (shorter back-off), so it is subscribed again in time."""
    scada = scada_link(broker.url, reconnect_min_s=3, reconnect_max_s=3)
    atn = atn_link(broker.url, reconnect_min_s=1, reconnect_max_s=1)
    async with running(atn) as atn_in, running(scada):
        broker.pause()
        sent = [status(i) for i in range(20)]
        pubs = [scada.publish(s) for s in sent]
        assert all(p is not None for p in pubs)
        await asyncio.sleep(0.2)
        assert not any(p.broker_ack.done() for p in pubs if p is not None)
        broker.restart(hard=True)
        got = await atn_in.count(Status, 20, within=15)
        async with asyncio.timeout(5):
            acked = [await p.broker_ack for p in pubs if p is not None]
    assert got == sent
    assert all(acked)


async def test_keepalive_notices_a_frozen_broker(broker: Mosquitto) -> None:
    scada = scada_link(broker.url, keepalive_s=1)
    async with running(scada):
        broker.pause()
        t0 = time.monotonic()
        try:
            await wait_state(scada, LinkState.DOWN, 6)
        finally:
            broker.resume()
        assert time.monotonic() - t0 < 4  # about 2 keepalives, not ~17 minutes (defect 8)
        await wait_state(scada, LinkState.UP, 10)


CLIENT = textwrap.dedent(
    """
    import asyncio, sys
    from scada.clock import SystemClock
    from scada.link import MqttLink, MqttSettings
    from scada.protocol import LinkState

    async def main() -> None:
        link = MqttLink(MqttSettings(url=sys.argv[1]), sys.argv[2], sys.argv[3], SystemClock())
        link.start()
        await link.wait_for_state(LinkState.UP)
        print(link.boot_id, flush=True)
        await asyncio.sleep(3600)

    asyncio.run(main())
    """
)


async def test_a_client_killed_with_sigkill_leaves_its_last_will(broker: Mosquitto) -> None:
    with RawMqtt(broker.port, subscribe=f"gw/{SCADA}/to/{ATN}/online") as watch:
        proc = await asyncio.create_subprocess_exec(
            *[sys.executable, "-c", CLIENT, broker.url, SCADA, ATN],
            stdout=asyncio.subprocess.PIPE,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        try:
            assert proc.stdout is not None
            async with asyncio.timeout(20):
                boot_id = (await proc.stdout.readline()).decode().strip()
            (online,) = await asyncio.to_thread(watch.take, 1)
            proc.send_signal(signal.SIGKILL)
            await proc.wait()
            (offline,) = await asyncio.to_thread(watch.take, 1)
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
    first, last = decode_as(online.payload, OnlineStatus), decode_as(offline.payload, OnlineStatus)
    assert first.state is OnlineState.ONLINE
    assert last.state is OnlineState.OFFLINE  # the will
    assert offline.retain is False  # delivered live; the broker also keeps it retained:
    assert first.boot_id == last.boot_id == boot_id
    with RawMqtt(broker.port, subscribe=f"gw/{SCADA}/to/{ATN}/online") as late:
        (kept,) = await asyncio.to_thread(late.take, 1)
    assert kept.retain
    assert decode_as(kept.payload, OnlineStatus).state is OnlineState.OFFLINE


async def test_a_fresh_client_replaces_one_whose_thread_stopped(broker: Mosquitto) -> None:
    scada, atn = scada_link(broker.url), atn_link(broker.url)
    async with running(atn) as atn_in, running(scada):
        sess = scada._session
        assert sess is not None
        assert sess.client is not None
        await asyncio.to_thread(sess.client.loop_stop)  # the network thread is gone
        scada._watchdog(sess)  # what the loop does every few seconds
        assert scada.stats().thread_restarts == 1
        await eventually(lambda: scada._session is not sess and scada.broker_state is LinkState.UP)
        s = status(5)
        assert scada.send(s)
        assert await atn_in.count(Status, 1) == [s]


def test_backoff_doubles_with_jitter_up_to_its_cap() -> None:
    import random

    b = Backoff(1, 60, random.Random(7))
    delays = [b.next() for _ in range(12)]
    assert delays[0] == 1
    assert all(1 <= d <= 60 for d in delays)
    assert all(30 <= d <= 60 for d in delays[7:])  # capped: in [max/2, max]
    assert len(set(delays[7:])) > 1  # jittered, not lock-step
    b.reset()
    assert b.next() == 1
    with pytest.raises(ValueError, match="1 <= min_s <= max_s"):
        Backoff(0, 5)
