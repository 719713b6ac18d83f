"""Everything the operator can do, as app actions (keys, footer and command palette share them).

Each changing action checks ``--readonly`` and the connection first, asks for confirmation
where a mistake would move hardware or hand control over, then reports the outcome where the
operator is looking (a toast, the actuator's row) and in the log. Nothing is dropped silently.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Final

from textual.app import App, SystemCommand

from gwtui.clock import Clock
from gwtui.format import MODE_LABELS, relay_label
from gwtui.operations import Operations, Outcome
from gwtui.screens.channel_detail import ChannelDetail
from gwtui.screens.confirm import ConfirmModal
from gwtui.screens.help import HelpScreen, Section, binding_rows
from gwtui.screens.hold import HoldModal
from gwtui.screens.houses import HousePicker
from gwtui.settings import ConsoleSettings
from gwtui.state import Changed, Changes, ConsoleState
from gwtui.widgets.actuators import ActuatorTable
from gwtui.widgets.eventlog import EventLogTable
from gwtui.widgets.sensors import SensorTable
from scada.protocol import HoldState, HouseList, Mode, RelayState

CHANGING_ACTIONS: Final = frozenset({"take_hold", "release_hold", "flip_mode", "pick_house"})
READONLY_MESSAGE: Final = "Read-only console (--readonly): nothing can be changed."


class ConsoleActions(App[None]):
    """The operator's actions; :class:`gwtui.app.GwtuiApp` supplies the connection."""

    settings: ConsoleSettings
    state: ConsoleState
    clock: Clock
    operator: str
    ops: Operations

    #: Redraw what ``changes`` touched; supplied by :class:`gwtui.app.GwtuiApp`.
    _apply: Callable[[Changes], None]
    #: Attach to the SCADA again now; supplied by :class:`gwtui.app.GwtuiApp`.
    action_reconnect: Callable[[], None]

    def log_now(self) -> datetime:
        """The time the console stamps its own log entries with: the SCADA's clock (which an
        accelerated simulation runs fast), so the log reads as one timeline."""
        return self.state.server_now(self.clock.now())

    @property
    def real_house(self) -> bool:
        return self.state.simulated is False

    def check_action(self, action: str, _parameters: tuple[object, ...]) -> bool | None:
        # Hidden (not merely dimmed) in read-only: the footer then shows only what works.
        if action in CHANGING_ACTIONS and self.settings.readonly:
            return False
        return action != "release_hold" or self.state.holder_is(self.operator)

    # ------------------------------------------------------------------ reporting

    def report(self, out: Outcome) -> None:
        """Show an outcome: failures loudly (toast + log), successes briefly."""
        level = "info" if out.ok else "error"
        self.state.note(self.log_now(), "console", level, out.message)
        self._apply(Changes(Changed.LOG))
        self.notify(out.message, severity="information" if out.ok else "error", timeout=6)

    def report_error(self, message: str) -> None:
        self.state.note(self.log_now(), "console", "error", message)
        self._apply(Changes(Changed.LOG))
        self.notify(message, severity="error", timeout=8)

    def _can_change(self) -> bool:
        if self.settings.readonly:
            self.notify(READONLY_MESSAGE, severity="warning")
            return False
        if not self.state.live:
            self.notify("Not attached to a SCADA: nothing can be sent.", severity="warning")
            return False
        return True

    # ------------------------------------------------------------------ hold

    def action_take_hold(self) -> None:
        if self._can_change():
            self.run_worker(self._take_hold(), group="action", exclusive=True)

    async def _take_hold(self) -> None:
        extend = self.state.holder_is(self.operator)
        modal = HoldModal(
            self.operator, self.settings.hold_minutes, extend=extend, real_house=self.real_house
        )
        request = await self.push_screen_wait(modal)
        if request is None:
            return
        self.operator = request.operator
        out = await self.ops.take_hold(request.operator, request.minutes)
        if out.ok and isinstance(out.result, dict) and isinstance(out.result.get("hold"), dict):
            hold = HoldState.model_validate(out.result["hold"])
            self._apply(self.state._hold(hold))  # noqa: SLF001 -- the reply is news like an event
        self.report(out)
        self.refresh_bindings()

    def action_release_hold(self) -> None:
        if not self._can_change():
            return
        if not self.state.holder_is(self.operator):
            self.notify("You hold no admin hold.", severity="warning")
            return
        self.run_worker(self._release_hold(), group="action", exclusive=True)

    async def _release_hold(self) -> None:
        previous = self.state.hold.previous_mode if self.state.hold else None
        resumes = MODE_LABELS.get(previous, "the previous mode") if previous else "the mode"
        ok = await self.push_screen_wait(
            ConfirmModal(
                "Release your admin hold?",
                f"{resumes} takes the actuators back and sets them as it wants.",
                confirm_label="Release",
                real_house=self.real_house,
                guard_s=self.settings.confirm_guard_s,
            )
        )
        if ok:
            self.report(await self.ops.release_hold(self.operator))

    # ------------------------------------------------------------------ relays

    def request_toggle(self, node: str) -> None:
        if not self._can_change():
            return
        hold = self.state.hold
        if not self.state.holder_is(self.operator):
            who = f"{hold.operator} holds the house" if hold else "there is no admin hold"
            self.notify(f"Toggling needs your admin hold ({who}): press h.", severity="warning")
            return
        self.run_worker(self._toggle(node), group="action", exclusive=True)

    async def _toggle(self, node: str) -> None:
        view = self.state.actuators.get(node)
        if view is None:
            return
        current = view.state if view.state is not None else view.commanded
        target = RelayState.OFF if current is RelayState.ON else RelayState.ON
        ok = await self.push_screen_wait(
            ConfirmModal(
                f"Turn {relay_label(target)} {view.display_name}?",
                f"{node} reads back {relay_label(view.state)}, commanded "
                f"{relay_label(view.commanded)}. You are its boss under your admin hold.",
                confirm_label=f"Turn {relay_label(target)}",
                danger=self.real_house,
                real_house=self.real_house,
                guard_s=self.settings.confirm_guard_s,
            )
        )
        if not ok:
            return
        out = await self.ops.set_relay(node, target, self.operator)
        if out.ok:
            return  # the row shows pending, then the read-back
        if out.result is None:
            # Refused before it became a command: show it on the actuator's own row and log.
            self._apply(self.state.refused(node, target, out.message, self.log_now()))
            self.report(out)
        else:
            # The SCADA's command result is already on the row and in the log: just say it.
            self.notify(out.message, severity="error", timeout=8)

    # ------------------------------------------------------------------ mode

    def action_flip_mode(self) -> None:
        if self._can_change():
            self.run_worker(self._switch_mode(), group="action", exclusive=True)

    async def _switch_mode(self) -> None:
        target = Mode.LOCAL if self.state.mode is Mode.REMOTE else Mode.REMOTE
        label = MODE_LABELS[target]
        why = (
            "The home-alone strategy runs the house."
            if target is Mode.LOCAL
            else "The ATN dispatches the house under its DispatchContract (needs a live one)."
        )
        ok = await self.push_screen_wait(
            ConfirmModal(
                f"Switch to {label}?",
                why,
                confirm_label=f"Switch to {label}",
                real_house=self.real_house,
                guard_s=self.settings.confirm_guard_s,
            )
        )
        if ok:
            self.report(await self.ops.set_mode(target, self.operator))

    # ------------------------------------------------------------------ houses

    def action_pick_house(self) -> None:
        if self._can_change():
            self.run_worker(self._pick_house(), group="action", exclusive=True)

    async def _pick_house(self) -> None:
        listed = await self.ops.list_houses()
        if not listed.ok or not isinstance(listed.result, HouseList):
            self.report(listed)
            return
        choice = await self.push_screen_wait(HousePicker(listed.result, real_house=self.real_house))
        if choice is None:
            return
        self.report(
            await self.ops.switch_house(
                choice.alias, choice.simulated, self.operator, choice.confirm
            )
        )

    # ------------------------------------------------------------------ views

    def open_channel(self, channel: str) -> None:
        self.push_screen(ChannelDetail(self.state, self.clock, channel, real_house=self.real_house))

    def help_sections(self) -> list[Section]:
        from gwtui.screens.main import MainScreen  # noqa: PLC0415 -- main imports the app

        ro = self.settings.readonly
        return [
            (
                "Everywhere",
                [("? / F1", "this help"), ("Ctrl+P", "command palette"), ("Ctrl+Q", "quit")],
            ),
            ("Main screen", binding_rows(MainScreen.BINDINGS, readonly=ro)),
            (
                "Sensors",
                [("↑ ↓ PgUp PgDn", "move"), *binding_rows(SensorTable.BINDINGS, readonly=ro)],
            ),
            ("Actuators", binding_rows(ActuatorTable.BINDINGS, readonly=ro)),
            ("Log", binding_rows(EventLogTable.BINDINGS, readonly=ro)),
            ("Tab / Shift+Tab", [("", "move between sensors, actuators and log")]),
            (
                "Dialogs",
                [
                    ("y", "confirm (ignored in the first 0.3 s)"),
                    ("n / Esc", "cancel; Cancel has the focus"),
                ],
            ),
        ]

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(self.help_sections(), real_house=self.real_house))

    def console_commands(self) -> Iterator[SystemCommand]:
        """Every action by name, for the command palette."""
        yield SystemCommand("Help", "Every key the console answers to", self.action_help)
        if not self.settings.readonly:
            yield SystemCommand(
                "Take admin hold",
                "Become boss of every actuator for a while",
                self.action_take_hold,
            )
            if self.state.holder_is(self.operator):
                yield SystemCommand(
                    "Release admin hold", "Hand control back to the mode", self.action_release_hold
                )
            yield SystemCommand(
                "Toggle relay",
                "Toggle the highlighted relay (needs your hold)",
                self._toggle_selected,
            )
            yield SystemCommand(
                "Switch mode", "Flip LocalControl / RemoteControl", self.action_flip_mode
            )
            yield SystemCommand(
                "Switch house", "Pick another house for the SCADA", self.action_pick_house
            )
        yield SystemCommand("Live view", "Sensors and actuators", lambda: self._show_view("live"))
        yield SystemCommand(
            "Event log", "Problems, commands, audit", lambda: self._show_view("log")
        )
        yield SystemCommand("Filter sensors", "Show only matching channels", self._filter_sensors)
        yield SystemCommand(
            "Pause / resume sensors", "Freeze the live values on screen", self._pause_sensors
        )
        yield SystemCommand("Reconnect", "Attach to the SCADA again now", self.action_reconnect)

    def _toggle_selected(self) -> None:
        node = self.query_one(ActuatorTable).selected_node() if self._main_mounted() else None
        if node is not None:
            self.request_toggle(node)

    def _show_view(self, view: str) -> None:
        if self._main_mounted():
            main = self.screen_stack[0]
            if hasattr(main, "action_show_view"):
                main.action_show_view(view)

    def _filter_sensors(self) -> None:
        if self._main_mounted():
            self._show_view("live")
            self.screen_stack[0].query_one(SensorTable).action_filter()

    def _pause_sensors(self) -> None:
        if self._main_mounted():
            self.screen_stack[0].query_one(SensorTable).action_pause()

    def _main_mounted(self) -> bool:
        return bool(self.screen_stack) and self.screen_stack[0].is_mounted
