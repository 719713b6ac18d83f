"""The event and audit log: problems, device health, mode / contract / hold changes, every
command with who sent it and its result, the console's own notes, and unknown events as such.

Newest at the bottom; the view follows new entries while the cursor is on the last row (move up
to read back, ``end`` to follow again). ``/`` filters on any text. Bounded like the state's log.
"""

from __future__ import annotations

from typing import ClassVar, Final

from rich.text import Text
from textual.binding import Binding, BindingType
from textual.events import Resize
from textual.message import Message
from textual.widgets import DataTable

from gwtui.state import LOG_ENTRIES, ConsoleState, LogEntry

LEVEL_STYLES: Final = {
    "debug": "#808080",
    "info": "",
    "warning": "bold #d7af00",
    "error": "bold #d75f5f",
    "critical": "bold #ffffff on #d70000",
}
KIND_WIDTH: Final = 8


class EventLogTable(DataTable[Text]):
    """The log as a table of time, kind and message."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "show_entry", "Full text", show=False),
        Binding("slash", "filter", "Filter"),
        Binding("end", "follow", "Follow"),
    ]

    class FilterRequested(Message):
        """``/`` pressed in the log."""

    def __init__(self, state: ConsoleState, *, id: str | None = None) -> None:  # noqa: A002
        super().__init__(id=id, cursor_type="row")
        self._state = state
        self.filter_text = ""
        self._drawn_serial = 0
        self._row_keys: list[str] = []
        self._entries: dict[str, LogEntry] = {}
        self._message_width = 40

    def on_mount(self) -> None:
        self.rebuild()

    def on_resize(self, _event: Resize) -> None:
        if self._message_width != self._compute_message_width():
            self.rebuild()

    def _compute_message_width(self) -> int:
        return max(20, self.size.width - 2 - (8 + 2) - (KIND_WIDTH + 2) - 2)

    def rebuild(self) -> None:
        self._message_width = self._compute_message_width()
        self.clear(columns=True)
        self.add_column("Time", width=8, key="time")
        self.add_column("Kind", width=KIND_WIDTH, key="kind")
        self.add_column("Message", width=self._message_width, key="message")
        self._row_keys = []
        self._entries = {}
        first = self._state.log_serial - len(self._state.log) + 1
        for offset, entry in enumerate(self._state.log):
            self._append(first + offset, entry)
        self._drawn_serial = self._state.log_serial
        self.action_follow()

    def sync(self) -> None:
        """Draw entries logged since the last call (and drop those that fell off)."""
        state = self._state
        if state.log_serial == self._drawn_serial:
            return
        following = not self.row_count or self.cursor_row >= self.row_count - 1
        new = min(state.log_serial - self._drawn_serial, len(state.log))
        first = state.log_serial - new + 1
        entries = list(state.log)[len(state.log) - new :]
        for offset, entry in enumerate(entries):
            self._append(first + offset, entry)
        self._drawn_serial = state.log_serial
        while len(self._row_keys) > LOG_ENTRIES:
            old = self._row_keys.pop(0)
            self._entries.pop(old, None)
            self.remove_row(old)
        if following:
            self.action_follow()

    def set_filter(self, text: str) -> None:
        if text != self.filter_text:
            self.filter_text = text
            self.rebuild()

    def _append(self, serial: int, entry: LogEntry) -> None:
        if self.filter_text and not entry.matches(self.filter_text):
            return
        style = LEVEL_STYLES.get(entry.level, "")
        key = f"log:{serial}"
        self.add_row(
            Text(f"{entry.at:%H:%M:%S}", style="#808080"),
            Text(entry.kind, style=style or "bold"),
            Text(entry.text, style=style),
            key=key,
        )
        self._row_keys.append(key)
        self._entries[key] = entry

    def action_show_entry(self) -> None:
        """The whole message of the highlighted entry (the column may cut it short)."""
        if not self.row_count:
            return
        key = self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value
        entry = self._entries.get(key or "")
        if entry is not None:
            title = f"{entry.at:%H:%M:%S} {entry.kind}"
            if entry.level in ("error", "critical"):
                self.notify(entry.text, title=title, severity="error")
            else:
                self.notify(entry.text, title=title)

    def action_follow(self) -> None:
        if self.row_count:
            self.move_cursor(row=self.row_count - 1, animate=False)

    def action_filter(self) -> None:
        self.post_message(self.FilterRequested())
