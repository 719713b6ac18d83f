"""One channel up close: value, age, health and reason, a longer plot of its recent history
with its range, and the health of the devices behind the readings. Updates live while open."""

from __future__ import annotations

from statistics import fmean
from typing import ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Label, Static

from gwtui.clock import Clock
from gwtui.format import HEALTH_LABELS, bar_chart, format_age, format_value, unit_label
from gwtui.state import ChannelView, ConsoleState
from scada.protocol import ChannelHealth, DeviceHealth, DeviceHealthState

PLOT_HEIGHT = 8


def plot_text(view: ChannelView, width: int, height: int = PLOT_HEIGHT) -> Text:
    """The history plot with its max at the top-left and min at the bottom-left."""
    values = [v for _, v in view.history]
    unit = unit_label(view.unit)
    if not values:
        return Text("no readings yet", style="#808080")
    label_w = max(
        len(format_value(max(values), view.unit)), len(format_value(min(values), view.unit))
    )
    lines = bar_chart(values, max(8, width - label_w - 1), height)
    out = Text()
    for i, line in enumerate(lines):
        if i == 0:
            label = format_value(max(values), view.unit)
        elif i == len(lines) - 1:
            label = format_value(min(values), view.unit)
        else:
            label = ""
        out.append(label.rjust(label_w) + " ", style="#808080")
        out.append(line + "\n", style="#5fafd7")
    first, last = view.history[0][0], view.history[-1][0]
    span = format_age((last - first).total_seconds())
    out.append(f"{len(values)} readings over {span} ({unit}), newest on the right", style="#808080")
    return out


class ChannelDetail(ModalScreen[None]):
    """Esc or Enter closes."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,enter,q", "close", "Close")]

    def __init__(
        self, state: ConsoleState, clock: Clock, channel: str, *, real_house: bool = False
    ) -> None:
        super().__init__(classes="-real" if real_house else "")
        self._state = state
        self._clock = clock
        self.channel = channel

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="dialog wide-dialog"):
            yield Label(self.channel, classes="dialog-title", id="detail-title")
            yield Static(id="detail-summary")
            yield Static(id="detail-plot")
            yield Static(id="detail-devices")
            yield Static("Esc closes", classes="dialog-hint")

    def on_mount(self) -> None:
        self.refresh_from()
        self.call_after_refresh(self.refresh_from)  # again once the plot knows its width

    def on_resize(self) -> None:
        self.refresh_from()

    def refresh_from(self) -> None:
        view = self._state.channels.get(self.channel)
        if view is None:
            self.query_one("#detail-summary", Static).update(
                "This channel is gone (house changed)."
            )
            return
        now = self._state.server_now(self._clock.now())
        health, reason = view.verdict(now)
        summary = Table.grid(padding=(0, 2))
        summary.add_column(style="#808080")
        summary.add_column()
        value = f"{format_value(view.value, view.unit)} {unit_label(view.unit)}"
        live = self._state.live and health is ChannelHealth.OK
        summary.add_row("Value", Text(value, style="bold" if live else "#808080"))
        summary.add_row("Age", format_age(view.age_s(now)))
        health_text = Text(HEALTH_LABELS[health], style="#00af00" if live else "#d7af00")
        if reason:
            health_text.append(f": {reason}")
        if not self._state.live:
            health_text = Text("not live: the console is not attached", style="#808080")
        summary.add_row("Health", health_text)
        summary.add_row("Node", f"{view.node} ({view.quantity}, group {view.key.group.title})")
        values = [v for _, v in view.history]
        if values:
            stats = (
                f"min {format_value(min(values), view.unit)}  "
                f"mean {format_value(fmean(values), view.unit)}  "
                f"max {format_value(max(values), view.unit)}"
            )
            summary.add_row("Range", stats)
        self.query_one("#detail-summary", Static).update(summary)
        width = max(20, self.query_one("#detail-plot").content_size.width)
        self.query_one("#detail-plot", Static).update(plot_text(view, width))
        self.query_one("#detail-devices", Static).update(self._devices(view))

    def _devices(self, view: ChannelView) -> Text:
        """The health of the device behind the channel first (what an installer chases), then
        a count of the others; every device when the SCADA does not say which reads it."""
        devices = self._state.devices
        if not devices:
            return Text("Devices: none reported", style="#808080")
        own = devices.get(view.device) if view.device is not None else None
        if own is None:
            out = Text("Devices: ", style="#808080")
            for i, dev in enumerate(devices.values()):
                if i:
                    out.append("  ")
                out.append_text(_device_health(dev))
            return out
        out = Text("Read by ", style="#808080")
        out.append_text(_device_health(own))
        others = [d for d in devices.values() if d.device != own.device]
        failing = [d.device for d in others if d.state is not DeviceHealthState.OK]
        if others:
            out.append(f"   other devices: {len(others) - len(failing)} ok", style="#808080")
            if failing:
                out.append(f", failing: {', '.join(failing)}", style="bold #d75f5f")
        return out

    def action_close(self) -> None:
        self.dismiss(None)


def _device_health(dev: DeviceHealth) -> Text:
    if dev.state is DeviceHealthState.OK:
        return Text(f"{dev.device} ok", style="#00af00")
    out = Text(f"{dev.device} FAILING", style="bold #d75f5f")
    if dev.failing_since is not None:
        out.append(f" since {dev.failing_since:%H:%M:%S}Z", style="#d75f5f")
    if dev.last_error:
        out.append(f" ({dev.last_error})", style="#d75f5f")
    return out
