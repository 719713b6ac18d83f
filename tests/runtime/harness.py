"""Build a whole runtime for a house on virtual time, drive it, and watch what it does.

Every scenario runs inside :func:`run_scenario`: a fresh :class:`~scada.clock.VirtualTimeLoop`
(as fast as possible), a :class:`~scada.clock.LoopClock` and the :class:`Runtime` built inside
it, memory drivers with calm values (nothing wants to move at start), no socket. The scenario
gets a :class:`Rig` and advances time with ``await rig.advance(seconds)``; hours pass in
milliseconds and nothing depends on the wall clock.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any, TypeVar

from scada.actors.controller import Controller
from scada.actors.house import HouseState
from scada.api.backend import Peer
from scada.clock import LoopClock, run_virtual
from scada.control.home_alone import TANK_RECHARGE_C
from scada.drivers import ChannelValue, SensorDevice
from scada.drivers.factory import Devices, build_devices
from scada.drivers.memory import MemoryBench
from scada.hub import Event, EventHub, Subscription
from scada.layout import Layout, load_layout, parse_layout
from scada.link import InProcessLink, LinkEnd
from scada.protocol import (
    ActuatorCommand,
    ApiRequest,
    CommandSource,
    ContractHeartbeat,
    ContractStatus,
    DispatchContract,
    EventKind,
    Mode,
    ProblemEvent,
    ProblemKind,
    Reading,
    RelayState,
    Reply,
    Side,
    Snapshot,
    WireMessage,
)
from scada.runtime import RunOutcome, Runtime

T = TypeVar("T")
M = TypeVar("M", bound=WireMessage)

HOUSES = Path(__file__).resolve().parents[2] / "input_data" / "houses"
DW1 = "dw1.isone.nh.orange.1"
HW25 = "hw25.isone.me.versant.keene.beech"

T0 = datetime(2025, 1, 15, 13, 2, 17, tzinfo=UTC)
"""The default start: a winter afternoon, deliberately not on a status boundary."""

PEER = Peer(pid=1, uid=1000, gid=1000)

# dw1's actuators and channels, by the names the tests use.
ELT = "a.elt1.relay"
PUMP = "a.tank.out.pump.relay"
HP = "a.hp.relay"
BOARD = "relay-board"
COIL = {ELT: 0, PUMP: 1, HP: 2}
GARAGE = "garage-temp"
PIPE_OUT = "pipe-out-temp"
TANK_LAYERS = ("tank-temp0", "tank-temp1", "tank-temp2", "tank-temp3", "tank-temp4")


@cache
def house_layout(alias: str) -> Layout:
    return load_layout(HOUSES / f"{alias}.json")


def layout_variant(alias: str, edit: Callable[[dict[str, Any]], None]) -> Layout:
    """House ``alias`` with its JSON changed by ``edit`` (validated like any layout)."""
    doc: dict[str, Any] = json.loads((HOUSES / f"{alias}.json").read_text())
    edit(doc)
    return parse_layout(json.dumps(doc), f"{alias} (variant)")


def calm_values(layout: Layout) -> dict[str, float]:
    """Values at which home-alone wants nothing to change and no interlock fires.

    Rooms at their setpoint (inside the comfort band, nothing calls), the tank a little below
    its target (the heat pump keeps its state, the elements stay off), pipes warm, nothing
    flowing, nothing drawing power.
    """
    ctl = layout.control
    rooms = {z.room_channel: z.setpoint_c for z in ctl.zones}
    # Inside the heat pump's dead band (target - TANK_RECHARGE_C .. target): it keeps its state.
    tank = ctl.tank_target_c - TANK_RECHARGE_C / 2
    out: dict[str, float] = {}
    for ch in layout.channels:
        q = ch.quantity.value
        if ch.name in rooms:
            out[ch.name] = rooms[ch.name]
        elif ch.name in ctl.tank_layers:
            out[ch.name] = tank
        elif ch.name == ctl.outdoor_channel:
            out[ch.name] = 0.0
        elif q == "air_temp":
            out[ch.name] = 18.0
        elif q == "water_temp":
            out[ch.name] = 35.0
        else:
            out[ch.name] = 0.0
    return out


# ----------------------------------------------------------------------------- devices


@dataclass
class Probe:
    """What a :class:`WatchedSensor` saw: when each read started and of which channels."""

    reads: list[tuple[float, tuple[str, ...]]] = field(default_factory=list)

    def times(self, channel: str | None = None) -> list[float]:
        return [t for t, chans in self.reads if channel is None or channel in chans]


class WatchedSensor:
    """A sensor device wrapped to record its reads and to misbehave on demand.

    ``hang`` makes every call wait forever (a device that never answers); ``crash`` makes reads
    raise a non-driver exception (a bug in a driver) that many times; ``omit`` leaves channels
    out of the device's answer.
    """

    def __init__(self, inner: SensorDevice, clock: LoopClock, probe: Probe) -> None:
        self.name = inner.name
        self._inner = inner
        self._clock = clock
        self.probe = probe
        self.hang = False
        self.crash = 0
        self.omit: set[str] = set()

    async def open(self) -> None:
        await self._maybe_hang()
        await self._inner.open()

    async def read(self, channels: Sequence[str]) -> Mapping[str, ChannelValue]:
        self.probe.reads.append((self._clock.monotonic(), tuple(channels)))
        await self._maybe_hang()
        if self.crash > 0:
            self.crash -= 1
            raise RuntimeError(f"{self.name}: driver bug")
        got = await self._inner.read(channels)
        return {k: v for k, v in got.items() if k not in self.omit}

    async def close(self) -> None:
        await self._inner.close()

    async def _maybe_hang(self) -> None:
        if self.hang:
            await asyncio.Event().wait()


# ------------------------------------------------------------------------------ events


class Recorder:
    """Everything the hub published, in order (drained on every :meth:`Rig.advance`)."""

    def __init__(self, hub: EventHub, kinds: frozenset[EventKind] | None = None) -> None:
        self.sub: Subscription = hub.subscribe("recorder", maxsize=5_000_000, kinds=kinds)
        self.events: list[Event] = []

    async def drain(self) -> None:
        # ``get`` does not suspend while events are queued: this takes exactly what is there.
        while self.sub.backlog:
            ev = await self.sub.get()
            if ev is None:
                break
            self.events.append(ev)

    def payloads(self, kind: EventKind, cls: type[M]) -> list[M]:
        return [e.payload for e in self.events if e.kind is kind and isinstance(e.payload, cls)]

    def problems(
        self, kind: ProblemKind | None = None, subject: str | None = None
    ) -> list[ProblemEvent]:
        return [
            p
            for p in self.payloads(EventKind.PROBLEM, ProblemEvent)
            if (kind is None or p.kind is kind) and (subject is None or p.subject == subject)
        ]

    def readings(self, channel: str | None = None) -> list[Reading]:
        return [
            r
            for r in self.payloads(EventKind.READING, Reading)
            if channel is None or r.channel == channel
        ]

    def mark(self) -> int:
        """A position to slice :attr:`events` from later."""
        return len(self.events)


# -------------------------------------------------------------------------------- ATN


def uid(n: int | str) -> str:
    """A fixed message id (ids on the wire are UUIDs): ``uid(1)``, or a given UUID as is."""
    return n if isinstance(n, str) else str(uuid.UUID(int=n))


class FakeAtn:
    """The test playing the ATN on the ``atn`` end of an :class:`InProcessLink`."""

    def __init__(self, end: LinkEnd, layout: Layout, clock: LoopClock) -> None:
        self.end = end
        self.layout = layout
        self.clock = clock
        self.inbox: list[WireMessage] = []
        self.contract: DispatchContract | None = None
        self._n = 0
        self.task = asyncio.create_task(end.run(self._got), name="fake-atn")

    async def _got(self, msg: WireMessage) -> None:
        self.inbox.append(msg)

    def received(self, cls: type[M]) -> list[M]:
        return [m for m in self.inbox if isinstance(m, cls)]

    def offer(self, contract_id: str | int = 1, duration_s: int = 4 * 3600, digit: int = 3) -> bool:
        self.contract = DispatchContract(
            contract_id=uid(contract_id),
            atn_alias=self.layout.house.alias,
            scada_alias=self.layout.house.scada,
            start=self.clock.now(),
            duration_s=duration_s,
            status=ContractStatus.OFFERED,
        )
        return self._beat(self.contract, digit, None)

    def heartbeat(self, digit: int = 5, echo: int | None = None) -> bool:
        assert self.contract is not None
        active = self.contract.model_copy(update={"status": ContractStatus.ACTIVE})
        if echo is None:
            mine = self.received(ContractHeartbeat)
            echo = mine[-1].my_digit if mine else None
        return self._beat(active, digit, echo)

    def command(self, target: str, state: RelayState, ttl_s: float = 300.0) -> ActuatorCommand:
        self._n += 1
        now = self.clock.now()
        cmd = ActuatorCommand(
            id=uid(1000 + self._n),
            source=CommandSource.ATN,
            target=target,
            state=state,
            issued_at=now,
            expires_at=now + timedelta(seconds=ttl_s),
        )
        self.end.send(cmd)
        return cmd

    def _beat(self, contract: DispatchContract, digit: int, echo: int | None) -> bool:
        return self.end.send(
            ContractHeartbeat(
                contract=contract,
                sent_at=self.clock.now(),
                my_digit=digit,
                your_last_digit=echo,
                from_side=Side.ATN,
            )
        )


# -------------------------------------------------------------------------------- rig


@dataclass
class Rig:
    """A running runtime and the handles a test needs on it."""

    layout: Layout
    start: datetime
    clock: LoopClock
    devices: Devices
    bench: MemoryBench
    runtime: Runtime
    rec: Recorder
    probes: dict[str, Probe]
    sensors: dict[str, WatchedSensor]
    link: InProcessLink | None
    atn: FakeAtn | None
    task: asyncio.Task[RunOutcome]

    @property
    def house(self) -> HouseState:
        return self.runtime.house

    @property
    def controller(self) -> Controller:
        return self.runtime.controller

    def mode(self) -> Mode:
        """The mode now (a call, so a type checker does not pin it between two awaits)."""
        return self.runtime.controller.state.mode

    def now(self) -> datetime:
        return self.clock.now()

    async def advance(self, seconds: float) -> None:
        """Let ``seconds`` of virtual time pass, then collect what was published."""
        await asyncio.sleep(seconds)
        # Timers due at the same instant as ours run in no set order: yield once, so what is
        # due at the very end (a status at its slot boundary) has happened too.
        await asyncio.sleep(0)
        await self.rec.drain()

    async def advance_to(self, when: datetime) -> None:
        await self.advance(max(0.0, (when - self.now()).total_seconds()))

    async def until(
        self, check: Callable[[], bool], *, within_s: float, step_s: float = 0.25
    ) -> float:
        """Advance in steps until ``check()`` holds; the virtual seconds it took."""
        t0 = self.clock.monotonic()
        while not check():
            if self.clock.monotonic() - t0 > within_s:
                raise AssertionError(f"not within {within_s} virtual seconds")
            await self.advance(step_s)
        return self.clock.monotonic() - t0

    async def request(self, req: ApiRequest) -> Reply:
        reply = await self.runtime.service.handle(req, PEER)
        await self.rec.drain()
        return reply

    def snapshot(self) -> Snapshot:
        return self.runtime.service.snapshot()

    def coil(self, node: str) -> bool:
        """The coil of actuator ``node`` as the bench holds it (energized or not)."""
        act = self.layout.actuator(node)
        return self.bench.relays.get((act.device, act.board_channel), False)

    def fail_device(self, device: str, reason: str = "no answer") -> None:
        self.bench.fail(device, reason)

    def restarts(self) -> dict[str, int]:
        return {
            name: rec.restarts
            for name, rec in self.runtime.supervisor.records.items()
            if rec.restarts
        }


Scenario = Callable[[Rig], Awaitable[T]]


def run_scenario(
    scenario: Scenario[T],
    *,
    house: str = DW1,
    layout: Layout | None = None,
    start: datetime = T0,
    values: Mapping[str, float] | None = None,
    calm: bool = True,
    uplink: bool = False,
    record: frozenset[EventKind] | None = None,
    list_houses: Callable[[], list[tuple[str, str, bool, str]]] | None = None,
    simulated: bool | None = None,
    allow_restarts: bool = False,
    prepare: Callable[[Devices], None] | None = None,
    watch: bool = True,
) -> T:
    """Run ``scenario`` against a fresh runtime on virtual time and return what it returns.

    ``values`` are set on the bench over the calm ones (``calm=False``: the bench's own gentle
    signals); ``uplink`` joins an in-process link with a :class:`FakeAtn` at its far end;
    ``record`` limits the recorder to some event kinds; ``prepare`` sees the devices before the
    runtime starts (to fail one at boot, say); ``watch=False`` leaves the sensors unwrapped (no
    :class:`Probe`). Unless ``allow_restarts``, a scenario in which any actor crashed fails.
    """
    lay = layout if layout is not None else house_layout(house)

    async def main() -> T:
        clock = LoopClock(start)
        devices = build_devices(lay, "memory", clock)
        bench = devices.bench
        assert bench is not None
        if calm:
            bench.values.update(calm_values(lay))
        if values:
            bench.values.update(values)
        probes: dict[str, Probe] = {}
        sensors: dict[str, WatchedSensor] = {}
        for name, dev in devices.sensors.items() if watch else ():
            probes[name] = Probe()
            sensors[name] = WatchedSensor(dev, clock, probes[name])
            devices.sensors[name] = sensors[name]
        if prepare is not None:
            prepare(devices)
        link = InProcessLink() if uplink else None
        runtime = Runtime(
            lay,
            clock,
            devices,
            uplink=link.scada if link is not None else None,
            socket_path=None,
            simulated=simulated,
            list_houses=list_houses,
        )
        rec = Recorder(runtime.hub, record)
        atn = FakeAtn(link.atn, lay, clock) if link is not None else None
        task = asyncio.create_task(runtime.run(), name="runtime")
        rig = Rig(lay, start, clock, devices, bench, runtime, rec, probes, sensors, link, atn, task)
        try:
            result = await scenario(rig)
            if not allow_restarts:
                assert not rig.restarts(), f"actors crashed: {runtime.supervisor.records}"
        finally:
            runtime.stop()
            await task
            if atn is not None:
                atn.task.cancel()
                await asyncio.gather(atn.task, return_exceptions=True)
        return result

    return run_virtual(main)


def at_boundary_after(when: datetime, period_s: int = 300) -> datetime:
    """The first whole multiple of ``period_s`` since the epoch after ``when``."""
    epoch_s = int(when.timestamp())
    return datetime.fromtimestamp((epoch_s // period_s + 1) * period_s, UTC)


__all__ = [
    "BOARD",
    "COIL",
    "DW1",
    "ELT",
    "GARAGE",
    "HP",
    "HW25",
    "PEER",
    "PIPE_OUT",
    "PUMP",
    "T0",
    "TANK_LAYERS",
    "FakeAtn",
    "Probe",
    "Recorder",
    "Rig",
    "WatchedSensor",
    "at_boundary_after",
    "calm_values",
    "house_layout",
    "layout_variant",
    "run_scenario",
    "uid",
]
