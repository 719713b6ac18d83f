"""``scada serve``: run the runtime headless until SIGTERM/SIGINT, switching houses on request."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from scada.api.server import ApiServerError
from scada.clock import Clock, LoopClock, SystemClock, VirtualTimeLoop, anchored_clock
from scada.drivers.buses import (
    Buses,
    Emulation,
    EmulationError,
    NoEmulatorError,
    SystemBuses,
    emulation,
)
from scada.drivers.factory import DriverFamily, DriversUnavailableError, build_devices
from scada.layout import Layout, LayoutError, load_layout
from scada.layout.houses import find_house, list_houses
from scada.link import MqttLink, MqttSettings
from scada.runtime import Runtime
from scada.store import Store, StoreError, store_path
from scada.systemd import JournalFormatter, Notifier, under_journal

log = logging.getLogger("scada.serve")

DEFAULT_HOUSE = "dw1.isone.nh.orange.1"


@dataclass(frozen=True, slots=True)
class ServeOptions:
    layout_path: Path
    simulated: bool
    socket_path: Path | None
    data_dir: Path
    drivers: (
        DriverFamily  # memory: in-memory devices; real: real drivers (emulated buses with --sim)
    )
    speed: float | None = None  # virtual seconds per real second; None = system clock
    atn: bool = True  # with --sim: a simulated ATN in-process
    console_gids: frozenset[int] = frozenset()  # groups whose members may attach a console
    mqtt: MqttSettings | None = None  # the uplink's broker (--broker): then no in-process ATN
    # Shared virtual time (the soak's hidden options): with ``speed``, virtual time is
    # ``sim_start + (time.monotonic() - sim_anchor) * speed`` in every process given them, and
    # it goes on across a restart. Without them virtual time starts at the wall clock's now.
    sim_start: datetime | None = None
    sim_anchor: float | None = None
    sim_faults: Path | None = None  # a fault plan for the emulation (sim.soak.plan)


class ServeError(Exception):
    """``scada serve`` cannot start; the message is for the installer."""


def run_serve(opts: ServeOptions) -> int:
    """Run until stopped. Returns the process exit code."""
    if opts.speed is not None:
        speed, anchor = opts.speed, opts.sim_anchor
        with asyncio.Runner(loop_factory=lambda: VirtualTimeLoop(speed, anchor=anchor)) as runner:
            return runner.run(_serve(opts, virtual=True))
    return asyncio.run(_serve(opts, virtual=False))


async def _serve(opts: ServeOptions, *, virtual: bool) -> int:
    notifier = Notifier.from_env()  # under systemd: READY, WATCHDOG, STOPPING
    try:
        return await _serve_houses(opts, virtual=virtual, notifier=notifier)
    finally:
        if notifier is not None:
            notifier.stopping()
            notifier.close()


async def _serve_houses(opts: ServeOptions, *, virtual: bool, notifier: Notifier | None) -> int:
    clock: Clock = SystemClock()
    if virtual:
        loop = asyncio.get_running_loop()
        start = opts.sim_start
        clock = LoopClock(datetime.now(UTC)) if start is None else anchored_clock(start, loop)
    try:
        store = Store.open(store_path(opts.data_dir), clock)
    except (StoreError, OSError) as e:
        raise ServeError(f"cannot open the store in {opts.data_dir}: {e}") from None
    try:
        return await _serve_with_store(opts, clock, store, notifier)
    finally:
        store.close()


async def _serve_with_store(
    opts: ServeOptions, clock: Clock, store: Store, notifier: Notifier | None
) -> int:
    path, simulated = opts.layout_path, opts.simulated
    while True:
        layout = _load(path)
        emu = _emulation(layout, simulated, opts, clock)
        if emu is not None:
            await emu.start()
        try:
            runtime = _build(
                layout, path, simulated, opts, clock, emu=emu, notifier=notifier, store=store
            )
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, _stopper(runtime, notifier))
            try:
                outcome = await runtime.run()
            except ApiServerError as e:
                raise ServeError(str(e)) from None
            finally:
                for sig in (signal.SIGTERM, signal.SIGINT):
                    loop.remove_signal_handler(sig)
        finally:
            if emu is not None:
                await emu.stop()
        if outcome.switch_to is None:
            log.info("stopped")
            return 0
        log.info(
            "switching to %s (%s)", outcome.switch_to, "simulated" if outcome.simulated else "REAL"
        )
        if notifier is not None:
            notifier.status(f"switching to {outcome.switch_to}")
        path, simulated = find_house(outcome.switch_to), outcome.simulated


def _load(path: Path) -> Layout:
    try:
        return load_layout(path)
    except LayoutError as e:
        raise ServeError(str(e)) from None


def _emulation(
    layout: Layout, simulated: bool, opts: ServeOptions, clock: Clock
) -> Emulation | None:
    if not simulated or opts.drivers == "memory":
        return None
    workdir = opts.data_dir / "sim" / layout.house.alias
    workdir.mkdir(parents=True, exist_ok=True)
    try:
        return emulation(
            layout, workdir, clock, atn=opts.atn and opts.mqtt is None, faults=opts.sim_faults
        )
    except NoEmulatorError as e:
        raise ServeError(str(e)) from None
    except EmulationError as e:
        raise ServeError(f"{e.option or f'cannot simulate {layout.house.alias}'}: {e}") from None


def _build(
    layout: Layout,
    path: Path,
    simulated: bool,
    opts: ServeOptions,
    clock: Clock,
    *,
    emu: Emulation | None,
    notifier: Notifier | None = None,
    store: Store | None = None,
) -> Runtime:
    family: DriverFamily = "memory" if opts.drivers == "memory" else "real"
    buses: Buses | None = emu.buses if emu is not None else (None if simulated else SystemBuses())
    try:
        devices = build_devices(layout, family, clock, buses)
    except DriversUnavailableError as e:
        raise ServeError(f"{layout.house.alias}: {e}") from None
    mqtt = (
        MqttLink(opts.mqtt, layout.house.scada, layout.house.alias, clock)
        if opts.mqtt is not None
        else None
    )
    runtime = Runtime(
        layout,
        clock,
        devices,
        layout_path=path,
        socket_path=opts.socket_path,
        simulated=simulated or layout.simulated,
        uplink=mqtt if mqtt is not None else (emu.uplink if emu is not None else None),
        list_houses=_houses,
        extra_actors=_extra_actors(layout, simulated, emu, notifier),
        console_gids=opts.console_gids,
        store=store,
    )
    if mqtt is not None:
        mqtt.boot_id = runtime.boot_id  # one boot id in the presence and in the statuses
    return runtime


def _extra_actors(
    layout: Layout, simulated: bool, emu: Emulation | None, notifier: Notifier | None
) -> dict[str, Callable[[], Awaitable[None]]]:
    """The simulator's actor under ``--sim``; the systemd notifier's under systemd (it says
    READY=1 once the runtime serves, then pings the watchdog from this event loop)."""
    actors: dict[str, Callable[[], Awaitable[None]]] = {}
    if emu is not None:
        actors["simulator"] = emu.run
    if notifier is not None:
        kind = "simulated" if simulated or layout.simulated else "REAL hardware"
        status = f"serving {layout.house.alias} ({kind})"
        systemd = notifier
        actors["systemd"] = lambda: systemd.run(lambda: status)
    return actors


def _stopper(runtime: Runtime, notifier: Notifier | None) -> Callable[[], None]:
    def stop() -> None:
        if notifier is not None:
            notifier.stopping()
        runtime.stop()

    return stop


def _houses() -> list[tuple[str, str, bool, str]]:
    return [(h.alias, h.display_name, h.simulated, str(h.path)) for h in list_houses() if h.valid]


def configure_logging(level: str) -> None:
    """Logs go to stderr, one line each. Under systemd (stderr is the journal) without a
    timestamp and with a ``<N>`` priority prefix, so the journal records each line's level."""
    handler = logging.StreamHandler(sys.stderr)
    plain = logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s")
    handler.setFormatter(JournalFormatter() if under_journal() else plain)
    logging.basicConfig(level=getattr(logging, level.upper(), logging.INFO), handlers=[handler])
    logging.captureWarnings(capture=True)  # a library's warnings become log lines with a level too
    # pymodbus logs a warning per failed (re)connect; the drivers report a device's health
    # once per transition instead (scada/actors/health.py), so its warnings would only flood.
    logging.getLogger("pymodbus").setLevel(logging.ERROR)
