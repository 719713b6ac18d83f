"""Taking an admin hold: who you are and for how long.

While the hold lasts the console is the boss of every actuator; the SCADA owns the countdown
(shown in the header), the console sends keep-alives while it stays open and releases the hold
when it quits. When the hold ends, LocalControl or RemoteControl resumes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static

from scada.protocol import MAX_HOLD_MINUTES


@dataclass(frozen=True, slots=True)
class HoldRequest:
    operator: str
    minutes: float


def parse_hold(operator: str, minutes: str) -> HoldRequest | str:
    """The request, or a sentence saying what is wrong with the fields."""
    name = operator.strip()
    if not name:
        return "Type your name: it goes into the audit log with every change you make."
    try:
        value = float(minutes)
    except ValueError:
        return "Minutes must be a number."
    if not 0 < value <= MAX_HOLD_MINUTES:
        return f"Minutes must be more than 0 and at most {MAX_HOLD_MINUTES:g} (24 h)."
    return HoldRequest(name, value)


class HoldModal(ModalScreen[HoldRequest | None]):
    """Ask for the operator's name and the hold's length."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def __init__(
        self, operator: str, minutes: float, *, extend: bool = False, real_house: bool = False
    ) -> None:
        super().__init__(classes="-real" if real_house else "")
        self._operator = operator
        self._minutes = minutes
        self._extend = extend

    def compose(self) -> ComposeResult:
        title = "Extend your admin hold" if self._extend else "Take an admin hold"
        with Vertical(id="dialog", classes="dialog"):
            if "-real" in self.classes:
                yield Static(" REAL HOUSE: this acts on real hardware ", classes="real-banner")
            yield Label(title, classes="dialog-title")
            yield Static(
                "While you hold, you are the boss of every actuator. The SCADA counts down; "
                "this console keeps the hold alive while open and releases it when you quit.",
                classes="dialog-body",
            )
            with Horizontal(classes="field"):
                yield Label("Your name", classes="field-label")
                yield Input(self._operator, id="operator", max_length=64, compact=True)
            with Horizontal(classes="field"):
                yield Label(f"Minutes (max {MAX_HOLD_MINUTES:g})", classes="field-label")
                yield Input(
                    f"{self._minutes:g}", id="minutes", type="number", max_length=8, compact=True
                )
            yield Static("", id="hold-error", classes="dialog-error")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Cancel (Esc)", id="cancel", compact=True)
                yield Button("Take hold (Enter)", id="take", variant="warning", compact=True)

    def on_mount(self) -> None:
        self.query_one("#minutes", Input).focus()

    def _submit(self) -> None:
        outcome = parse_hold(
            self.query_one("#operator", Input).value, self.query_one("#minutes", Input).value
        )
        if isinstance(outcome, str):
            self.query_one("#hold-error", Static).update(outcome)
            return
        self.dismiss(outcome)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self._submit()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "take":
            self._submit()
        else:
            self.dismiss(None)

    def action_cancel(self) -> None:
        self.dismiss(None)
