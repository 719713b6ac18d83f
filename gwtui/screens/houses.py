"""The house picker: every house the SCADA offers, simulated and real, and switching to one.

A simulated house is one Enter away. A REAL house drives real hardware, so it takes a typed
confirmation: the operator types the house's alias (lazygit's lesson: a typed word for the
worst cases, never for the frequent ones).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, OptionList, Static
from textual.widgets.option_list import Option

from scada.protocol import HouseInfo, HouseList

SIM_STYLE = "bold #000000 on #5fd7ff"
REAL_STYLE = "bold #ffffff on #d70000"


@dataclass(frozen=True, slots=True)
class HouseChoice:
    alias: str
    simulated: bool
    confirm: str | None


def house_label(house: HouseInfo, current: str | None) -> Text:
    text = Text()
    text.append(
        " SIM  " if house.simulated else " REAL ",
        style=SIM_STYLE if house.simulated else REAL_STYLE,
    )
    text.append(f" {house.alias}", style="bold")
    text.append(f"  {house.display_name}")
    if house.alias == current:
        text.append("  (running now)", style="italic #808080")
    return text


class HousePicker(ModalScreen[HouseChoice | None]):
    """Pick a house; a real one asks for its alias to be typed."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "back", "Back")]

    def __init__(self, houses: HouseList, *, real_house: bool = False) -> None:
        super().__init__(classes="-real" if real_house else "")
        self._houses = houses.houses
        self._current = houses.current
        self._pending: HouseInfo | None = None
        self._started_real = real_house

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="dialog wide-dialog"):
            yield Label("Switch the SCADA to another house", classes="dialog-title")
            yield Static(
                "Enter switches to a simulated house. A REAL house drives real hardware: "
                "you will type its alias to confirm.",
                classes="dialog-body",
            )
            options = [
                Option(house_label(h, self._current), id=f"{i}") for i, h in enumerate(self._houses)
            ]
            if not options:
                yield Static("The SCADA offers no houses.", classes="dialog-error")
            yield OptionList(*options, id="houses")
            with Vertical(id="real-confirm"):
                yield Static("", id="real-warning", classes="real-banner")
                yield Input(placeholder="type the house alias", id="confirm-alias", compact=True)
                yield Static("", id="confirm-error", classes="dialog-error")

    def on_mount(self) -> None:
        self.query_one("#real-confirm").display = False
        option_list = self.query_one("#houses", OptionList)
        current = next((i for i, h in enumerate(self._houses) if h.alias == self._current), 0)
        if self._houses:
            option_list.highlighted = current
        option_list.focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        house = self._houses[int(event.option.id or 0)]
        if house.simulated:
            self.dismiss(HouseChoice(house.alias, simulated=True, confirm=None))
            return
        self._pending = house
        self.add_class("-real")  # the whole dialog turns red while a real house is chosen
        self.query_one("#real-warning", Static).update(
            f" REAL HOUSE {house.alias}: type its alias and press Enter to switch "
        )
        box = self.query_one("#real-confirm")
        box.display = True
        self.query_one("#confirm-alias", Input).focus()

    def on_input_changed(self, _event: Input.Changed) -> None:
        self.query_one("#confirm-error", Static).update("")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        house = self._pending
        if house is None:
            return
        if event.value.strip() != house.alias:
            self.query_one("#confirm-error", Static).update(
                "That is not the alias: nothing was switched."
            )
            return
        self.dismiss(HouseChoice(house.alias, simulated=False, confirm=house.alias))

    def action_back(self) -> None:
        if self._pending is not None:
            self._pending = None
            self.set_class(self._started_real, "-real")
            self.query_one("#confirm-alias", Input).value = ""
            self.query_one("#confirm-error", Static).update("")
            self.query_one("#real-confirm").display = False
            self.query_one("#houses", OptionList).focus()
            return
        self.dismiss(None)
