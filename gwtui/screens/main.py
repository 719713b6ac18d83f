"""The console's one main screen: header, sensors, actuators and the event log, and the footer.

In a short terminal (under 40 rows, e.g. 80x24) the log has its own view (``2``; ``1`` goes
back to the live view); from 40 rows up everything is on screen at once, and from 140 columns
the actuators and the log sit side by side under the sensors. The house-changing keys are bound
here (not on the app) so they do nothing while a dialog is open.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Container, Vertical
from textual.screen import Screen
from textual.widgets import Footer, Input, Static

from gwtui.clock import Clock
from gwtui.settings import ConsoleSettings
from gwtui.state import Changed, Changes, ConsoleState
from gwtui.widgets.actuators import ActuatorTable
from gwtui.widgets.eventlog import EventLogTable
from gwtui.widgets.filter_bar import FilterBar
from gwtui.widgets.header import HouseHeader
from gwtui.widgets.sensors import SensorTable

if TYPE_CHECKING:
    from gwtui.app import GwtuiApp


class MainScreen(Screen[None]):
    # Textual annotates these as instance-or-class variables, so ClassVar does not type-check.
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (140, "-wide")]  # noqa: RUF012
    VERTICAL_BREAKPOINTS = [(0, "-short"), (40, "-tall")]  # noqa: RUF012

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("1", "show_view('live')", "Live"),
        Binding("2", "show_view('log')", "Log"),
        Binding("h", "app.take_hold", "Hold"),
        Binding("x", "app.release_hold", "Release"),
        Binding("m", "app.flip_mode", "Mode"),
        Binding("s", "app.pick_house", "House"),
        Binding("ctrl+r", "app.reconnect", "Reconnect", show=False),
        Binding("q", "app.quit", "Quit"),
    ]

    def __init__(self, state: ConsoleState, clock: Clock, settings: ConsoleSettings) -> None:
        super().__init__()
        self._state = state
        self._clock = clock
        self._settings = settings
        self.view = "live"
        self._titles: dict[str, str] = {}

    @property
    def console(self) -> GwtuiApp:
        from gwtui.app import GwtuiApp  # noqa: PLC0415 -- the app imports this module

        app = self.app
        assert isinstance(app, GwtuiApp)
        return app

    def compose(self) -> ComposeResult:
        header = HouseHeader(self._state, self._clock, id="header")
        header.operator = self._settings.operator
        header.readonly = self._settings.readonly
        yield header
        with Vertical(id="body"):
            with Vertical(id="live-pane", classes="pane"):
                yield Static("Sensors", id="sensors-title", classes="pane-title")
                yield FilterBar("filter channels (Enter keeps, Esc clears)", id="sensor-filter")
                yield SensorTable(
                    self._state, self._clock, flash_s=self._settings.flash_s, id="sensors"
                )
            with Container(id="lower"):
                with Vertical(id="actuators-pane", classes="pane"):
                    yield Static("Actuators", id="actuators-title", classes="pane-title")
                    yield ActuatorTable(
                        self._state, readonly=self._settings.readonly, id="actuators"
                    )
                with Vertical(id="log-pane", classes="pane"):
                    yield Static("Event and audit log", id="log-title", classes="pane-title")
                    yield FilterBar("filter the log (Enter keeps, Esc clears)", id="log-filter")
                    yield EventLogTable(self._state, id="log")
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        self.query_one(SensorTable).focus()
        self._update_titles()
        self.console.screen_ready()

    # ------------------------------------------------------------------ updates

    def _widgets_gone(self) -> bool:
        """The app is closing and this screen's widgets are gone (a worker that was past its
        last await, such as the attach, may still report in)."""
        return not self.query(HouseHeader)

    def apply_changes(self, changes: Changes) -> None:
        if self._widgets_gone():
            return
        flags = changes.flags
        header = self.query_one(HouseHeader)
        if flags & (Changed.HEADER | Changed.CONNECTION):
            header.operator = self.console.operator
            header.refresh_from()
            self.set_class(self._state.simulated is False, "-real")
        sensors = self.query_one(SensorTable)
        if flags & Changed.CHANNEL_LAYOUT:
            sensors.rebuild()
        elif flags & (Changed.CONNECTION | Changed.DEVICES):
            sensors.refresh_channels()
        elif changes.channels:
            sensors.refresh_channels(changes.channels)
        if flags & (Changed.ACTUATORS | Changed.CONNECTION):
            self.query_one(ActuatorTable).refresh_rows()
        if flags & Changed.LOG:
            self.query_one(EventLogTable).sync()
        self._update_titles()

    def tick(self) -> None:
        if self._widgets_gone():
            return
        header = self.query_one(HouseHeader)
        header.operator = self.console.operator
        header.refresh_from()
        self.query_one(SensorTable).tick()

    def rebuild_log(self) -> None:
        if not self._widgets_gone():
            self.query_one(EventLogTable).rebuild()

    def _update_titles(self) -> None:
        sensors = self.query_one(SensorTable)
        title = f"Sensors · {len(self._state.channels)} channels"
        if sensors.filter_text:
            title += f" · filter “{sensors.filter_text}”"
        if sensors.paused:
            title += " · PAUSED (p resumes)"
        self._set_title("#sensors-title", title)
        acts = self.query_one(ActuatorTable)
        if self._settings.readonly:
            hint = "read-only"
        elif self._state.holder_is(self.console.operator):
            hint = "t toggles, y confirms"
        else:
            hint = "t toggles (needs your hold: h)"
        self._set_title(
            "#actuators-title",
            f"Actuators · {len(self._state.actuators)} · {hint}" if acts.row_count else "Actuators",
        )
        log = self.query_one(EventLogTable)
        log_title = f"Event and audit log · {len(self._state.log)} entries"
        if log.filter_text:
            log_title += f" · filter “{log.filter_text}”"
        self._set_title("#log-title", log_title)

    def _set_title(self, selector: str, text: str) -> None:
        # Only when it changed, and without a layout pass: titles are one fixed line, and a
        # relayout on every batch of readings would cost more than the readings themselves.
        if self._titles.get(selector) != text:
            self._titles[selector] = text
            self.query_one(selector, Static).update(text, layout=False)

    # ------------------------------------------------------------------ views

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "show_view" and self.has_class("-tall"):
            return False  # everything is on screen already: keep the footer for what matters
        return super().check_action(action, parameters)

    def action_show_view(self, view: str) -> None:
        self.view = view
        self.set_class(view == "log", "-log-view")
        if view == "log":
            self.query_one(EventLogTable).focus()
        else:
            self.query_one(SensorTable).focus()

    def on_sensor_table_filter_requested(self, _message: SensorTable.FilterRequested) -> None:
        self.query_one("#sensor-filter", FilterBar).open()

    def on_event_log_table_filter_requested(self, _message: EventLogTable.FilterRequested) -> None:
        self.query_one("#log-filter", FilterBar).open()

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "sensor-filter":
            self.query_one(SensorTable).set_filter(event.value.strip())
        elif event.input.id == "log-filter":
            self.query_one(EventLogTable).set_filter(event.value.strip())
        self._update_titles()

    def on_filter_bar_done(self, message: FilterBar.Done) -> None:
        message.stop()
        if self.focused is not None and self.focused.id == "log-filter":
            self.query_one(EventLogTable).focus()
        else:
            self.query_one(SensorTable).focus()
        self._update_titles()

    def on_sensor_table_pause_changed(self, _message: SensorTable.PauseChanged) -> None:
        header = self.query_one(HouseHeader)
        header.paused = self.query_one(SensorTable).paused
        header.refresh_from()
        self._update_titles()

    def on_sensor_table_channel_chosen(self, message: SensorTable.ChannelChosen) -> None:
        self.console.open_channel(message.channel)

    def on_actuator_table_toggle_requested(self, message: ActuatorTable.ToggleRequested) -> None:
        self.console.request_toggle(message.node)
