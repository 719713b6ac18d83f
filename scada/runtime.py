"""Composition root: settings + layout + drivers + clock → a running SCADA.

:class:`Runtime` owns one house. It builds the actors (one per sensor device, one per relay
board, the controller, the status reporter, the staleness sweeper, the uplink), runs them under
one :class:`Supervisor` in one TaskGroup, and serves the local API. ``run()`` returns a
:class:`RunOutcome`: either a plain stop, or a request to switch to another house, which
:func:`serve` honours by building a fresh runtime on the new layout.
"""

from __future__ import annotations

import asyncio
import logging
import os
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from scada.actors.controller import Controller
from scada.actors.forwarder import Forwarder
from scada.actors.house import HouseState
from scada.actors.link_watch import LinkWatch
from scada.actors.relays import RelayActor
from scada.actors.reporter import StatusReporter
from scada.actors.sensors import SensorActor
from scada.actors.service import RuntimeService
from scada.actors.snapshots import link_changes_in, link_states, link_status
from scada.actors.supervisor import Supervisor
from scada.api.server import ApiServer
from scada.clock import Clock
from scada.drivers.factory import Devices
from scada.hub import EventHub
from scada.layout import Layout
from scada.link.base import Uplink
from scada.protocol.enums import Mode, ProblemKind, Severity
from scada.protocol.readings import Status
from scada.store import Store

log = logging.getLogger("scada.runtime")

SWEEP_PERIOD_S = 1.0
# The last few hours of statuses, for tests and a debugger: the store keeps every one on disk.
# (A day of them, 288, made RSS climb some 11 MB through every first day of a run.)
RECENT_STATUSES = 30


@dataclass(frozen=True, slots=True)
class RunOutcome:
    """Why :meth:`Runtime.run` returned. ``switch_to`` is set when a console asked for a house."""

    switch_to: str | None = None
    simulated: bool = True


class Runtime:
    """One house, running. Build it inside the event loop that will run it."""

    def __init__(
        self,
        layout: Layout,
        clock: Clock,
        devices: Devices,
        *,
        layout_path: Path | None = None,
        uplink: Uplink | None = None,
        socket_path: Path | None = None,
        simulated: bool | None = None,
        list_houses: Callable[[], list[tuple[str, str, bool, str]]] | None = None,
        extra_actors: Mapping[str, Callable[[], Awaitable[None]]] | None = None,
        console_gids: frozenset[int] = frozenset(),
        store: Store | None = None,
    ) -> None:
        self.layout = layout
        self.layout_path = layout_path
        self.clock = clock
        self.boot_id = str(uuid.uuid4())
        self.hub = EventHub()
        self.house = HouseState(layout, clock, self.hub, self.boot_id)
        self.simulated = layout.simulated if simulated is None else simulated
        self.supervisor = Supervisor(clock, self._actor_restarted)
        self.relay_actors = {
            name: RelayActor(board, _board_channels(layout, name), clock, self.house)
            for name, board in devices.boards.items()
        }
        self.uplink = uplink
        self.controller = Controller(self.house, self.relay_actors, uplink)
        self.store = store
        self.link_watch = LinkWatch(
            self.house,
            lambda now: link_status(self.controller, now),
            states=lambda now: link_states(self.controller, now),
            changes_in=lambda now: link_changes_in(self.controller, now),
        )
        self.controller.on_state_changed = self.link_watch.look
        self.forwarder: Forwarder | None = None
        if store is not None:
            ctl = self.controller
            self.forwarder = Forwarder(
                store, uplink, clock, may_send=lambda: ctl.state.mode is Mode.REMOTE
            )
            ctl.atn.forwarder = self.forwarder
        listen = getattr(uplink, "add_state_listener", None)
        if listen is not None:
            ctl, forwarder, watch = self.controller, self.forwarder, self.link_watch

            def link_changed(*_: object) -> None:
                ctl.wake()
                if forwarder is not None:
                    forwarder.link_changed()
                watch.look(clock.now())

            listen(link_changed)
        self.statuses: list[Status] = []
        self.reporter = StatusReporter(self.house, self._deliver_status)
        self.service = RuntimeService(self, list_houses or (list))
        self.socket_path = socket_path
        self.console_gids = console_gids  # besides our own group's members (settings)
        self._stop = asyncio.Event()
        self._outcome = RunOutcome()
        sensors = [
            (n, d)
            for n, d in devices.sensors.items()
            if any(c.device == n for c in layout.channels)
        ]
        for i, (dev_name, dev) in enumerate(sensors):
            chans = [c for c in layout.channels if c.device == dev_name]
            poller = SensorActor(dev, chans, clock, self.house, phase=i / len(sensors))
            self.supervisor.add(f"sensor:{dev_name}", poller.run)
        for name, actor in self.relay_actors.items():
            self.supervisor.add(f"relay:{name}", actor.run)
        self.supervisor.add("controller", self.controller.run)
        self.supervisor.add("status", self.reporter.run)
        self.supervisor.add("sweeper", self._sweep)
        if self.forwarder is not None:
            self.supervisor.add("forwarder", self.forwarder.run)
        if uplink is not None:
            self.supervisor.add("uplink", lambda: uplink.run(self.controller.atn.on_uplink))
            self.supervisor.add("link-watch", self.link_watch.run)
        for name, fn in (extra_actors or {}).items():
            self.supervisor.add(name, fn)
        self._missing = dict(devices.missing)

    async def run(self) -> RunOutcome:
        """Run until :meth:`stop` or :meth:`switch_house`; then cancel every actor cleanly."""
        server = (
            ApiServer(self.service, self.socket_path, allowed_gids=self.console_gids)
            if self.socket_path
            else None
        )
        if server is not None:
            await server.start()
        log.info(
            "serving %s (%s, %d channels, %d actuators)%s",
            self.layout.house.alias,
            "simulated" if self.simulated else "REAL hardware",
            len(self.layout.channels),
            len(self.layout.actuators),
            f" on {self.socket_path}" if self.socket_path else "",
        )
        for device, reason in self._missing.items():
            self.house.device_failed(device, f"not started: {reason}")
        actors = asyncio.create_task(self.supervisor.run(), name="supervisor")
        stopper = asyncio.create_task(self._stop.wait(), name="stop")
        try:
            await asyncio.wait({actors, stopper}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for t in (actors, stopper):
                t.cancel()
            await asyncio.gather(actors, stopper, return_exceptions=True)
            if server is not None:
                await server.close()
        if not self._stop.is_set() and not actors.cancelled():
            # The actors ended by themselves: never pass that off as a clean stop.
            failure = actors.exception()
            if failure is not None:
                log.critical("the runtime's actors failed; stopping", exc_info=failure)
                raise failure
            log.error("every actor of the runtime returned; stopping")
        return self._outcome

    def stop(self) -> None:
        self._stop.set()

    def switch_house(self, alias: str, simulated: bool) -> None:
        self._outcome = RunOutcome(switch_to=alias, simulated=simulated)
        self._stop.set()

    async def _sweep(self) -> None:
        while True:
            self.house.sweep()
            # No channel can go stale before the book's next deadline: sleep until then (at
            # least SWEEP_PERIOD_S), not every second through hours of fresh readings.
            quiet_s = self.house.book.quiet_for_s(self.clock.now())
            await self.clock.sleep(max(SWEEP_PERIOD_S, quiet_s))

    def _deliver_status(self, status: Status) -> None:
        self.statuses.append(status)
        del self.statuses[:-RECENT_STATUSES]
        self.controller.atn.status_ready(status)

    def _actor_restarted(self, name: str, exc: BaseException, backoff_s: float) -> None:
        self.house.problem(
            ProblemKind.ACTOR_RESTARTED,
            name,
            f"actor {name} crashed ({type(exc).__name__}: {exc}); restarting in {backoff_s:.1f} s",
            Severity.ERROR,
        )


def _board_channels(layout: Layout, board: str) -> list[int]:
    return [a.board_channel for a in layout.actuators if a.device == board]


def data_dir_default() -> Path:
    """``$SCADA_DATA_DIR``, else ``$XDG_STATE_HOME/gwscada``, else ``~/.local/state/gwscada``."""
    if env := os.environ.get("SCADA_DATA_DIR"):
        return Path(env)
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "gwscada"
