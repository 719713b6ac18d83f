"""The broker connection's state and its words (scada/link/mqtt_state.py)."""

from __future__ import annotations

import asyncio
import logging

import pytest

from scada.link.mqtt_state import BrokerState
from scada.protocol.enums import LinkState


def heard(state: BrokerState) -> list[tuple[LinkState, str | None]]:
    changes: list[tuple[LinkState, str | None]] = []
    state.add_listener(lambda s, d: changes.append((s, d)))
    return changes


def test_listeners_hear_changes_of_state_not_of_detail_alone() -> None:
    broker = BrokerState()
    changes = heard(broker)
    broker.set(LinkState.CONNECTING, "connecting to mqtt://127.0.0.1:1883")
    broker.unreachable("mqtt://127.0.0.1:1883", "connection refused", 2)
    broker.unreachable("mqtt://127.0.0.1:1883", "connection refused", 4)
    broker.subscribed(None)
    assert changes == [
        (LinkState.CONNECTING, "connecting to mqtt://127.0.0.1:1883"),
        (LinkState.DOWN, "cannot reach mqtt://127.0.0.1:1883: connection refused; retrying in 2 s"),
        (LinkState.UP, None),
    ]
    assert broker.detail is None


def test_a_refusal_keeps_its_reason_through_the_retries() -> None:
    broker = BrokerState()
    broker.refused("Not authorized")
    broker.lost("connection closed", 8, was_connected=False)
    assert broker.detail == "the broker refused the connection: Not authorized; retrying in 8 s"
    broker.lost("connection closed", 16, was_connected=False)
    assert broker.detail == "the broker refused the connection: Not authorized; retrying in 16 s"


def test_a_lost_connection_says_so_and_when_the_next_try_is() -> None:
    broker = BrokerState()
    broker.subscribed("128")
    assert (broker.state, broker.detail) == (LinkState.UP, "subscription refused: 128")
    broker.lost("keepalive timeout", 1, was_connected=True)
    assert broker.detail == "connection lost: keepalive timeout; retrying in 1 s"


def test_a_failing_listener_is_logged_and_the_others_still_hear(
    caplog: pytest.LogCaptureFixture,
) -> None:
    broker = BrokerState()

    def broken(state: LinkState, detail: str | None) -> None:
        raise RuntimeError(f"{state} {detail}")

    broker.add_listener(broken)
    changes = heard(broker)
    with caplog.at_level(logging.ERROR):
        broker.subscribed(None)
    assert changes == [(LinkState.UP, None)]
    assert "a link state listener failed" in caplog.text
    broker.remove_listener(broken)
    broker.remove_listener(broken)  # removing twice is harmless
    broker.lost("gone", 1, was_connected=True)
    assert len(changes) == 2


def test_wait_for_returns_once_the_state_is_reached() -> None:
    async def scenario() -> None:
        broker = BrokerState()
        waiting = asyncio.create_task(broker.wait_for(LinkState.UP))
        await asyncio.sleep(0)
        broker.set(LinkState.CONNECTING, None)
        await asyncio.sleep(0)
        assert not waiting.done()
        broker.subscribed(None)
        async with asyncio.timeout(1):
            await waiting

    asyncio.run(scenario())
