"""The controller's last quiet pass: which reading changes may end it, and when it holds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from scada.actors.channels import ChannelBook
from scada.actors.quiet_pass import PassInputs, QuietPass
from scada.control import modes as m
from scada.protocol.enums import CommandSource
from tests.runtime.harness import DW1, house_layout

T = datetime(2024, 1, 8, 5, 0, tzinfo=UTC)
LAYOUT = house_layout(DW1)
SETTINGS = LAYOUT.control
STATE = m.initial(T)
READINGS: dict[str, float | None] = {
    **dict.fromkeys(SETTINGS.tank_layers, 60.0),
    **dict.fromkeys(SETTINGS.freeze_channels, 20.0),
    "outdoor-temp": -5.0,
    "garage-temp": 18.0,
}


def book_with(readings: dict[str, float | None]) -> ChannelBook:
    book = ChannelBook(LAYOUT)
    for name, value in readings.items():
        if value is not None:
            book.record(name, value, T)
    return book


def inputs(version: int) -> PassInputs:
    return (STATE, 0, version, True, 1)


def quiet_under(source: CommandSource, version: int = 7) -> QuietPass:
    quiet = QuietPass(SETTINGS)
    quiet.remember(inputs(version), T, None, source=source, readings=READINGS, history={})
    return quiet


def test_under_the_atn_only_a_reading_leaving_its_band_ends_the_quiet() -> None:
    quiet = quiet_under(CommandSource.ATN)
    assert not quiet.ends_with("tank-temp2", 75.0)  # still below tank_max_c
    assert quiet.ends_with("tank-temp2", SETTINGS.tank_max_c)
    assert quiet.ends_with("tank-temp2", None)  # gone stale
    assert quiet.ends_with("pipe-out-temp", SETTINGS.freeze_pipe_c - 0.1)
    assert not quiet.ends_with("garage-temp", 25.0)  # the interlocks do not read rooms


def test_under_home_alone_every_reading_change_may_end_it() -> None:
    quiet = quiet_under(CommandSource.HOME_ALONE)
    assert quiet.ends_with("tank-temp2", 60.5)
    assert quiet.ends_with("garage-temp", 18.1)


def test_a_banded_quiet_pass_holds_whatever_the_count_of_changes_while_readings_stay_in() -> None:
    quiet = quiet_under(CommandSource.ATN)
    later = T + timedelta(seconds=30)

    counted = inputs(99)  # the book counted many changes meanwhile
    warmer = {**READINGS, **dict.fromkeys(SETTINGS.tank_layers, 70.0)}
    assert quiet.holds(counted, STATE, book_with(warmer), later)
    too_hot = {**warmer, "tank-temp4": 80.0}
    assert not quiet.holds(counted, STATE, book_with(too_hot), later)


def test_an_unbanded_quiet_pass_holds_only_for_the_same_count_of_changes() -> None:
    quiet = quiet_under(CommandSource.HOME_ALONE, version=7)
    book = book_with(READINGS)
    later = T + timedelta(seconds=30)
    assert quiet.holds(inputs(7), STATE, book, later)
    assert not quiet.holds(inputs(8), STATE, book, later)
    quiet.forget()
    assert not quiet.holds(inputs(7), STATE, book, later)
