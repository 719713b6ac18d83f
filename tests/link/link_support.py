"""Helpers for the MQTT link tests: aliases, settings, an inbox that waits, example messages."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from scada.clock import SystemClock
from scada.link import MqttLink, MqttSettings
from scada.protocol import (
    Ack,
    ActuatorCommand,
    CommandSource,
    LinkState,
    RelayState,
    Status,
    WireMessage,
    new_id,
)
from scada.protocol.examples import example_power, example_status

ATN = "dw9.test.house"
SCADA = "dw9.test.house.ta.scada"
UP_TIMEOUT_S = 10.0


def settings(url: str, **kw: Any) -> MqttSettings:
    """Test settings: short back-off so reconnects happen within the test's patience."""
    values: dict[str, Any] = {"url": url, "reconnect_min_s": 1, "reconnect_max_s": 2}
    values.update(kw)
    return MqttSettings(**values)


def scada_link(url: str, **kw: Any) -> MqttLink:
    return MqttLink(settings(url, **kw), SCADA, ATN, SystemClock())


def atn_link(url: str, **kw: Any) -> MqttLink:
    return MqttLink(settings(url, **kw), ATN, SCADA, SystemClock())


class Inbox:
    """An uplink handler that keeps what it gets and lets a test wait for it."""

    def __init__(self) -> None:
        self.messages: list[WireMessage] = []
        self._changed = asyncio.Event()

    async def __call__(self, msg: WireMessage) -> None:
        self.messages.append(msg)
        self._changed.set()

    def of(self, kind: type[WireMessage]) -> list[Any]:
        return [m for m in self.messages if isinstance(m, kind)]

    async def until(self, pred: Callable[[list[WireMessage]], bool], within: float = 5.0) -> None:
        async with asyncio.timeout(within):
            while not pred(self.messages):
                self._changed.clear()
                await self._changed.wait()

    async def count(self, kind: type[WireMessage], n: int, within: float = 5.0) -> list[Any]:
        await self.until(lambda ms: sum(isinstance(m, kind) for m in ms) >= n, within)
        return self.of(kind)


@asynccontextmanager
async def running(link: MqttLink, inbox: Inbox | None = None) -> AsyncIterator[Inbox]:
    """``link.run(inbox)`` in a task until the block ends; waits until the link is up."""
    box = inbox or Inbox()
    task = asyncio.create_task(link.run(box))
    try:
        async with asyncio.timeout(UP_TIMEOUT_S):
            await link.wait_for_state(LinkState.UP)
        yield box
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def wait_state(link: MqttLink, state: LinkState, within: float = UP_TIMEOUT_S) -> None:
    async with asyncio.timeout(within):
        await link.wait_for_state(state)


async def eventually(pred: Callable[[], bool], within: float = 5.0) -> None:
    """Poll ``pred`` (state outside our control, e.g. counters fed by another thread)."""
    async with asyncio.timeout(within):
        while not pred():  # noqa: ASYNC110 - nothing to wait on but the condition itself
            await asyncio.sleep(0.01)


def state_of(link: MqttLink) -> LinkState:
    """The link's state now (a call, so that type checkers do not narrow it across awaits)."""
    return link.broker_state


def status(seq: int) -> Status:
    """A small valid status with a fresh id and the given sequence number."""
    return example_status(n_channels=2, per_channel=1).model_copy(
        update={"id": new_id(), "seq": seq}
    )


def power(seq: int) -> WireMessage:
    return example_power().model_copy(update={"seq": seq})


def ack(message_id: str) -> Ack:
    return Ack(message_ids=(message_id,), at=datetime.now(UTC))


def command(*, expires_in_s: float = 60.0, target: str = "a.elt1.relay") -> ActuatorCommand:
    issued = datetime.now(UTC) - timedelta(seconds=max(0.0, -expires_in_s) + 1)
    return ActuatorCommand(
        id=new_id(),
        source=CommandSource.ATN,
        target=target,
        state=RelayState.ON,
        issued_at=issued,
        expires_at=datetime.now(UTC) + timedelta(seconds=expires_in_s),
    )
