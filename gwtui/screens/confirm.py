"""A confirmation that cannot be hit by accident.

Lessons from lazygit's worst bugs: the confirm key (``y``) is never the key that opened the
dialog (``t``, ``m``, ``x``...), Cancel has the focus so a stray Enter cancels, and ``y``
presses in the first moments after opening are ignored so a held-down key's auto-repeat cannot
confirm.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Label, Static

CONFIRM_KEY = "y"


class ConfirmModal(ModalScreen[bool]):
    """Ask a yes/no question; dismisses with True only on a deliberate ``y``."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(CONFIRM_KEY, "confirm", "Confirm"),
        Binding("n,escape", "cancel", "Cancel"),
    ]

    def __init__(
        self,
        title: str,
        body: str,
        *,
        confirm_label: str = "Confirm",
        danger: bool = False,
        real_house: bool = False,
        guard_s: float = 0.3,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(classes="-real" if real_house else "")
        self._title = title
        self._body = body
        self._confirm_label = confirm_label
        self._danger = danger
        self._guard_s = guard_s
        self._monotonic = monotonic
        self._opened_at = monotonic()
        self.ignored_presses = 0
        """Confirm presses swallowed by the auto-repeat guard (tests read it)."""

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="dialog"):
            if "-real" in self.classes:
                yield Static(" REAL HOUSE: this acts on real hardware ", classes="real-banner")
            yield Label(self._title, classes="dialog-title")
            yield Static(self._body, classes="dialog-body")
            yield Static(
                f"Press [b]{CONFIRM_KEY}[/b] to confirm, [b]n[/b] or [b]Esc[/b] to cancel.",
                classes="dialog-hint",
            )
            with Horizontal(classes="dialog-buttons"):
                yield Button("Cancel (n)", id="cancel", compact=True)
                yield Button(
                    f"{self._confirm_label} ({CONFIRM_KEY})",
                    id="confirm",
                    variant="error" if self._danger else "warning",
                    compact=True,
                )

    def on_mount(self) -> None:
        self._opened_at = self._monotonic()
        self.query_one("#cancel", Button).focus()

    def action_confirm(self) -> None:
        if self._monotonic() - self._opened_at < self._guard_s:
            self.ignored_presses += 1
            return
        self.dismiss(result=True)

    def action_cancel(self) -> None:
        self.dismiss(result=False)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "confirm":
            self.action_confirm()
        else:
            self.dismiss(result=False)
