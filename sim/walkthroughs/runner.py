"""Running a walkthrough: the real runtime on a simulated house, on virtual time.

:func:`run` builds, in one process and on one :class:`~scada.clock.VirtualTimeLoop` (as fast as
possible, or ``speed`` times real time), exactly what ``scada serve --sim`` runs: the emulated
buses with the house physics behind them, the real drivers on those buses, the runtime
(sensors, relays, controller, statuses) and the simulated ATN over the in-process link. The runtime
keeps its outbox in a store (SQLite) in a scratch folder, as ``scada serve`` does. It
takes the walkthrough's steps at their times, samples the house every simulated minute, listens
to the runtime's events, and at the end judges every check (:mod:`sim.walkthroughs.checks`).

The house file may be run with a coarser fidelity (the walkthrough's ``[fidelity]``): a floor
on the sensors' sample periods and a cap on flow-meter pulses per gallon are applied to the
layout itself, so the drivers, the emulators and the runtime all see the same, coarser house.

With a ``socket`` the runtime also serves its local API there, so a console (gwtui) can watch
the run live; the narration goes to the console's log too. At the end the console is told, and
the walkthrough's record closes (its checks are judged then), but the runtime keeps serving,
slowed to real time so the house barely moves, until the last console has been detached for
:data:`LINGER_GRACE_S`: a console left on the final picture stays live (its detail views and
requests still work) instead of greying out, and the report comes when the watcher is done.
``stop_signals`` makes SIGINT and SIGTERM end the run early (or end that lingering), with a
report of where it stopped, rather than killing it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import shutil
import signal
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from scada.clock import (
    RANK_OBSERVERS,
    TIMER_RANK,
    LoopClock,
    VirtualTimeLoop,
    run_virtual,
    sleep_until,
)
from scada.control import Interlock, ModeState, Step
from scada.control.modes import boss
from scada.drivers.factory import build_devices
from scada.hub import Event, Subscription
from scada.layout import Layout, LayoutError
from scada.layout.errors import LayoutProblem
from scada.layout.houses import find_house
from scada.layout.load import parse_layout
from scada.protocol import (
    ActuatorSnapshot,
    EventKind,
    HoldEnded,
    LogLevel,
    LogLine,
    ModeChanged,
    ProblemEvent,
    ProblemKind,
    RelayState,
    Status,
)
from scada.runtime import Runtime
from scada.store import Store, store_path
from sim.emulation import SimEmulation
from sim.fidelity import Coarser
from sim.house.profiles import Profile, load_prices
from sim.physics_source import PhysicsSource
from sim.walkthroughs.checks import CheckResult, judge
from sim.walkthroughs.load import (
    WalkthroughError,
    check_against,
    find_walkthrough,
    load_walkthrough,
)
from sim.walkthroughs.record import SAMPLE_S, CommandRecord, Record, Sample
from sim.walkthroughs.spec import (
    AnyStep,
    AtnStep,
    BossAt,
    ColdSnap,
    Fidelity,
    HoldRelease,
    HoldTake,
    Initial,
    LinkStep,
    ModeAt,
    ModeSet,
    RelayAt,
    RelaySet,
    SensorFail,
    SensorHeal,
    Walkthrough,
    WeatherNormal,
    format_duration,
)

log = logging.getLogger("sim.walkthroughs")

STOP_TIMEOUT_S = 60.0
EVENT_QUEUE = 200_000
_QUIET_PROBLEMS = {ProblemKind.INTERLOCK_OVERRIDE}
"""Problems recorded but not narrated (they come and go with every refused command)."""
_NARRATED_INTERLOCKS = {Interlock.FREEZE_PIPE.value, Interlock.FREEZE_TANK.value}
"""Overrides narrated all the same: freeze protection is rare and is what an operator asks about."""

WATCH_SPEED = 60.0
"""The speed of a run served to consoles when none is given: as fast as possible would show a
console nothing but the end."""
LINGER_GRACE_S = 2.0
"""After the end, how long (real seconds) no console may be attached before the run stops; long
enough for a console dropped as too slow to come back."""
_LINGER_POLL_S = 0.25

Narrate = Callable[[str], None]
Progress = Callable[[float, float], None]


@dataclass(slots=True)
class WalkReport:
    """How a walkthrough run went: every check's result and the run's figures."""

    name: str
    house: str
    start: datetime
    duration: timedelta
    wall_s: float
    results: list[CheckResult]
    record: Record
    error: str | None = None
    """Why the runtime stopped before the end, when it did."""
    stopped: timedelta | None = None
    """How far the run had got when it was asked to stop before its end (its checks are then
    not judged: they speak of the whole run)."""

    @property
    def ok(self) -> bool:
        return self.error is None and self.stopped is None and all(r.ok for r in self.results)

    @property
    def passed(self) -> int:
        return sum(1 for r in self.results if r.ok)

    @property
    def energy_kwh(self) -> float:
        return self.record.energy_kwh()

    @property
    def cost_usd(self) -> float:
        return self.record.cost_usd()

    @property
    def comfort_share(self) -> float:
        return self.record.comfort_share(0.0, self.duration.total_seconds())


@dataclass(slots=True)
class Options:
    """How to run a walkthrough, over what its file says."""

    house: str | None = None
    """Another house alias than the file's."""
    speed: float | None = None
    """Simulated seconds per real second; ``None``: as fast as possible."""
    duration: timedelta | None = None
    """A shorter (or longer) run than the file's."""
    atn: bool | None = None
    """With or without the simulated ATN, whatever the file says."""
    workdir: Path | None = None
    narrate: Narrate | None = None
    progress: Progress | None = None
    socket: Path | None = None
    """Serve the local API here during the run, for a console to watch it."""
    stop_signals: bool = False
    """SIGINT and SIGTERM stop the run, reported, instead of killing it (main thread only)."""


def watch_speed(options: Options) -> float | None:
    """The speed ``options`` run at: theirs, else :data:`WATCH_SPEED` when served to consoles."""
    if options.speed is None and options.socket is not None:
        return WATCH_SPEED
    return options.speed


def run_named(
    name: str, options: Options | None = None, directory: Path | None = None
) -> WalkReport:
    """Find, load, check and run the walkthrough ``name``.

    Raises:
        UnknownWalkthroughError: no such walkthrough (listing the ones there are).
        WalkthroughError: the file, or the house it names, has problems.
    """
    path = find_walkthrough(name, directory)
    return run(load_walkthrough(path), name=name, file=str(path), options=options)


def run(
    wt: Walkthrough, *, name: str, file: str = "<walkthrough>", options: Options | None = None
) -> WalkReport:
    """Run ``wt`` to its end on virtual time and judge its checks.

    Raises:
        WalkthroughError: the house is unknown or ``wt`` does not fit it.
    """
    opts = options or Options()
    wt, layout = prepare(wt, file=file, options=opts)
    started = time.perf_counter()

    async def main() -> WalkReport:
        return await _Run(wt, name, layout, opts).go(started)

    return run_virtual(main, speed=watch_speed(opts))


def prepare(
    wt: Walkthrough, *, file: str = "<walkthrough>", options: Options | None = None
) -> tuple[Walkthrough, Layout]:
    """``wt`` with the options' overrides, and the layout it runs on, checked against each other.

    Raises:
        WalkthroughError: the house is unknown or ``wt`` does not fit it.
    """
    opts = options or Options()
    if opts.duration is not None:
        wt = wt.model_copy(update={"duration": opts.duration})
    if opts.atn is not None:
        wt = wt.model_copy(update={"atn": opts.atn})
    layout = house_layout(
        opts.house or wt.house, wt.fidelity, file=file, override=opts.house, initial=wt.initial
    )
    problems = check_against(wt, layout, file)
    if problems:
        raise WalkthroughError(problems)
    return wt, layout


def house_layout(
    alias: str,
    fidelity: Fidelity,
    *,
    file: str,
    override: str | None,
    initial: Initial | None = None,
) -> Layout:
    """The layout of house ``alias`` at the walkthrough's fidelity, starting from ``initial``.

    Raises:
        WalkthroughError: no such house, or its file does not load.
    """
    try:
        path = find_house(alias)
        doc = json.loads(path.read_bytes())
        Coarser(fidelity.sensor_period_floor_s, fidelity.pulses_per_gallon_max).apply(doc)
        if initial is not None:
            _initial(doc, initial)
        return parse_layout(json.dumps(doc), str(path))
    except LayoutError as e:
        where = "--house" if override is not None else "house"
        raise WalkthroughError(
            [LayoutProblem(file, where, p.what, p.suggestion) for p in e.problems]
        ) from None
    except (OSError, ValueError) as e:
        raise WalkthroughError(
            [LayoutProblem(file, "house", f"cannot read house '{alias}': {e}")]
        ) from None


def _initial(doc: dict[str, object], initial: Initial) -> None:
    sim = doc.setdefault("simulation", {})
    if not isinstance(sim, dict):
        return  # parse_layout reports the malformed section
    if initial.space_c is not None:
        sim["initial_space_c"] = initial.space_c
    if initial.tank_c is not None:
        sim["initial_tank_c"] = initial.tank_c


def scratch_dir() -> Path:
    """A fresh folder for the emulated 1-Wire tree: in memory (``/dev/shm``) when there is one,
    as a simulated month rewrites probe files tens of thousands of times."""
    shm = Path("/dev/shm")  # noqa: S108 - a private mkdtemp inside it
    base = shm if shm.is_dir() and _writable(shm) else None
    return Path(tempfile.mkdtemp(prefix="gwwalk-", dir=base))


def _writable(folder: Path) -> bool:
    try:
        with tempfile.TemporaryFile(dir=folder):
            return True
    except OSError:
        return False


class _HaltedError(Exception):
    """A stop signal ended the run before its end."""


class _Run:
    """One run of one walkthrough (built and awaited inside its virtual-time loop)."""

    clock: LoopClock
    emu: SimEmulation
    physics: PhysicsSource
    runtime: Runtime

    def __init__(self, wt: Walkthrough, name: str, layout: Layout, opts: Options) -> None:
        self.wt = wt
        self.name = name
        self.layout = layout
        self.opts = opts
        self.tz = ZoneInfo(layout.house.time_zone)
        start = wt.start if wt.start.tzinfo is not None else wt.start.replace(tzinfo=self.tz)
        self.start = start.astimezone(UTC)
        self.end_s = wt.duration.total_seconds()
        zones = layout.control.zones
        self.record = Record(
            zone_names=tuple(z.name for z in zones),
            setpoints=tuple(z.setpoint_c for z in zones),
            band_c=layout.control.comfort_band_c,
            status_period_s=layout.control.status_period_s,
            pipe_names=layout.control.freeze_channels,
        )
        sim = layout.simulation
        prices = load_prices(sim.price_profile, tz=self.tz) if sim is not None else None
        self.price: Callable[[datetime], float] = (
            prices.at if prices is not None else (lambda _t: 0.0)
        )
        self.weather: Profile | None = None
        """The house's own weather profile, once a step has shifted it."""
        self._results_seen: set[str] = set()
        self.halt = asyncio.Event()
        """Set by SIGINT / SIGTERM (with ``stop_signals``): end the run where it is."""
        self.lingered_s = 0.0
        """Real time spent serving consoles after the end: no part of the run's pace."""
        self._atn_slots: set[datetime] = set()
        self._atn_scanned: datetime | None = None

    # ---------------------------------------------------------------------- run
    async def go(self, started: float) -> WalkReport:
        workdir = self.opts.workdir or scratch_dir()
        own_dir = self.opts.workdir is None
        clock = LoopClock(self.start)
        self.clock = clock
        emu = SimEmulation(
            self.layout,
            workdir,
            clock,
            atn=self.wt.atn,
            physics_period_s=self.wt.fidelity.physics_step_s,
        )
        self.emu = emu
        assert isinstance(emu.source, PhysicsSource)
        self.physics = emu.source
        error: str | None = None
        stopped: timedelta | None = None
        store = Store.open(store_path(workdir), clock)
        release_signals = self._catch_signals()
        try:
            await emu.start()
            devices = build_devices(self.layout, "real", clock, emu.buses)
            runtime = Runtime(
                self.layout,
                clock,
                devices,
                uplink=emu.uplink,
                socket_path=self.opts.socket,
                simulated=True,
                extra_actors={"simulator": emu.run},
                store=store,
            )
            self.runtime = runtime
            self.record.mode_changed(0.0, runtime.controller.state.mode)
            sub = runtime.hub.subscribe(
                "walkthrough",
                maxsize=EVENT_QUEUE,
                kinds=frozenset(
                    {EventKind.PROBLEM, EventKind.MODE, EventKind.ACTUATOR, EventKind.HOLD}
                ),
            )
            running = asyncio.create_task(runtime.run(), name="runtime")
            helpers = [
                asyncio.create_task(self._events(sub), name="walkthrough-events"),
                asyncio.create_task(self._sampler(), name="walkthrough-sampler"),
            ]
            try:
                error = await self._timeline(running)
                if error is None:
                    # Let what is due at the very end (a status at a slot boundary) happen.
                    await self.clock.sleep(0.001)
                self._sample(at_s=self.end_s if error is None else None)
                if error is None and self.opts.socket is not None:
                    await self._linger(sub, helpers, running)
            except _HaltedError:
                stopped = self._halted()
            finally:
                runtime.stop()
                try:
                    async with asyncio.timeout(STOP_TIMEOUT_S):
                        await running
                except Exception as e:  # noqa: BLE001 - reported as the run's error
                    error = error or f"the runtime failed: {type(e).__name__}: {e}"
                for task in helpers:
                    task.cancel()
                await asyncio.gather(*helpers, return_exceptions=True)
                await self._drain(sub)
        finally:
            release_signals()
            await emu.stop()
            store.close()
            if own_dir:
                shutil.rmtree(workdir, ignore_errors=True)
        results = self._judge() if stopped is None else []
        return WalkReport(
            name=self.name,
            house=self.layout.house.alias,
            start=self.start.astimezone(self.tz),
            duration=self.wt.duration,
            wall_s=time.perf_counter() - started - self.lingered_s,
            results=results,
            record=self.record,
            error=error,
            stopped=stopped,
        )

    def _catch_signals(self) -> Callable[[], None]:
        """With ``stop_signals``, let SIGINT and SIGTERM set :attr:`halt` until the returned
        function is called."""
        signals = (signal.SIGINT, signal.SIGTERM) if self.opts.stop_signals else ()
        loop = asyncio.get_running_loop()
        for sig in signals:
            loop.add_signal_handler(sig, self.halt.set)

        def release() -> None:
            for sig in signals:
                loop.remove_signal_handler(sig)

        return release

    def _halted(self) -> timedelta:
        """Close the record where a stop signal found the run; how far it had got."""
        self._sample()
        self._say("stopped before the end, as asked")
        return self.clock.now() - self.start

    def _judge(self) -> list[CheckResult]:
        return [judge(c, i, self.record, self.end_s) for i, c in enumerate(self.wt.expect)]

    async def _linger(
        self, sub: Subscription, helpers: list[asyncio.Task[None]], running: asyncio.Task[object]
    ) -> None:
        """Close the record and tell the consoles the run is over; then keep serving them, at
        real time, until none has been attached for :data:`LINGER_GRACE_S` or a stop signal."""
        began = time.perf_counter()
        for task in helpers:
            task.cancel()
        await asyncio.gather(*helpers, return_exceptions=True)
        await self._drain(sub)
        sub.close()
        results = self._judge()
        verdict = f"{sum(1 for r in results if r.ok)}/{len(results)} checks passed"
        self._tell(
            LogLevel.WARNING,
            f"{self.name} is over: {verdict}; quit the console for the report (until then the "
            "house runs on at real time)",
        )
        loop = asyncio.get_running_loop()
        if isinstance(loop, VirtualTimeLoop):
            loop.set_speed(1.0)
        hub = self.runtime.hub
        if hub.subscribers:
            self._say(
                f"over, {verdict}: serving the final state at real time until the console detaches",
                self.end_s,
                console=False,
            )
        quiet_s = 0.0
        while quiet_s < LINGER_GRACE_S and not self.halt.is_set() and not running.done():
            # Once the record is closed, every subscriber left is a console's session.
            quiet_s = 0.0 if hub.subscribers else quiet_s + _LINGER_POLL_S
            halted = asyncio.ensure_future(self.halt.wait())
            try:
                await asyncio.wait({halted, running}, timeout=_LINGER_POLL_S)
            finally:
                halted.cancel()
        self.lingered_s = time.perf_counter() - began

    async def _timeline(self, running: asyncio.Task[object]) -> str | None:
        """Take every step and read every point check at its time; then run to the end."""
        items: list[tuple[float, int, int, AnyStep | ModeAt | BossAt | RelayAt]] = []
        for i, step in enumerate(self.wt.steps):
            items.append((step.at.total_seconds(), 0, i, step))
            if isinstance(step, ColdSnap) and step.lasting is not None:
                back = WeatherNormal(at=step.at + step.lasting, do="weather.normal")
                items.append((back.at.total_seconds(), 0, i, back))
        for i, check in enumerate(self.wt.expect):
            if isinstance(check, ModeAt | BossAt | RelayAt):
                items.append((check.at.total_seconds(), 1, i, check))
        items.sort(key=lambda x: (x[0], x[1], x[2]))
        for at_s, _, index, item in items:
            if await self._until(at_s, running):
                return self._failure(running)
            if isinstance(item, ModeAt | BossAt | RelayAt):
                self.record.seen[index] = self._observe(item)
            else:
                await self._take(item)
        if await self._until(self.end_s, running):
            return self._failure(running)
        return None

    async def _until(self, at_s: float, running: asyncio.Task[object]) -> bool:
        """Sleep until ``at_s`` into the run; True if the runtime ended on the way.

        Raises:
            _HaltedError: a stop signal came first.
        """
        when = self.start + timedelta(seconds=at_s)
        sleeper = asyncio.ensure_future(sleep_until(self.clock, when))
        halted = asyncio.ensure_future(self.halt.wait())
        try:
            await asyncio.wait({sleeper, running, halted}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            sleeper.cancel()
            halted.cancel()
        if self.halt.is_set() and not running.done():
            raise _HaltedError
        return running.done()

    def _failure(self, running: asyncio.Task[object]) -> str:
        at = format_duration(self.clock.now() - self.start)
        if running.cancelled():
            return f"the runtime was cancelled at {at}"
        exc = running.exception()
        if exc is not None:
            return f"the runtime failed at {at}: {type(exc).__name__}: {exc}"
        return f"the runtime stopped by itself at {at}"

    # -------------------------------------------------------------------- steps
    async def _take(self, step: AnyStep) -> None:
        emu, ctl = self.emu, self.runtime.controller
        outcome = ""
        if isinstance(step, AtnStep):
            assert emu.atn is not None
            getattr(emu.atn, step.do.removeprefix("atn."))()
        elif isinstance(step, LinkStep):
            assert emu.link is not None
            (emu.link.cut if step.do == "link.cut" else emu.link.restore)()
        elif isinstance(step, SensorFail):
            emu.fail_channel(step.channel, step.how)
        elif isinstance(step, SensorHeal):
            emu.heal_channel(step.channel)
        elif isinstance(step, ColdSnap):
            self._shift_weather(step.by_c)
        elif isinstance(step, WeatherNormal):
            self._shift_weather(0.0)
        elif isinstance(step, HoldTake):
            outcome = _step_outcome(await ctl.take_hold(step.operator, step.minutes))
        elif isinstance(step, HoldRelease):
            outcome = _step_outcome(await ctl.release_hold(step.operator))
        elif isinstance(step, RelaySet):
            result = await ctl.set_relay(step.node, step.state, step.operator)
            outcome = result.outcome.value + (f": {result.reason}" if result.reason else "")
        elif isinstance(step, ModeSet):
            outcome = _step_outcome(await ctl.set_mode(step.mode, step.operator))
        words = step.say or _default_words(step)
        self._say(f"{step.do}: {words}" + (f" -> {outcome}" if outcome else ""))

    def _shift_weather(self, by_c: float) -> None:
        model = self.physics.model
        if self.weather is None:
            self.weather = model.weather
        base = self.weather
        model.weather = dataclasses.replace(
            base, values=tuple(v + by_c for v in base.values), _last=[]
        )

    def _observe(self, check: ModeAt | BossAt | RelayAt) -> str:
        state = self.runtime.controller.state
        if isinstance(check, ModeAt):
            return state.mode.value
        if isinstance(check, BossAt):
            return boss(state, self.clock.now()).value
        on = self.physics.relay_states().get(check.node, False)
        return (RelayState.ON if on else RelayState.OFF).value

    # ------------------------------------------------------------------ sampling
    async def _sampler(self) -> None:
        TIMER_RANK.set(RANK_OBSERVERS)
        while True:
            self._sample()
            await self.clock.sleep(SAMPLE_S)

    def _sample(self, at_s: float | None = None) -> None:
        now = self.clock.now()
        t = (now - self.start).total_seconds() if at_s is None else at_s
        samples = self.record.samples
        if samples and samples[-1].t > t:
            return
        if samples and samples[-1].t == t:
            samples.pop()  # the last word at an instant: what is due then has happened
        model = self.physics.model
        zones = model.zone_temps()
        temps = model.temperatures() if self.record.pipe_names else {}
        samples.append(
            Sample(
                t=t,
                zones=tuple(zones.get(z, float("nan")) for z in self.record.zone_names),
                tank=tuple(model.tank.temps),
                pipes=tuple(temps.get(p, float("nan")) for p in self.record.pipe_names),
                outdoor_c=model.outdoor_c(),
                electric_j=model.energy().electric_in_j,
                heat_pump_w=model.heat_pump_state().electric_w,
                price=self.price(now),
                statuses=self.runtime.reporter.seq,
                statuses_atn=self._atn_statuses(now),
            )
        )
        self._interlocks(t)
        if self.opts.progress is not None:
            self.opts.progress(t, self.end_s)

    def _interlocks(self, t: float) -> None:
        """Note which interlock overrides each relay's boss now (an override's start comes with
        its problem event; its end only shows here, at the next sample)."""
        for node, relay in self.runtime.controller.relays.items():
            series = self.record.interlocks.get(node)
            was = series[-1][1] if series else None
            if self.record.interlock_seen(t, node, relay.overridden_by) and (
                was in _NARRATED_INTERLOCKS
            ):
                self._say(f"{was} interlock lets go of {node}", t)

    def _atn_statuses(self, now: datetime) -> int:
        """Distinct 5-minute slots the ATN has received a status of (a status sent again after
        a lost ack counts once)."""
        atn = self.emu.atn
        if atn is None:
            return 0
        for entry in reversed(atn.log.received):
            if self._atn_scanned is not None and entry.at < self._atn_scanned:
                break
            if isinstance(entry.message, Status):
                self._atn_slots.add(entry.message.slot_start)
        self._atn_scanned = now
        return len(self._atn_slots)

    # -------------------------------------------------------------------- events
    async def _events(self, sub: Subscription) -> None:
        async for ev in sub:
            self._event(ev)

    async def _drain(self, sub: Subscription) -> None:
        """Take the events still queued once the runtime has stopped."""
        while sub.backlog:
            ev = await sub.get()
            if ev is None:
                return
            self._event(ev)

    def _event(self, ev: Event) -> None:
        t = (ev.at - self.start).total_seconds()
        p = ev.payload
        if isinstance(p, ProblemEvent):
            self.record.problems.append((t, p))
            if p.kind not in _QUIET_PROBLEMS:
                self._say(f"problem {p.kind.value}: {p.summary}", t)
            elif p.kind is ProblemKind.INTERLOCK_OVERRIDE:
                self._override(t, p)
        elif isinstance(p, ModeChanged):
            self.record.mode_changed(t, p.mode)
            self._say(f"mode {p.previous.value} -> {p.mode.value}: {p.reason}", t)
        elif isinstance(p, HoldEnded):
            resumed = p.resumed_mode.value
            self._say(f"hold by {p.operator} {p.reason.value}; {resumed} control resumes", t)
        elif isinstance(p, ActuatorSnapshot):
            self._actuator(t, p)

    def _override(self, t: float, problem: ProblemEvent) -> None:
        relay = self.runtime.controller.relays.get(problem.subject)
        interlock = relay.overridden_by if relay is not None else None
        if interlock is None:
            return
        self.record.interlock_seen(t, problem.subject, interlock)
        if interlock in _NARRATED_INTERLOCKS:
            self._say(f"{interlock} interlock overrides {problem.subject}: {problem.summary}", t)

    def _actuator(self, t: float, snap: ActuatorSnapshot) -> None:
        if snap.state is not None:
            self.record.relay_seen(t, snap.node, snap.state)
        result, cmd = snap.last_result, snap.last_command
        if result is None or cmd is None or result.command_id != cmd.id:
            return
        seen = self._results_seen
        if result.command_id in seen:
            return
        seen.add(result.command_id)
        if len(seen) > 10_000:
            seen.clear()
            seen.add(result.command_id)
        self.record.commands.append(
            CommandRecord(t, snap.node, cmd.source, result.outcome, snap.boss)
        )

    def _say(self, text: str, t: float | None = None, *, console: bool = True) -> None:
        at_s = (self.clock.now() - self.start).total_seconds() if t is None else t
        line = f"(+{format_duration(timedelta(seconds=round(at_s)))}) {text}"
        if console and self.opts.socket is not None:
            self._tell(LogLevel.INFO, line)
        if self.opts.narrate is None:
            return
        local = (self.start + timedelta(seconds=at_s)).astimezone(self.tz)
        self.opts.narrate(f"{local:%a %m-%d %H:%M} {line}")

    def _tell(self, level: LogLevel, text: str) -> None:
        """Put ``text`` in the log of every console attached (and of those that attach later)."""
        line = LogLine(at=self.clock.now(), level=level, logger="walkthrough", message=text)
        self.runtime.house.publish(EventKind.LOG, line)


def _step_outcome(step: Step[ModeState]) -> str:
    if step.refusal is not None:
        return f"refused: {step.refusal.reason}"
    return "; ".join(step.notes) or "ok"


def _default_words(step: AnyStep) -> str:
    words = {
        "atn.go_silent": "the ATN goes silent",
        "atn.resume": "the ATN speaks again",
        "atn.terminate": "the ATN terminates its contract",
        "atn.stop_offering": "the ATN offers no new contract",
        "link.cut": "the uplink to the ATN is cut",
        "link.restore": "the uplink is back",
        "weather.normal": "the weather is back to the profile",
    }
    if step.do in words:
        return words[step.do]
    if isinstance(step, SensorFail):
        return f"{step.channel} breaks ({step.how})"
    if isinstance(step, SensorHeal):
        return f"{step.channel} is repaired"
    if isinstance(step, ColdSnap):
        return f"the outdoor air is {abs(step.by_c):g} K colder than the profile"
    if isinstance(step, HoldTake):
        return f"{step.operator} takes the admin hold for {step.minutes:g} min"
    if isinstance(step, HoldRelease):
        return f"{step.operator} releases the admin hold"
    if isinstance(step, RelaySet):
        return f"{step.operator} turns {step.node} {step.state.value}"
    if isinstance(step, ModeSet):
        return f"{step.operator} asks for {step.mode.value} control"
    return step.do
