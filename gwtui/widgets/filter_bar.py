"""A one-line filter box that appears on ``/`` above a table and filters as you type.

Enter keeps the filter and hands the keyboard back to the table; Escape clears it. Hidden while
empty and unfocused so it costs no screen row in 80x24.
"""

from __future__ import annotations

from typing import ClassVar

from textual.binding import Binding, BindingType
from textual.message import Message
from textual.widgets import Input


class FilterBar(Input):
    """Typing filters live; posts :class:`FilterBar.Done` when the operator leaves it."""

    DEFAULT_CLASSES = "filter-bar"

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "clear_filter", "Clear filter", show=True),
    ]

    class Done(Message):
        """The operator finished editing (the table should take focus back)."""

    def __init__(self, placeholder: str, *, id: str | None = None) -> None:  # noqa: A002
        super().__init__(placeholder=placeholder, id=id, compact=True)
        self.display = False

    def open(self) -> None:
        self.display = True
        self.focus()

    def action_clear_filter(self) -> None:
        self.value = ""
        self._finish()

    async def action_submit(self) -> None:
        self._finish()

    def _finish(self) -> None:
        self.display = bool(self.value)
        self.post_message(self.Done())
