"""GwtuiApp: attaches to the SCADA, keeps the view-model current and runs the operator's actions.

One worker owns the connection: it attaches (offering to start a simulated SCADA when none
runs), reads events into :class:`~gwtui.state.ConsoleState`, and when the connection ends marks
everything not live and re-attaches with back-off. Updates are gathered for ``refresh_s`` and
drawn together, so a burst of readings costs one redraw. Changing actions live in
:class:`~gwtui.actions.ConsoleActions`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import ClassVar

from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.screen import Screen

from gwtui.actions import ConsoleActions
from gwtui.clock import Clock, SystemClock
from gwtui.connection import Backoff, Connector, ScadaClient, connect_api
from gwtui.launcher import LaunchError, SimLauncher
from gwtui.operations import Operations
from gwtui.screens.channel_detail import ChannelDetail
from gwtui.screens.main import MainScreen
from gwtui.screens.start_sim import StartSimModal
from gwtui.settings import ConsoleSettings
from gwtui.state import Changed, Changes, ConsoleState
from scada.api.client import ApiClientError, ApiConnectError, UnknownEvent
from scada.api.paths import default_socket_path
from scada.protocol import EventFrame, EventKind

#: How often the terminal is checked for a hang-up, in seconds.
TERMINAL_CHECK_S = 1.0

log = logging.getLogger(__name__)

YIELD_EVERY = 100
"""Events handled before the reader yields to the UI, so a backlog never freezes the screen."""

RESYNC_AFTER: frozenset[EventKind] = frozenset(
    {EventKind.HOLD, EventKind.MODE, EventKind.CONTRACT, EventKind.DEVICE}
)
"""News after which the whole snapshot is fetched again: each can change many rows at once
(a hold makes the console boss of every actuator), more than its event says."""

RESYNC_DELAY_S = 0.3
"""Let a burst of such news settle before asking for the snapshot."""


class GwtuiApp(ConsoleActions, App[None]):
    CSS_PATH = Path(__file__).with_name("gwtui.tcss")
    TITLE = "gwtui"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("question_mark,f1", "help", "Help"),
    ]

    def __init__(
        self,
        settings: ConsoleSettings | None = None,
        *,
        connector: Connector = connect_api,
        clock: Clock | None = None,
        launcher_factory: Callable[[Path], SimLauncher] = SimLauncher,
    ) -> None:
        super().__init__()
        self.settings = settings or ConsoleSettings()
        self.clock: Clock = clock or SystemClock()
        self.state = ConsoleState()
        self.operator = self.settings.operator
        self.ops = Operations(None)
        self.launcher: SimLauncher | None = None
        self.flush_listeners: list[Callable[[Changes], None]] = []
        """Called after every redraw of live data (the benchmark times the screen with it)."""
        self._connector = connector
        self._launcher_factory = launcher_factory
        self._socket = self.settings.socket
        self._client: ScadaClient | None = None
        self._pending = Changes()
        self._flush_scheduled = False
        self._last_flush_at = 0.0
        self._resync_scheduled = False
        self._bindings_holding = False
        self._last_client: ScadaClient | None = None
        self._wake = asyncio.Event()
        self._screen_ready = False
        self._screen_ready_event = asyncio.Event()
        self.attach_complete = False
        """True once the house name and recent history of the current session are in."""
        self.main_screen = MainScreen(self.state, self.clock, self.settings)

    def get_default_screen(self) -> Screen[None]:
        return self.main_screen

    #: The terminal we were started on, watched for a hang-up (None: not started on one).
    _terminal_fd: int | None = None

    def on_load(self) -> None:
        if sys.stdin is not None and sys.stdin.isatty():
            self._terminal_fd = sys.stdin.fileno()
        # Attach while the screen is still being built: the first frame with live values
        # then waits for the slower of the two, not for both one after the other.
        self.run_worker(self._connection_loop(), name="connection", group="connection")

    def on_mount(self) -> None:
        self.theme = "textual-dark"
        if self._terminal_fd is not None:
            self.set_interval(TERMINAL_CHECK_S, self._check_terminal, name="terminal")

    def _check_terminal(self) -> None:
        """Quit (releasing our hold) once the terminal is gone: an SSH session that dropped,
        a tmux pane killed. No hang-up signal reaches us when a parent (make) catches it, and
        Textual's input thread would spin on the dead terminal's end of file for ever."""
        if self._terminal_fd is not None and not os.isatty(self._terminal_fd):
            log.warning("the terminal went away: quitting")
            self._terminal_fd = None
            self.run_worker(self.action_quit(), name="hang-up", exclusive=True)

    def screen_ready(self) -> None:
        """Called by the main screen once its widgets exist: only then can news be drawn."""
        if self._screen_ready:
            return
        self._screen_ready = True
        self._screen_ready_event.set()
        self._flush_changes()  # whatever arrived while the screen was being built
        self.set_interval(self.settings.tick_s, self._tick, name="tick")
        self.set_interval(self.settings.keepalive_s, self._keep_alive, name="keep-alive")
        self.set_interval(self.settings.resync_s, self._schedule_resync, name="resync")

    @property
    def client(self) -> ScadaClient | None:
        return self._client

    @property
    def real_house(self) -> bool:
        return self.state.simulated is False

    # ------------------------------------------------------------------ connection

    async def _connection_loop(self) -> None:
        backoff = Backoff(
            self.settings.reconnect_first_s,
            self.settings.reconnect_cap_s,
            self.settings.reconnect_jitter,
        )
        offered = False
        while True:
            where = str(self._socket) if self._socket else "the SCADA's socket"
            self._apply(self.state.connecting(f"attaching to {where}"))
            try:
                client = await self._connector(self._socket)
            except ApiConnectError as exc:
                if not offered and self._may_offer_simulation(str(exc)):
                    offered = True
                    if await self._offer_simulation(str(exc)):
                        continue
                detail = str(exc)
            else:
                backoff.reset()
                detail = await self._run_session(client)
            delay = backoff.next_delay()
            now = self.log_now()
            self._apply(self.state.disconnected(detail, self.clock.monotonic() + delay, now))
            await self._sleep_or_wake(delay)

    async def _sleep_or_wake(self, delay: float) -> None:
        self._wake.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), delay)

    def action_reconnect(self) -> None:
        self._wake.set()

    async def _run_session(self, client: ScadaClient) -> str:
        self.attach_complete = False
        self._client = client
        self._last_client = client
        self.ops.client = client
        hello = client.hello
        self._apply(
            self.state.connected(
                hello.house_alias,
                simulated=hello.simulated,
                server_version=hello.server_version,
                at=self.log_now(),
            )
        )
        self.run_worker(self._after_attach(client), group="attach", exclusive=True)
        detail = "the SCADA closed the connection"
        try:
            count = 0
            async for item in client.events():
                self._on_item(item)
                count += 1
                if count % YIELD_EVERY == 0:
                    await asyncio.sleep(0)
        except Exception as exc:  # a console bug must not kill the connection loop
            log.exception("event handling failed")
            detail = f"console error: {exc}"
        finally:
            self._client = None
            self.ops.client = None
            await client.close()
        last_error = getattr(client, "last_error", None)
        return f"{detail} ({last_error})" if last_error else detail

    async def _after_attach(self, client: ScadaClient) -> None:
        """Fill in what the event stream does not carry: the house's name and recent history."""
        try:
            houses = await client.list_houses()
            current = next((h for h in houses.houses if h.alias == self.state.house_alias), None)
            if current is not None:
                self.state.house_name = current.display_name
            recent = await client.recent_events(self.settings.backfill_events)
        except ApiClientError as exc:
            self.state.note(self.log_now(), "console", "warning", f"history unavailable: {exc}")
            self._apply(Changes(Changed.LOG | Changed.HEADER))
        else:
            self.state.backfill(recent.events, self.clock.now())
            if self._screen_ready:  # else the log draws itself whole when it mounts
                self.main_screen.rebuild_log()
            self._apply(Changes(Changed.HEADER | Changed.LOG))
        self.attach_complete = True

    def _on_item(self, item: EventFrame | UnknownEvent) -> None:
        changes = self.state.apply(item, self.clock.now())
        self._pending.merge(changes)
        if isinstance(item, EventFrame) and item.event in RESYNC_AFTER:
            self._schedule_resync(RESYNC_DELAY_S)
        if isinstance(item, EventFrame) and item.event is EventKind.SNAPSHOT:
            self._flush_changes()  # the first full frame should not wait for the batch timer
            return
        if self._flush_scheduled or not self._pending:
            return
        # Leading-edge throttle: news after a quiet spell is drawn at once; a burst is drawn
        # at most once per refresh_s (real time: this is about the terminal, not the house).
        wait = self.settings.refresh_s - (time.monotonic() - self._last_flush_at)
        if wait <= 0:
            self._flush_changes()
        else:
            self._flush_scheduled = True
            self.set_timer(wait, self._flush_changes, name="flush")

    def _schedule_resync(self, delay_s: float = 0.0) -> None:
        if self._client is None or self._resync_scheduled:
            return
        self._resync_scheduled = True
        # Textual timers need a positive delay (a zero one divides by zero inside).
        self.set_timer(max(delay_s, 0.001), self._start_resync, name="resync-once")

    def _start_resync(self) -> None:
        self.run_worker(self._resync(), group="resync", exclusive=True)

    async def _resync(self) -> None:
        self._resync_scheduled = False
        client = self._client
        if client is None:
            return
        try:
            snap = await client.snapshot()
        except ApiClientError as exc:
            log.info("snapshot refresh failed: %s", exc)
            return
        if client is self._client:  # not a snapshot of a connection that has since ended
            self._apply(self.state.apply_snapshot(snap, self.clock.now()))

    def _apply(self, changes: Changes) -> None:
        self._pending.merge(changes)
        self._flush_changes()

    def _flush_changes(self) -> None:
        self._flush_scheduled = False
        changes, self._pending = self._pending, Changes()
        if not changes or not self._screen_ready:
            self._pending.merge(changes)
            return
        self._last_flush_at = time.monotonic()
        self.main_screen.apply_changes(changes)
        holding = self.state.holder_is(self.operator)
        if holding != self._bindings_holding:
            # Only the hold changes which keys are offered (release); the footer is rebuilt
            # on refresh_bindings, so never for the many header updates that change nothing.
            self._bindings_holding = holding
            self.refresh_bindings()
        for screen in self.screen_stack:
            if isinstance(screen, ChannelDetail):
                screen.refresh_from()
        for listener in self.flush_listeners:
            listener(changes)

    def _tick(self) -> None:
        self.main_screen.tick()
        for screen in self.screen_stack:
            if isinstance(screen, ChannelDetail):
                screen.refresh_from()

    # ------------------------------------------------------------------ simulation offer

    def _may_offer_simulation(self, reason: str) -> bool:
        if not self.settings.offer_simulation:
            return False
        target = self._socket or default_socket_path()
        return not target.exists() or "nothing is listening" in reason

    async def _offer_simulation(self, reason: str) -> bool:
        """Ask; start a simulated SCADA if the operator wants one. True to re-attach at once."""
        target = self._socket or default_socket_path()
        await self._screen_ready_event.wait()  # a dialog needs the screen under it
        choice = await self.push_screen_wait(StartSimModal(str(target), reason))
        if choice == "quit":
            self.exit()
            return False
        if choice != "start":
            return False
        launcher = self._launcher_factory(target)
        self.launcher = launcher
        self._apply(self.state.connecting(f"starting a simulated SCADA on {target}"))
        try:
            launcher.start()
            await launcher.wait_ready()
        except LaunchError as exc:
            self.report_error(f"could not start a simulated SCADA: {exc}")
            return False
        self._socket = target
        self.notify(f"Simulated SCADA started on {target}", title="Simulation")
        return True

    # ------------------------------------------------------------------ keep-alive, exit

    def _keep_alive(self) -> None:
        if self._client is not None and self.state.holder_is(self.operator):
            self.run_worker(self._send_keep_alive(), group="keep-alive", exclusive=True)

    async def _send_keep_alive(self) -> None:
        out = await self.ops.keep_alive(self.operator)
        if not out.ok:
            self.report_error(out.message)

    async def action_quit(self) -> None:
        if self._client is not None and self.state.holder_is(self.operator):
            try:
                async with asyncio.timeout(3.0):
                    await self.ops.release_hold(self.operator)
            except TimeoutError:
                log.warning("releasing the hold timed out at exit")
        await self._close_client()
        if self.launcher is not None:
            await asyncio.to_thread(self.launcher.stop)
        self.exit()

    async def _close_client(self) -> None:
        client = self._last_client
        if client is not None and not client.closed:
            await client.close()

    async def on_unmount(self) -> None:
        # However the app ends (Ctrl-C, a lost terminal), leave no socket half-open; the
        # cancelled connection worker may not have finished closing it.
        await self._close_client()
        if self.launcher is not None:
            self.launcher.stop()

    # ------------------------------------------------------------------ palette

    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        yield from self.console_commands()
        yield from super().get_system_commands(screen)
