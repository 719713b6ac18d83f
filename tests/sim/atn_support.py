"""A rig for the simulated ATN tests: the real runtime (memory drivers) and a SimulatedAtn joined
by an in-process link, on virtual time, with a watcher that samples the SCADA's mode."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from scada.clock import LoopClock
from scada.drivers.factory import Devices, build_devices
from scada.drivers.memory import MemoryBench
from scada.layout import Layout, load_layout
from scada.link import InProcessLink, LinkEnd, Uplink, UplinkHandler
from scada.protocol import LinkState, Mode, WireMessage
from scada.runtime import Runtime
from sim.atn import PriceProfile, SimulatedAtn

ROOT = Path(__file__).resolve().parents[2]
DW1 = ROOT / "input_data" / "houses" / "dw1.isone.nh.orange.1.json"

T0 = datetime(2025, 1, 15, 10, 30, tzinfo=UTC)
"""05:30 in New Hampshire (UTC-5 in January): a cheapest hour of the simple price profile."""

HP, CIRC, ELT = "a.hp.relay", "a.tank.out.pump.relay", "a.elt1.relay"
TANK = ("tank-temp0", "tank-temp1", "tank-temp2", "tank-temp3", "tank-temp4")
SAMPLE_S = 5.0


def tank(*layers: float) -> dict[str, float]:
    """Bench values for dw1's tank layers, top first."""
    return dict(zip(TANK, layers, strict=True))


@dataclass
class Rig:
    """A running SCADA and its simulated ATN. ``modes`` holds (time, mode) every 5 s."""

    clock: LoopClock
    layout: Layout
    devices: Devices
    link: InProcessLink
    runtime: Runtime
    atn: SimulatedAtn
    modes: list[tuple[datetime, Mode]] = field(default_factory=list)
    relays: list[tuple[datetime, dict[str, bool]]] = field(default_factory=list)

    @property
    def bench(self) -> MemoryBench:
        assert self.devices.bench is not None
        return self.devices.bench

    def mode(self) -> Mode:
        """The SCADA's mode now (a method, so that type checkers do not narrow it)."""
        return self.runtime.controller.state.mode

    @property
    def now(self) -> datetime:
        return self.clock.now()

    def relay_on(self, node: str) -> bool:
        """The load's state as the relay board holds it (normally-open contacts)."""
        a = self.layout.actuator(node)
        energized = self.bench.relays.get((a.device, a.board_channel), False)
        return energized == (a.contact == "normally_open")

    async def run_for(self, seconds: float) -> None:
        await self.clock.sleep(seconds)

    async def run_until(self, when: datetime) -> None:
        await self.clock.sleep((when - self.clock.now()).total_seconds())

    def modes_between(self, start: datetime, end: datetime) -> set[Mode]:
        return {m for t, m in self.modes if start <= t <= end}

    def first_time(self, mode: Mode, after: datetime) -> datetime | None:
        return next((t for t, m in self.modes if t >= after and m is mode), None)

    def relay_at(self, node: str, when: datetime) -> bool:
        """The sampled state of ``node`` at the last sample at or before ``when``."""
        states = [s for t, s in self.relays if t <= when]
        assert states, f"no relay sample by {when}"
        return states[-1][node]


class LaggyEnd:
    """The ATN's end of a link whose incoming messages arrive ``lag_s`` late while
    ``lagging(now)`` holds; order is kept (a message never overtakes an earlier one)."""

    def __init__(self, inner: LinkEnd, clock: LoopClock, lag_s: float, until: datetime) -> None:
        self.inner = inner
        self.clock = clock
        self.lag_s = lag_s
        self.until = until

    @property
    def broker_state(self) -> LinkState:
        return self.inner.broker_state

    def send(self, message: WireMessage) -> bool:
        return self.inner.send(message)

    def send_encoded(self, message_type: str, payload: bytes) -> bool:
        return self.inner.send_encoded(message_type, payload)

    async def run(self, handler: UplinkHandler) -> None:
        queue: asyncio.Queue[tuple[datetime, WireMessage]] = asyncio.Queue()
        last = self.clock.now()

        async def arrive(msg: WireMessage) -> None:
            nonlocal last
            now = self.clock.now()
            due = now + timedelta(seconds=self.lag_s) if now < self.until else now
            last = max(last, due)
            await queue.put((last, msg))

        async def deliver() -> None:
            while True:
                due, msg = await queue.get()
                await self.clock.sleep((due - self.clock.now()).total_seconds())
                await handler(msg)

        async with asyncio.TaskGroup() as tg:
            tg.create_task(self.inner.run(arrive))
            tg.create_task(deliver())


@asynccontextmanager
async def rig(
    *,
    values: Mapping[str, float] | None = None,
    price: PriceProfile | None = None,
    layout_path: Path = DW1,
    start: datetime = T0,
    atn_end: Callable[[LinkEnd, LoopClock], Uplink] | None = None,
    **atn_options: Any,
) -> AsyncIterator[Rig]:
    """Start the runtime and the ATN at ``start``; stop both on exit. Call inside run_virtual."""
    clock = LoopClock(start)
    layout = load_layout(layout_path)
    devices = build_devices(layout, "memory", clock)
    assert devices.bench is not None
    devices.bench.values.update(values or {})
    link = InProcessLink()
    runtime = Runtime(layout, clock, devices, uplink=link.scada, socket_path=None)
    atn_options.setdefault("seed", 7)
    end: Uplink = link.atn if atn_end is None else atn_end(link.atn, clock)
    atn = SimulatedAtn(layout, end, clock, price, **atn_options)
    r = Rig(clock, layout, devices, link, runtime, atn)
    nodes = [a.node for a in layout.actuators]

    async def watch() -> None:
        while True:
            r.modes.append((clock.now(), r.mode()))
            r.relays.append((clock.now(), {n: r.relay_on(n) for n in nodes}))
            await clock.sleep(SAMPLE_S)

    tasks = [
        asyncio.create_task(runtime.run(), name="runtime"),
        asyncio.create_task(atn.run(), name="atn"),
        asyncio.create_task(watch(), name="watch"),
    ]
    try:
        yield r
    finally:
        runtime.stop()
        async with asyncio.timeout(60):
            await tasks[0]
        for t in tasks[1:]:
            t.cancel()
        results = await asyncio.gather(*tasks[1:], return_exceptions=True)
        for res in results:
            if isinstance(res, BaseException) and not isinstance(res, asyncio.CancelledError):
                raise res


def minutes(n: float) -> timedelta:
    return timedelta(minutes=n)
