"""Fault that must lose nothing: 28 simulated days (and two hours) outside RemoteControl.

Statuses go into the store as the runtime's forwarder puts them (a 5-minute status, compaction
every simulated hour); then the tiers must hold 24 h of statuses, 5-minute aggregates back to
7 days and hourly ones back to 28, the two oldest hours dropped and counted. When
RemoteControl begins, the real forwarder uploads it all over a real mosquitto to an acking
peer: tier 1 first, then the aggregates, oldest first, and the store ends empty.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import pytest

from scada.actors.forwarder import Forwarder
from scada.clock import SystemClock
from scada.link import MqttLink
from scada.protocol import Ack, Status, WireMessage
from scada.protocol.readings import AggregateReport
from scada.store import Store
from tests.mqtt_support import Mosquitto
from tests.store.store_support import T0, ManualClock, small_status
from tests.uplink.uplink_support import AckingPeer, settings

pytestmark = [pytest.mark.broker, pytest.mark.slow]

SCADA, ATN = "test.house.scada", "test.house"
SLOTS = 28 * 288 + 24


async def test_28_days_outside_remote_then_all_goes_up(broker: Mosquitto, tmp_path: Path) -> None:
    clock = ManualClock(at=T0)
    store = Store.open(tmp_path / "outbox.sqlite", clock, durable=False)
    last_day: list[str] = []
    for n in range(SLOTS):
        s = small_status(T0 + timedelta(seconds=300 * n))
        clock.at = s.slot_start + timedelta(seconds=300)
        clock.mono += 300
        store.put(s)
        if n >= SLOTS - 288:
            last_day.append(s.id)
        if n % 12 == 11:
            while not store.compact().done:
                pass
    d = store.details()
    rows = {tier: sum(t.rows for t in d.tiers if t.tier == tier) for tier in (1, 2, 3)}
    assert rows.get(1) == 288, rows
    assert rows.get(2) == 6 * 288, rows
    assert rows.get(3) == 21 * 24, rows

    peer_link = MqttLink(settings(broker.url), ATN, SCADA, SystemClock())
    peer = AckingPeer(peer_link)
    link = MqttLink(settings(broker.url), SCADA, ATN, SystemClock())
    remote = False
    fwd = Forwarder(store, link, clock, may_send=lambda: remote)
    link.add_state_listener(lambda *_: fwd.link_changed())

    async def acks(msg: WireMessage) -> None:
        if isinstance(msg, Ack):
            for message_id in msg.message_ids:
                fwd.ack(message_id)

    tasks = [
        asyncio.create_task(peer_link.run(peer)),
        asyncio.create_task(link.run(acks)),
        asyncio.create_task(fwd.run()),
    ]
    try:
        await peer.wait_up()
        await asyncio.sleep(1.5)  # up, but LocalControl: nothing goes
        assert peer.total == 0
        remote = True
        fwd.link_changed()
        expected = 288 + 6 * 288 + 21 * 24
        async with asyncio.timeout(60):
            while store.stats().pending_uplink > 0 or peer.total < expected:  # noqa: ASYNC110
                await asyncio.sleep(0.05)
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        store.close()
    statuses = [m for m in peer.received if isinstance(m, Status)]
    assert [s.id for s in statuses] == last_day
    kinds = [isinstance(m, Status) for m in peer.received]
    assert kinds == sorted(kinds, reverse=True), "an aggregate went before a status"
    aggs = [m for m in peer.received if isinstance(m, AggregateReport)]
    assert len(aggs) == expected - 288
    assert fwd.acked == expected
