"""``?`` / F1: every key the console answers to, grouped by where it works.

Built from the live binding tables (so it cannot drift from what the keys really do), with a
longer sentence per action; in ``--readonly`` the changing keys are listed as disabled.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import ClassVar, Final

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Label, Static

KEY_NAMES: Final = {
    "question_mark": "?",
    "slash": "/",
    "escape": "Esc",
    "enter": "Enter",
    "end": "End",
    "tab": "Tab",
}

DESCRIPTIONS: Final = {
    "help": "this help",
    "command_palette": "command palette: every action by name",
    "quit": "quit (releases your admin hold first)",
    "app.quit": "quit (releases your admin hold first)",
    "show_view('live')": "live view: sensors and actuators",
    "show_view('log')": "event and audit log (own view below 40 rows)",
    "app.take_hold": "take or extend an admin hold (asks your name and minutes)",
    "app.release_hold": "release your admin hold (asks to confirm)",
    "app.flip_mode": "flip LocalControl / RemoteControl (asks to confirm)",
    "app.pick_house": "house picker: switch the SCADA to another house",
    "app.reconnect": "reconnect to the SCADA now",
    "select_cursor": "channel detail: longer plot and device health",
    "filter": "filter rows by typing (Enter keeps, Esc clears)",
    "pause": "pause / resume the live values (collection continues)",
    "toggle_relay": "toggle the highlighted relay (needs your hold; confirm with y)",
    "follow": "jump to the newest entry and follow",
    "show_entry": "the highlighted entry's whole message",
}

CHANGING: Final = frozenset(
    {"app.take_hold", "app.release_hold", "app.flip_mode", "app.pick_house", "toggle_relay"}
)


def key_label(keys: str) -> str:
    """``question_mark,f1`` -> ``? / F1``."""
    out = []
    for key in keys.split(","):
        name = KEY_NAMES.get(key)
        if name is None:
            if "+" in key:
                mod, _, base = key.rpartition("+")
                name = f"{mod.capitalize()}+{base.upper() if len(base) == 1 else base}"
            elif len(key) <= 3 and key.startswith("f") and key[1:].isdigit():
                name = key.upper()
            else:
                name = key
        out.append(name)
    return " / ".join(out)


def binding_rows(bindings: Iterable[BindingType], *, readonly: bool) -> list[tuple[str, str]]:
    rows = []
    for b in bindings:
        if not isinstance(b, Binding):
            continue
        text = DESCRIPTIONS.get(b.action, b.description or b.action)
        if readonly and b.action in CHANGING:
            text += "  (disabled: read-only)"
        rows.append((key_label(b.key), text))
    return rows


Section = tuple[str, Sequence[tuple[str, str]]]


class HelpScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q,question_mark,f1", "close", "Close"),
    ]

    def __init__(self, sections: Sequence[Section], *, real_house: bool = False) -> None:
        super().__init__(classes="-real" if real_house else "")
        self._sections = sections

    def compose(self) -> ComposeResult:
        table = Table.grid(padding=(0, 2))
        table.add_column(style="bold #ffd700", no_wrap=True)
        table.add_column()
        for title, rows in self._sections:
            table.add_row(Text(title, style="bold underline"), "")
            for key, text in rows:
                table.add_row(key, text)
            table.add_row("", "")
        with VerticalScroll(id="dialog", classes="dialog wide-dialog"):
            yield Label("gwtui keys", classes="dialog-title")
            yield Static(table)
            yield Static("Esc closes · arrows scroll", classes="dialog-hint")

    def action_close(self) -> None:
        self.dismiss(None)
