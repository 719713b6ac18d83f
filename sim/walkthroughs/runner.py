"""Running a walkthrough: the real runtime on a simulated house, on virtual time.

:func:`run` builds, in one process and on one :class:`~scada.clock.VirtualTimeLoop` (as fast as
possible, or ``speed`` times real time), exactly what ``scada serve --sim`` runs: the emulated
buses with the house physics behind them, the real drivers on those buses, the runtime
(sensors, relays, controller, statuses) and the simulated ATN over the in-process link. The runtime
keeps its outbox in a store (SQLite) in a scratch folder, as ``scada serve`` does. It
takes the walkthrough's steps at their times (:mod:`sim.walkthroughs.steps`), samples the house
every simulated minute and listens to the runtime's events (:mod:`sim.walkthroughs.recorder`),
and at the end judges every check (:mod:`sim.walkthroughs.checks`).

The house file may be run with a coarser fidelity (the walkthrough's ``[fidelity]``): a floor
on the sensors' sample periods and a cap on flow-meter pulses per gallon are applied to the
layout itself (:mod:`sim.walkthroughs.house`), so the drivers, the emulators and the runtime all
see the same, coarser house.

With a ``socket`` the runtime also serves its local API there, so a console (gwtui) can watch
the run live; the narration goes to the console's log too. At the end the console is told, and
the walkthrough's record closes (its checks are judged then), but the runtime keeps serving,
slowed to real time so the house barely moves, until the last console has been detached for
:data:`~sim.walkthroughs.linger.LINGER_GRACE_S`: a console left on the final picture stays live
(its detail views and requests still work) instead of greying out, and the report comes when the
watcher is done. ``stop_signals`` makes SIGINT and SIGTERM end the run early (or end that
lingering), with a report of where it stopped, rather than killing it
(:mod:`sim.walkthroughs.halt`).
"""

from __future__ import annotations

import asyncio
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from scada.clock import LoopClock, run_virtual
from scada.drivers.factory import build_devices
from scada.hub import Subscription
from scada.layout import Layout
from scada.protocol import EventKind, LogLevel, LogLine
from scada.runtime import Runtime
from scada.store import Store, store_path
from sim.emulation import UNREAD_ATN_LOG_KEEP, SimEmulation
from sim.house.profiles import load_prices
from sim.physics_source import PhysicsSource
from sim.walkthroughs.checks import CheckResult, judge
from sim.walkthroughs.halt import HaltedError, catch_stop_signals, wait_until
from sim.walkthroughs.house import house_layout, scratch_dir
from sim.walkthroughs.linger import serve_until_detached
from sim.walkthroughs.load import (
    WalkthroughError,
    check_against,
    find_walkthrough,
    load_walkthrough,
)
from sim.walkthroughs.record import Record
from sim.walkthroughs.recorder import Recorder, subscribe
from sim.walkthroughs.spec import BossAt, ModeAt, RelayAt, Walkthrough, format_duration
from sim.walkthroughs.steps import Weather, observe, schedule, take

STOP_TIMEOUT_S = 60.0

WATCH_SPEED = 60.0
"""The speed of a run served to consoles when none is given: as fast as possible would show a
console nothing but the end."""

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


class _Run:
    """One run of one walkthrough (built and awaited inside its virtual-time loop)."""

    clock: LoopClock
    emu: SimEmulation
    physics: PhysicsSource
    weather: Weather
    runtime: Runtime
    recorder: Recorder

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
        self.halt = asyncio.Event()
        """Set by SIGINT / SIGTERM (with ``stop_signals``): end the run where it is."""
        self.lingered_s = 0.0
        """Real time spent serving consoles after the end: no part of the run's pace."""

    # ---------------------------------------------------------------------- run
    async def go(self, started: float) -> WalkReport:
        workdir = self.opts.workdir or scratch_dir()
        own_dir = self.opts.workdir is None
        self.clock = LoopClock(self.start)
        try:
            emu, store = self._build(workdir)
        except BaseException:
            if own_dir:  # nothing was started yet; only the folder is left to remove
                shutil.rmtree(workdir, ignore_errors=True)
            raise
        error: str | None = None
        stopped: timedelta | None = None
        release_signals = catch_stop_signals(self.halt, enabled=self.opts.stop_signals)
        try:
            await emu.start()
            runtime = self._runtime(store)
            sub = subscribe(runtime.hub)
            running = asyncio.create_task(runtime.run(), name="runtime")
            helpers = [
                asyncio.create_task(self.recorder.events(sub), name="walkthrough-events"),
                asyncio.create_task(self.recorder.sampler(), name="walkthrough-sampler"),
            ]
            try:
                error = await self._timeline(running)
                if error is None:
                    # Let what is due at the very end (a status at a slot boundary) happen.
                    await self.clock.sleep(0.001)
                self.recorder.sample(at_s=self.end_s if error is None else None)
                if error is None and self.opts.socket is not None:
                    await self._linger(sub, helpers, running)
            except HaltedError:
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
                await self.recorder.drain(sub)
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

    def _build(self, workdir: Path) -> tuple[SimEmulation, Store]:
        """The emulated house (kept as ``emu``, ``physics``, ``weather``) and the store, in
        ``workdir``; neither started."""
        emu = self.emu = SimEmulation(
            self.layout,
            workdir,
            self.clock,
            atn=self.wt.atn,
            physics_period_s=self.wt.fidelity.physics_step_s,
        )
        if emu.atn is not None:
            # The recorder hears every status as it comes; kept whole, a month of messages
            # would make the process's heap, and every collection of it, several times larger.
            emu.atn.log.keep = UNREAD_ATN_LOG_KEEP
        assert isinstance(emu.source, PhysicsSource)
        self.physics = emu.source
        self.weather = Weather(emu.source.model)
        return emu, Store.open(store_path(workdir), self.clock)

    def _runtime(self, store: Store) -> Runtime:
        """The runtime on the started emulation, and the recorder of what it does."""
        emu, clock = self.emu, self.clock
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
        self.recorder = Recorder(
            self.record,
            start=self.start,
            end_s=self.end_s,
            clock=clock,
            physics=self.physics,
            runtime=runtime,
            atn=emu.atn,
            price=self.price,
            progress=self.opts.progress,
            say=self._say,
        )
        self.record.mode_changed(0.0, runtime.controller.state.mode)
        return runtime

    def _halted(self) -> timedelta:
        """Close the record where a stop signal found the run; how far it had got."""
        self.recorder.sample()
        self._say("stopped before the end, as asked")
        return self.clock.now() - self.start

    def _judge(self) -> list[CheckResult]:
        return [judge(c, i, self.record, self.end_s) for i, c in enumerate(self.wt.expect)]

    async def _linger(
        self, sub: Subscription, helpers: list[asyncio.Task[None]], running: asyncio.Task[object]
    ) -> None:
        """Close the record and tell the consoles the run is over; then keep serving them
        (:func:`~sim.walkthroughs.linger.serve_until_detached`)."""
        began = time.perf_counter()
        for task in helpers:
            task.cancel()
        await asyncio.gather(*helpers, return_exceptions=True)
        await self.recorder.drain(sub)
        sub.close()
        results = self._judge()
        verdict = f"{sum(1 for r in results if r.ok)}/{len(results)} checks passed"
        self._tell(
            LogLevel.WARNING,
            f"{self.name} is over: {verdict}; quit the console for the report (until then the "
            "house runs on at real time)",
        )
        hub = self.runtime.hub
        if hub.subscribers:
            self._say(
                f"over, {verdict}: serving the final state at real time until the console detaches",
                self.end_s,
                console=False,
            )
        await serve_until_detached(hub, self.halt, running)
        self.lingered_s = time.perf_counter() - began

    async def _timeline(self, running: asyncio.Task[object]) -> str | None:
        """Take every step and read every point check at its time; then run to the end.
        None when the run got to its end, else why the runtime ended before.

        Raises:
            HaltedError: a stop signal came first.
        """
        for at_s, _, index, item in schedule(self.wt):
            if await self._until(at_s, running):
                return self._failure(running)
            if isinstance(item, ModeAt | BossAt | RelayAt):
                now = self.clock.now()
                self.record.seen[index] = observe(item, self.runtime.controller, self.physics, now)
            else:
                self._say(await take(item, self.emu, self.runtime.controller, self.weather))
        if await self._until(self.end_s, running):
            return self._failure(running)
        return None

    async def _until(self, at_s: float, running: asyncio.Task[object]) -> bool:
        """Sleep until ``at_s`` into the run; True if the runtime ended on the way.

        Raises:
            HaltedError: a stop signal came first.
        """
        when = self.start + timedelta(seconds=at_s)
        return await wait_until(self.clock, when, running, self.halt)

    def _failure(self, running: asyncio.Task[object]) -> str:
        at = format_duration(self.clock.now() - self.start)
        if running.cancelled():
            return f"the runtime was cancelled at {at}"
        exc = running.exception()
        if exc is not None:
            return f"the runtime failed at {at}: {type(exc).__name__}: {exc}"
        return f"the runtime stopped by itself at {at}"

    # ----------------------------------------------------------------- narration
    def _say(self, text: str, t: float | None = None, *, console: bool = True) -> None:
        """Narrate ``text`` as of ``t`` seconds into the run (default: now), to ``narrate`` and,
        when served and ``console``, to the consoles' log."""
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
