"""The channel detail names the device behind the channel and its health first."""

from __future__ import annotations

from datetime import timedelta

from gwtui.clock import FrozenClock
from gwtui.screens.channel_detail import ChannelDetail
from gwtui.state import ConsoleState
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
