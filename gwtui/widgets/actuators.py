"""Every actuator with its read-back state, what it was commanded, its boss and its last command.

The last command's result moves pending -> confirmed (read back in the commanded state), or
ends refused / failed with the SCADA's reason; an interlock that overrode a command says so.
``t`` asks to toggle the highlighted relay (the screen checks the hold and confirms first).
"""

from __future__ import annotations

from typing import ClassVar, Final

from rich.text import Text
from textual.binding import Binding, BindingType
from textual.events import Resize
from textual.message import Message

from gwtui.format import BOSS_LABELS, relay_label
from gwtui.state import ActuatorView, CommandPhase, ConsoleState
from gwtui.widgets.live_table import LiveTable
from scada.protocol import CommandSource, RelayState

COLUMNS: Final = ("relay", "state", "commanded", "boss", "last")
LABELS: Final = {
    "relay": "Relay",
    "state": "State",
    "commanded": "Cmd",
    "boss": "Boss",
    "last": "Last command",
}
GREY: Final = "#808080"
PHASE_STYLES: Final = {
    CommandPhase.NONE: GREY,
    CommandPhase.PENDING: "bold #d7af00",
    CommandPhase.CONFIRMED: "#00af00",
    CommandPhase.REFUSED: "bold #d75f5f",
    CommandPhase.FAILED: "bold #d75f5f",
}


def column_widths(total: int) -> dict[str, int]:
    relay = 22 if total < 110 else 34
    fixed = {"relay": relay, "state": 5, "commanded": 5, "boss": 10}
    used = sum(fixed.values()) + 2 * len(COLUMNS)
    return {**fixed, "last": max(16, total - used)}


RELAY_STYLES: Final = {RelayState.ON: "bold #00d700", RelayState.OFF: "bold"}


def relay_text(state: RelayState | None, *, live: bool) -> Text:
    """ON green, OFF plain, unknown (``?``) yellow; all grey when not live."""
    style = RELAY_STYLES.get(state, "bold #d7af00") if state is not None else "bold #d7af00"
    return Text(relay_label(state), style=style if live else GREY)


class ActuatorTable(LiveTable):
    """One row per actuator; ``t`` toggles the highlighted one (after confirmation)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("t", "toggle_relay", "Toggle relay"),
    ]

    class ToggleRequested(Message):
        def __init__(self, node: str) -> None:
            super().__init__()
            self.node = node

    def __init__(
        self,
        state: ConsoleState,
        *,
        readonly: bool = False,
        id: str | None = None,  # noqa: A002
    ) -> None:
        super().__init__(id=id)
        self._state = state
        self.readonly = readonly
        self._widths: dict[str, int] = {}
        self._row_nodes: list[str] = []

    def on_mount(self) -> None:
        self.rebuild()

    def on_resize(self, _event: Resize) -> None:
        if self._widths != column_widths(self.size.width - 2):
            self.rebuild()

    def rebuild(self) -> None:
        keep = self.selected_node()
        self._widths = column_widths(max(40, self.size.width - 2))
        self.clear(columns=True)
        for key in COLUMNS:
            self.add_column(LABELS[key], width=self._widths[key], key=key)
        self._row_nodes = list(self._state.actuators)
        for node, view in self._state.actuators.items():
            self.add_row(*self._cells(view), key=node)
        if keep in self._row_nodes:
            self.move_cursor(row=self._row_nodes.index(keep), animate=False)

    def refresh_rows(self) -> None:
        if list(self._state.actuators) != self._row_nodes:
            self.rebuild()
            return
        for node, view in self._state.actuators.items():
            self.set_row(node, dict(zip(COLUMNS, self._cells(view), strict=True)))

    def selected_node(self) -> str | None:
        if not self.row_count or not self._row_nodes:
            return None
        row = min(max(self.cursor_row, 0), len(self._row_nodes) - 1)
        return self._row_nodes[row]

    def _cells(self, view: ActuatorView) -> tuple[Text, Text, Text, Text, Text]:
        live = self._state.live
        name = Text(view.display_name, style="" if live else GREY)
        state = relay_text(view.state, live=live)
        if live and view.state is not None and view.commanded not in (None, view.state):
            state.stylize("reverse")  # read-back disagrees with the command: make it loud
        commanded = Text(relay_label(view.commanded), style="" if live else GREY)
        boss_style = "bold #ffd700" if view.boss is CommandSource.ADMIN else ""
        if view.boss is CommandSource.INTERLOCK:
            boss_style = "bold #d75f5f"
        boss = Text(BOSS_LABELS.get(view.boss, view.boss.value), style=boss_style if live else GREY)
        last = Text(view.describe_last(), style=PHASE_STYLES[view.phase] if live else GREY)
        return name, state, commanded, boss, last

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "toggle_relay" and self.readonly:
            return False  # read-only: the key is not offered at all
        return super().check_action(action, parameters)

    def action_toggle_relay(self) -> None:
        node = self.selected_node()
        if node is not None:
            self.post_message(self.ToggleRequested(node))
