"""Whatever arrives on the link's topics, nothing crashes: refused, counted by kind, logged once."""

from __future__ import annotations

import asyncio
import json
import logging

import pytest

from scada.protocol import ActuatorCommand, CommandOutcome, CommandResult, Status, decode_as, encode
from tests.link.link_support import ATN, SCADA, atn_link, command, running, scada_link, status
from tests.mqtt_support import Mosquitto, RawMqtt

pytestmark = pytest.mark.broker

IN = f"gw/{ATN}/to/{SCADA}"


async def test_bad_messages_are_counted_by_kind_and_the_link_goes_on(
    broker: Mosquitto, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="scada.link.mqtt")
    scada = scada_link(broker.url)
    good = status(1).model_dump(mode="json")
    with RawMqtt(broker.port) as atn:
        # Left retained before the SCADA subscribes: it arrives flagged retained, i.e. stale.
        await asyncio.to_thread(atn.publish, f"{IN}/command", encode(command()), retain=True)
        async with running(scada) as inbox:
            bad: list[tuple[str, bytes, bool]] = [
                (f"{IN}/status", b"{not json", False),
                (f"{IN}/status", b"\xff\xfe", False),
                (f"{IN}/status", b"[1, 2]", False),
                (f"{IN}/status", b"{not json either", False),
                (f"{IN}/nope", b'{"type": "nope", "version": 1}', False),
                (f"{IN}/status", b'{"hello": 1}', False),
                (f"{IN}/status", json.dumps({**good, "version": 1}).encode(), False),  # old release
                (f"{IN}/status/extra", encode(status(2)), False),
                (f"{IN}/NOT_A_NAME", encode(status(3)), False),
                (f"{IN}/ack", encode(status(4)), False),
            ]
            for topic, payload, retain in bad:
                await asyncio.to_thread(atn.publish, topic, payload, retain=retain)
            last = status(99)
            await asyncio.to_thread(atn.publish, f"{IN}/status", encode(last))
            got = await inbox.count(Status, 1)
    assert got == [last]  # only the good one, after all the bad ones
    assert scada.stats().malformed == {
        "payload": 4,
        "unknown_type": 2,
        "version": 1,
        "topic": 2,
        "type_mismatch": 1,
        "retained": 1,
    }
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 6  # once per kind
    assert any(f"topic {IN}/status" in w and "invalid JSON" in w for w in warnings)
    assert any("a retained command" in w for w in warnings)


async def test_an_expired_command_is_delivered_for_the_controller_to_refuse(
    broker: Mosquitto,
) -> None:
    scada, atn = scada_link(broker.url), atn_link(broker.url)
    async with running(atn), running(scada) as inbox:
        stale = command(expires_in_s=-5)
        assert atn.send(stale)
        (got,) = await inbox.count(ActuatorCommand, 1)
    assert got == stale
    assert scada.stats().expired_commands == 1


async def test_a_command_for_another_scada_or_from_a_stranger_is_answered_with_the_reason(
    broker: Mosquitto,
) -> None:
    # The subscription only lets the peer's messages to us through, so these can arrive only
    # through a broker that routes more widely: hand them to the link's intake directly.
    scada = scada_link(broker.url)
    with RawMqtt(broker.port, subscribe=f"gw/{SCADA}/to/+/command.result") as watch:
        async with running(scada) as inbox:
            foreign, stranger = command(), command()
            for topic, cmd in [
                (f"gw/{ATN}/to/other.scada/command", foreign),
                (f"gw/mallory/to/{SCADA}/command", stranger),
            ]:
                assert scada._accept(topic, encode(cmd), retain=False) is None
            answers = await asyncio.to_thread(watch.take, 2)
        assert inbox.messages == []
    assert sorted(m.topic for m in answers) == sorted(
        [f"gw/{SCADA}/to/{ATN}/command.result", f"gw/{SCADA}/to/mallory/command.result"]
    )
    results = {r.command_id: r for r in (decode_as(m.payload, CommandResult) for m in answers)}
    to_atn, to_mallory = results[foreign.id], results[stranger.id]
    assert to_atn.outcome is CommandOutcome.REFUSED
    assert to_atn.reason == f"this is {SCADA}, not other.scada"
    assert to_mallory.reason == f"{SCADA} takes commands from {ATN} only"
    stats = scada.stats()
    assert stats.malformed == {"foreign": 1, "sender": 1}
    assert stats.answered == 2
