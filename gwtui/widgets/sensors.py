"""The live sensor table: every channel grouped by the house's structure.

The group (Tank, Pipes, Zones, Outdoor, Flow, Power) is named in the first column on its first
row, like a printed report, which costs no extra rows in 80x24.

Each row shows value with unit, age, a sparkline of recent history and the channel's health.
A value that changed flashes for a moment; a channel that is stale, out of range, never read or
on a failing device is drawn grey with the reason. ``/`` filters, ``p`` pauses the view (the
console keeps collecting underneath), Enter opens the channel's detail.
"""

from __future__ import annotations

from typing import ClassVar, Final

from rich.text import Text
from textual.binding import Binding, BindingType
from textual.events import Resize
from textual.message import Message

from gwtui.clock import Clock
from gwtui.format import HEALTH_LABELS, format_age, format_value, sparkline, unit_label
from gwtui.grouping import ChannelGroup
from gwtui.state import ChannelView, ConsoleState
from gwtui.widgets.live_table import LiveTable
from scada.protocol import ChannelHealth

FLASH_S: Final = 1.0
COLUMNS: Final = ("group", "channel", "value", "age", "trend", "status")
GROUP_WIDTH: Final = max(len(g.title) for g in ChannelGroup)  # the longest title, "Outdoor"

OK_STYLE: Final = "bold"
FLASH_STYLE: Final = "bold reverse"
GREY_STYLE: Final = "#808080"
TREND_STYLE: Final = "#5fafd7"
HEALTH_STYLES: Final = {
    ChannelHealth.OK: "#00af00",
    ChannelHealth.STALE: "#d7af00",
    ChannelHealth.NEVER_READ: GREY_STYLE,
    ChannelHealth.OUT_OF_RANGE: "#d75f5f",
    ChannelHealth.DEVICE_FAILING: "#d75f5f",
}


def column_widths(total: int, longest_name: int) -> dict[str, int]:
    """Widths that fill ``total`` cells (two of padding per column): the status column takes
    what is left, the sparkline grows on wide terminals."""
    channel = max(10, min(longest_name, 24))
    value, age = 11, 6
    trend = 12 if total < 110 else 30
    used = GROUP_WIDTH + channel + value + age + trend + 2 * len(COLUMNS)
    status = max(12, total - used)
    return {
        "group": GROUP_WIDTH,
        "channel": channel,
        "value": value,
        "age": age,
        "trend": trend,
        "status": status,
    }


class SensorTable(LiveTable):
    """Channels grouped by structure; see the module docstring for the keys."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "select_cursor", "Detail"),
        Binding("slash", "filter", "Filter"),
        Binding("p", "pause", "Pause"),
    ]

    class ChannelChosen(Message):
        """Enter on a channel row: open its detail."""

        def __init__(self, channel: str) -> None:
            super().__init__()
            self.channel = channel

    class FilterRequested(Message):
        """``/`` pressed: the screen opens the filter box."""

    class PauseChanged(Message):
        """The view was paused or resumed (the screen retitles the pane)."""

    def __init__(
        self,
        state: ConsoleState,
        clock: Clock,
        *,
        flash_s: float = FLASH_S,
        id: str | None = None,  # noqa: A002
    ) -> None:
        super().__init__(id=id)
        self._state = state
        self._clock = clock
        self._flash_s = flash_s
        self.filter_text = ""
        self.paused = False
        self._widths: dict[str, int] = {}
        self._seen_changes: dict[str, int] = {}
        self._flash_until: dict[str, float] = {}
        self._shown: list[str] = []
        self._trends: dict[str, tuple[tuple[object, ...], str]] = {}

    # ------------------------------------------------------------------ building

    def on_mount(self) -> None:
        self.rebuild()

    def on_resize(self, _event: Resize) -> None:
        if self._widths != self._compute_widths():
            self.rebuild()

    def _compute_widths(self) -> dict[str, int]:
        longest = max((len(c) for c in self._state.channels), default=10)
        return column_widths(max(40, self.size.width - 2), longest)

    def rebuild(self) -> None:
        """Redraw every row (new house, new filter, new width)."""
        keep = self._cursor_key()
        self._widths = self._compute_widths()
        self.clear(columns=True)
        for key in COLUMNS:
            label = "" if key == "group" else key.capitalize()
            self.add_column(label, width=self._widths[key], key=key)
        self._shown = []
        self._trends.clear()
        current: ChannelGroup | None = None
        for view in sorted(self._state.channels.values(), key=lambda v: v.key):
            if not self._matches(view):
                continue
            title = Text()
            if view.key.group is not current:
                current = view.key.group
                title = Text(current.title, style="bold #5fafd7")
            self._seen_changes[view.channel] = view.changes
            self.add_row(title, *self._cells(view), key=view.channel)
            self._shown.append(view.channel)
        if keep is not None and keep in self._shown:
            self.move_cursor(row=self.get_row_index(keep), animate=False)

    def _matches(self, view: ChannelView) -> bool:
        if not self.filter_text:
            return True
        needle = self.filter_text.lower()
        haystack = f"{view.channel} {view.quantity} {view.unit} {view.key.group.title}".lower()
        if "." in needle:
            # A node alias ("a.hp") was typed: match nodes too. Not otherwise, or "tank"
            # would also match every channel downstream of the tank (a.tank.out.pump...).
            haystack += f" {view.node}"
        return needle in haystack

    def _cursor_key(self) -> str | None:
        if not self.row_count:
            return None
        try:
            key = self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value
        except Exception:  # noqa: BLE001 -- an empty or rebuilding table has no cursor row
            return None
        return key

    # ------------------------------------------------------------------ updating

    def refresh_channels(self, names: set[str] | None = None) -> None:
        """Redraw the given channels' rows (all when ``None``), unless paused."""
        if self.paused:
            return
        now_mono = self._clock.monotonic()
        for name in self._shown if names is None else names:
            view = self._state.channels.get(name)
            if view is None or name not in self._shown:
                continue
            changed = view.changes != self._seen_changes.get(name, view.changes)
            if changed and self._flash_s > 0:
                self._flash_until[name] = now_mono + self._flash_s
            self._seen_changes[name] = view.changes
            self.set_row(name, dict(zip(COLUMNS[1:], self._cells(view), strict=True)))

    def tick(self) -> None:
        """Once a second: ages move, flashes end, quiet channels turn stale."""
        if self.paused:
            return
        now_mono = self._clock.monotonic()
        ended = [n for n, t in self._flash_until.items() if t <= now_mono]
        for name in ended:
            del self._flash_until[name]
        self.refresh_channels()

    def set_filter(self, text: str) -> None:
        if text != self.filter_text:
            self.filter_text = text
            self.rebuild()

    def set_paused(self, paused: bool) -> None:
        self.paused = paused
        if not paused:
            self.refresh_channels()
        self.post_message(self.PauseChanged())

    # ------------------------------------------------------------------ cells

    def _cells(self, view: ChannelView) -> tuple[Text, Text, Text, Text, Text]:
        state = self._state
        now = state.server_now(self._clock.now())
        health, reason = view.verdict(now)
        live = state.live
        good = live and health is ChannelHealth.OK
        flashing = good and view.channel in self._flash_until
        value_text = f"{format_value(view.value, view.unit)} {unit_label(view.unit)}"
        value_style = OK_STYLE if good else GREY_STYLE
        if flashing:
            value_style = FLASH_STYLE
        name = Text(view.channel, style="" if good else GREY_STYLE)
        value = Text(value_text, style=value_style, justify="right")
        age = Text(format_age(view.age_s(now)), style="" if good else GREY_STYLE, justify="right")
        trend = Text(self._trend(view), style=TREND_STYLE if good else GREY_STYLE)
        if not live:
            status = Text("not live: no SCADA", style=GREY_STYLE)
        else:
            label = HEALTH_LABELS[health]
            status = Text(label, style=HEALTH_STYLES[health])
            if reason:
                status.append(f": {reason}", style=GREY_STYLE)
        return name, value, age, trend, status

    def _trend(self, view: ChannelView) -> str:
        """The channel's sparkline, drawn again only when a reading came in (the tick asks
        for every row every second)."""
        width = self._widths.get("trend", 12)
        key = (view.read_at, view.value, len(view.history), width)
        cached = self._trends.get(view.channel)
        if cached is not None and cached[0] == key:
            return cached[1]
        line = sparkline([v for _, v in view.history][-width:], width)
        self._trends[view.channel] = (key, line)
        return line

    # ------------------------------------------------------------------ actions

    def action_select_cursor(self) -> None:
        key = self._cursor_key()
        if key is not None:
            self.post_message(self.ChannelChosen(key))

    def action_filter(self) -> None:
        self.post_message(self.FilterRequested())

    def action_pause(self) -> None:
        self.set_paused(not self.paused)
