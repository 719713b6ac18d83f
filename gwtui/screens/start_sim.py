"""No SCADA is running: offer to start a simulated house right here, keep waiting, or quit."""

from __future__ import annotations

from typing import ClassVar, Literal

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Label, Static

StartChoice = Literal["start", "wait", "quit"]


class StartSimModal(ModalScreen[StartChoice]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("s", "choose('start')", "Start simulated"),
        Binding("w,escape", "choose('wait')", "Keep waiting"),
        Binding("q", "choose('quit')", "Quit"),
    ]

    def __init__(self, socket: str, reason: str) -> None:
        super().__init__()
        self._socket = socket
        self._reason = reason

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="dialog"):
            yield Label("No SCADA is running", classes="dialog-title")
            yield Static(self._reason, classes="dialog-error dialog-body")
            yield Static(
                "Start a simulated house here? This runs "
                f"[b]scada serve --sim --socket {self._socket}[/b] as a child of this console "
                "(no hardware is touched) and stops it when you quit. Or keep waiting: the "
                "console attaches by itself as soon as a SCADA starts.",
                classes="dialog-body",
            )
            with Horizontal(classes="dialog-buttons"):
                yield Button("Start simulated (s)", id="start", variant="primary", compact=True)
                yield Button("Keep waiting (w)", id="wait", compact=True)
                yield Button("Quit (q)", id="quit", compact=True)

    def on_mount(self) -> None:
        self.query_one("#start", Button).focus()

    def action_choose(self, choice: StartChoice) -> None:
        self.dismiss(choice)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        choice: StartChoice = "start"
        if event.button.id == "wait":
            choice = "wait"
        elif event.button.id == "quit":
            choice = "quit"
        self.dismiss(choice)
