"""The channel detail names the device behind the channel and its health first; the header
says what the store holds back; a table changed in place draws what DataTable would."""

from __future__ import annotations

import io
from datetime import timedelta

from rich.console import Console
from rich.segment import Segment
from rich.text import Text
from textual.app import App, ComposeResult
from textual.geometry import Region
from textual.widgets import DataTable

from gwtui.clock import FrozenClock
from gwtui.screens.channel_detail import ChannelDetail
from gwtui.state import ConsoleState
from gwtui.widgets.header import HeaderView, render_header
from gwtui.widgets.live_table import LiveTable
from scada.protocol import DeviceHealth, DeviceHealthState
from tests.gwtui.gwtui_house import T0, snapshot


def detail_line(channel: str, *, failing: str | None = None, with_device: bool = True) -> str:
    state = ConsoleState()
    snap = snapshot()
    devices = tuple(
        DeviceHealth(
            device=d.device,
            state=DeviceHealthState.FAILING,
            failing_since=T0 - timedelta(minutes=3),
            last_error="no answer at 0x48",
        )
        if d.device == failing
        else d
        for d in snap.devices
    )
    channels = snap.channels
    if not with_device:
        channels = tuple(c.model_copy(update={"device": None}) for c in channels)
    state.apply_snapshot(snap.model_copy(update={"devices": devices, "channels": channels}), T0)
    screen = ChannelDetail(state, FrozenClock(T0), channel)
    return screen._devices(state.channels[channel]).plain


def test_the_channels_own_device_comes_first_with_a_count_of_the_others() -> None:
    line = detail_line("tank-temp2")
    assert line.startswith("Read by tank-adc-1 ok")
    assert "other devices: 5 ok" in line


def test_a_failing_own_device_says_since_when_and_why() -> None:
    line = detail_line("tank-temp2", failing="tank-adc-1")
    assert "Read by tank-adc-1 FAILING since 16:57:00Z (no answer at 0x48)" in line
    assert "failing:" not in line


def test_another_failing_device_is_named_apart() -> None:
    line = detail_line("tank-temp2", failing="egauge")
    assert line.startswith("Read by tank-adc-1 ok")
    assert "other devices: 4 ok, failing: egauge" in line


def test_without_the_device_on_the_wire_every_device_is_listed() -> None:
    line = detail_line("tank-temp2", with_device=False)
    assert line.startswith("Devices: ")
    assert "tank-adc-1 ok" in line


def header_store_line(**store: object) -> str:
    state = ConsoleState()
    snap = snapshot()
    assert snap.store is not None
    state.apply_snapshot(snap.model_copy(update={"store": snap.store.model_copy(update=store)}), T0)
    view = HeaderView(operator=None, readonly=False, now=T0, monotonic=0.0)
    console = Console(width=120, record=True, file=io.StringIO(), color_system=None)
    console.print(render_header(state, view))
    return console.export_text().splitlines()[2]


def test_an_empty_backlog_shows_the_store_size_only() -> None:
    line = header_store_line(pending_uplink=0, in_flight=0, quarantined=0, size_bytes=41_000)
    assert line.rstrip().endswith("Backlog 0 · 41.0 kB")


def test_a_backlog_says_how_much_is_sending_and_how_old_the_oldest_is() -> None:
    line = header_store_line(
        pending_uplink=12_345, in_flight=256, oldest_pending_at=T0 - timedelta(hours=2, minutes=5)
    )
    assert "Backlog 12,345 (256 sending, oldest 2h05m) · " in line


def test_quarantined_messages_and_a_store_near_its_cap_stand_out() -> None:
    line = header_store_line(
        pending_uplink=0,
        quarantined=3,
        fill_alarm=True,
        size_bytes=93_000_000,
        cap_bytes=100_000_000,
    )
    assert line.rstrip().endswith("Backlog 0 · 3 quarantined · 93.0 MB of 100.0 MB")


class TwoTables(App[None]):
    def compose(self) -> ComposeResult:
        yield LiveTable(id="live")
        yield DataTable[Text](id="plain", cursor_type="row")


def drawn(table: DataTable[Text]) -> list[list[Segment]]:
    return [list(strip) for strip in table.render_lines(Region(0, 0, *table.size))]


async def test_a_row_changed_in_place_draws_what_update_cell_draws() -> None:
    """LiveTable keeps DataTable's caches of unchanged cells: what it draws must not differ."""
    app = TwoTables()
    async with app.run_test(size=(60, 12)) as pilot:
        tables: list[DataTable[Text]] = [app.query_one("#live", LiveTable)]
        tables.append(app.query_one("#plain", DataTable))
        for table in tables:
            table.add_column("Name", key="name", width=10)
            table.add_column("Value", key="value", width=10)
            for row in ("a", "b", "c"):
                table.add_row(Text(row), Text("1", justify="right"), key=row)
        app.set_focus(None)  # a focused table draws its cursor differently
        await pilot.pause()
        assert drawn(tables[0]) == drawn(tables[1])
        live = tables[0]
        assert isinstance(live, LiveTable)
        for row, value in (("b", "2"), ("c", "3"), ("b", "4")):
            cell = Text(value, style="bold reverse", justify="right")
            live.set_row(row, {"name": Text(row), "value": cell})
            tables[1].update_cell(row, "value", cell)
            await pilot.pause()
            assert drawn(tables[0]) == drawn(tables[1])
            line = drawn(live)[1 + live.get_row_index(row)]
            assert value in "".join(segment.text for segment in line)
