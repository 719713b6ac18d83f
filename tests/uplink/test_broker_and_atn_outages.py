"""Faults that must lose nothing, with the real broker: the broker killed for two simulated
hours, and the ATN silent while the broker stays up.

The runtime (dw1, memory drivers, a store on disk) and the simulated ATN run in this process on
one virtual-time loop at :data:`SPEED`, each with its own MQTT connection to a real mosquitto.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

import scada.runtime
from scada.clock import run_virtual
from scada.link import MqttLink
from scada.protocol import Status, decode
from tests.mqtt_support import Mosquitto
from tests.uplink.uplink_support import SPEED, House, dw1, house_over_mqtt, until

pytestmark = [pytest.mark.broker, pytest.mark.slow]

HOUR = 3600.0


@pytest.fixture(autouse=True)
def _a_day_of_statuses(monkeypatch: pytest.MonkeyPatch) -> None:
    # What the runtime produced is read from its ring of recent statuses: keep a day of them.
    monkeypatch.setattr(scada.runtime, "RECENT_STATUSES", 288)


def produced(house: House) -> list[Status]:
    return list(house.runtime.statuses)


def watch_sends_and_acks(house: House) -> tuple[list[tuple[str, float]], dict[str, float]]:
    """Every message the forwarder sends (id, loop time) and when the SCADA took its ack."""
    fwd, link = house.runtime.forwarder, house.runtime.uplink
    assert fwd is not None
    assert isinstance(link, MqttLink)
    loop = asyncio.get_running_loop()
    sends: list[tuple[str, float]] = []
    acked_at: dict[str, float] = {}
    send_encoded, ack = link.send_encoded, fwd.ack

    def sending(message_type: str, payload: bytes) -> bool:
        ok = send_encoded(message_type, payload)
        if ok:
            msg = decode(payload)
            if isinstance(msg, Status):
                sends.append((msg.id, loop.time()))
        return ok

    def acking(message_id: str) -> None:
        acked_at.setdefault(message_id, loop.time())
        ack(message_id)

    link.send_encoded = sending  # type: ignore[method-assign]
    fwd.ack = acking  # type: ignore[method-assign]
    return sends, acked_at


def all_arrived(house: House) -> bool:
    got = {s.id for s in house.received_statuses()}
    return all(s.id in got for s in produced(house))


def check_arrived_in_order(house: House, statuses: list[Status]) -> None:
    got = house.received_statuses()
    firsts: dict[str, Status] = {}
    for s in got:
        firsts.setdefault(s.id, s)
    missing = [s.slot_start for s in statuses if s.id not in firsts]
    assert not missing, f"{len(missing)} statuses never arrived: {missing[:5]}"
    order = [s.slot_start for s in firsts.values()]
    assert order == sorted(order), "statuses did not arrive oldest first"


def test_broker_killed_for_two_hours(broker: Mosquitto, tmp_path: Path) -> None:
    async def main() -> None:
        async with house_over_mqtt(broker.url, tmp_path, dw1()) as house:
            sends, acked_at = watch_sends_and_acks(house)
            await until(lambda: house.mode == "remote", within_s=600, what="RemoteControl")
            await until(lambda: len(produced(house)) >= 2, within_s=900, what="two statuses")
            await until(lambda: house.pending() == 0, within_s=300, what="outbox drained")
            before = {s.id for s in produced(house)}
            broker.kill()
            loop = asyncio.get_running_loop()
            killed_at = loop.time()
            await asyncio.sleep(2 * HOUR)
            gap = [s for s in produced(house) if s.id not in before]
            assert len(gap) >= 23, f"only {len(gap)} statuses in two hours"
            assert house.pending() >= len(gap), "the gap's statuses are not waiting in the store"
            # Nothing made during the outage got through. (A message already in the ATN's socket
            # at the kill, such as a resend of an acknowledged status, may still be read.)
            gap_ids = {s.id for s in gap}
            assert not [s for s in house.received_statuses() if s.id in gap_ids]
            broker.restart()
            await until(lambda: house.mode == "remote", within_s=1800, what="RemoteControl again")
            await until(lambda: all_arrived(house), within_s=3600, what="backlog uploaded")
            assert loop.time() - killed_at >= 2 * HOUR
            statuses = produced(house)
            check_arrived_in_order(house, statuses)
            again = [mid for mid, at in sends if mid in acked_at and at > acked_at[mid]]
            assert not again, f"{len(again)} acknowledged messages were sent again"
            fwd = house.runtime.forwarder
            assert fwd is not None
            # The ATN has them all; its acks may still be crossing the broker.
            await until(lambda: fwd.acked >= len(statuses), within_s=600, what="every ack")

    run_virtual(main, speed=SPEED)


def test_atn_silent_while_the_broker_stays_up(broker: Mosquitto, tmp_path: Path) -> None:
    layout = dw1()
    ctl = layout.control
    fallback_s = ctl.heartbeat_timeout_s + ctl.contract_grace_s

    async def main() -> None:
        async with house_over_mqtt(broker.url, tmp_path, layout) as house:
            await until(lambda: house.mode == "remote", within_s=600, what="RemoteControl")
            await until(lambda: len(produced(house)) >= 1, within_s=900, what="a status")
            await until(lambda: house.pending() == 0, within_s=300, what="outbox drained")
            before = {s.id for s in produced(house)}
            loop = asyncio.get_running_loop()
            house.atn.go_silent()
            silent_at = loop.time()
            await until(lambda: house.mode != "remote", within_s=fallback_s + 300, what="fallback")
            took = loop.time() - silent_at
            assert house.mode == "local"
            # The timeout counts from the ATN's last heartbeat, which came up to one heartbeat
            # period (30 s) before it fell silent.
            earliest = fallback_s - 30 - 5
            assert took >= earliest, f"fell back after {took:.0f} s, before the grace ended"
            await asyncio.sleep(max(0.0, 2 * HOUR - took))
            waiting = [s for s in produced(house) if s.id not in before]
            assert len(waiting) >= 20
            assert house.pending() >= len(waiting), "statuses are not waiting in the store"
            house.atn.resume()
            await until(lambda: house.mode == "remote", within_s=1800, what="RemoteControl again")
            await until(lambda: all_arrived(house), within_s=3600, what="backlog uploaded")
            check_arrived_in_order(house, produced(house))

    run_virtual(main, speed=SPEED)
