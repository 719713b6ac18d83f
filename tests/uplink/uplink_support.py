"""Helpers for the uplink fault tests: a runtime and a simulated ATN on one virtual-time loop,
each with its own :class:`MqttLink` to a real mosquitto, and an acking peer that records."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from scada.clock import Clock, LoopClock
from scada.drivers.factory import build_devices
from scada.layout import Layout, find_house, load_layout
from scada.link import MqttLink, MqttSettings
from scada.protocol import Ack, LinkState, Status, WireMessage
from scada.protocol.events import ProblemEvent
from scada.protocol.readings import AggregateReport
from scada.runtime import Runtime
from scada.store import Store, store_path
from sim.atn.actor import SimulatedAtn

HOUSE = "dw1.isone.nh.orange.1"
SPEED = 600.0  # virtual seconds per real second: a status every half second
HEARTBEAT_TIMEOUT_S = 300.0  # virtual: loose enough for the broker's real latency at SPEED


def settings(url: str) -> MqttSettings:
    return MqttSettings(url=url, reconnect_min_s=1, reconnect_max_s=2)


def dw1(**control: Any) -> Layout:
    layout = load_layout(find_house(HOUSE))
    ctl = layout.control.model_copy(update={"heartbeat_timeout_s": HEARTBEAT_TIMEOUT_S, **control})
    return layout.model_copy(update={"control": ctl})


@dataclass
class House:
    """A runtime (memory drivers, a store in ``data_dir``) and its ATN, both over MQTT."""

    layout: Layout
    clock: Clock
    runtime: Runtime
    atn: SimulatedAtn
    store: Store

    @property
    def mode(self) -> str:
        return str(self.runtime.controller.state.mode.value)

    def received_statuses(self) -> list[Status]:
        return self.atn.log.of_type(Status)

    def pending(self) -> int:
        return int(self.store.stats().pending_uplink)


@asynccontextmanager
async def house_over_mqtt(url: str, data_dir: Any, layout: Layout) -> AsyncIterator[House]:
    """Run both until the block ends (on the running, normally virtual-time, loop)."""
    clock = LoopClock(datetime.now(UTC))
    store = Store.open(store_path(data_dir), clock, durable=False)
    uplink = MqttLink(settings(url), layout.house.scada, layout.house.alias, clock)
    runtime = Runtime(
        layout, clock, build_devices(layout, "memory", clock), uplink=uplink, store=store
    )
    uplink.boot_id = runtime.boot_id
    atn_link = MqttLink(settings(url), layout.house.alias, layout.house.scada, clock)
    atn = SimulatedAtn(layout, atn_link, clock, reply_timeout_s=60, seed=1)
    tasks = [
        asyncio.create_task(runtime.run(), name="runtime"),
        asyncio.create_task(atn.run(), name="atn"),
    ]
    try:
        yield House(layout, clock, runtime, atn, store)
    finally:
        runtime.stop()
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        store.close()


async def until(pred: Callable[[], bool], *, within_s: float, what: str) -> None:
    """Wait (in the loop's time) until ``pred()``; fail with ``what`` otherwise."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within_s
    while not pred():
        if loop.time() > deadline:
            raise AssertionError(f"not within {within_s:g} s: {what}")
        await asyncio.sleep(0.5)


@dataclass
class AckingPeer:
    """A bare ATN end that acknowledges every status, aggregate and problem at once and keeps
    what it received, in order."""

    link: MqttLink
    received: list[WireMessage] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    keep: bool = True
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    async def __call__(self, msg: WireMessage) -> None:
        if isinstance(msg, Status | AggregateReport | ProblemEvent):
            self.link.send(Ack(message_ids=(msg.id,), at=datetime.now(UTC)))
            self.counts[msg.type] = self.counts.get(msg.type, 0) + 1
            if self.keep:
                self.received.append(msg)
            self.arrived.set()

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    async def wait_up(self, within_s: float = 10) -> None:
        async with asyncio.timeout(within_s):
            await self.link.wait_for_state(LinkState.UP)
