"""Every console action driven from the keyboard, against the in-process fake SCADA."""

from __future__ import annotations

import asyncio
from dataclasses import replace

from textual.widgets import Input

from gwtui.screens.channel_detail import ChannelDetail
from gwtui.screens.confirm import ConfirmModal
from gwtui.screens.help import HelpScreen
from gwtui.screens.hold import HoldModal
from gwtui.screens.houses import HousePicker
from gwtui.state import CommandPhase, LinkPhase
from gwtui.widgets.actuators import ActuatorTable
from gwtui.widgets.eventlog import EventLogTable
from gwtui.widgets.sensors import SensorTable
from scada.api.client import UnknownEvent
from scada.protocol import (
    GetSnapshot,
    KeepAliveHold,
    Mode,
    RelayState,
    ReleaseHold,
    SetMode,
    SetRelay,
    TakeHold,
)
from tests.gwtui.gwtui_house import DW1
from tests.gwtui.gwtui_support import (
    OPERATOR,
    SETTINGS,
    FakeConsole,
    attached,
    cell,
    confirmed,
    console,
    header_text,
    wait_for,
)

ELT = "a.elt1.relay"
GUARD_S = 0.35


def sent(fake: FakeConsole, kind: type) -> list[object]:
    return [r for r in fake.scada.requests if isinstance(r, kind)]


async def take_hold(pilot, fake: FakeConsole, minutes: str = "30") -> None:  # type: ignore[no-untyped-def]
    await pilot.press("h")
    await wait_for(pilot, lambda: isinstance(fake.app.screen, HoldModal), what="hold dialog")
    minutes_box = fake.app.screen.query_one("#minutes", Input)
    minutes_box.value = minutes
    await pilot.press("enter")
    await wait_for(pilot, lambda: fake.app.state.holder_is(OPERATOR), what="the hold")


async def test_attaches_and_shows_the_house_live() -> None:
    fake = FakeConsole()
    async with attached(fake):
        text = header_text(fake.app)
        assert "SIMULATED" in text
        assert DW1 in text
        assert "LIVE" in text
        assert "RemoteControl" in text
        assert "active, 40:00 left" in text
        sensors = fake.app.main_screen.query_one(SensorTable)
        assert sensors.row_count == 13
        assert cell(sensors, "tank-temp0", "value") == "61.25 °C"
        assert cell(sensors, "tank-temp0", "age") == "3s"
        assert cell(sensors, "dist-flow", "status").startswith("stale: silent for 47 s")
        assert fake.app.main_screen.query_one(ActuatorTable).row_count == 3


async def test_taking_a_hold_asks_name_and_minutes_and_shows_the_scadas_countdown() -> None:
    fake = FakeConsole()
    async with attached(fake) as pilot:
        await pilot.press("h")
        await wait_for(pilot, lambda: isinstance(fake.app.screen, HoldModal))
        fake.app.screen.query_one("#operator", Input).value = "Bob Fitter"
        fake.app.screen.query_one("#minutes", Input).value = "45"
        await pilot.press("enter")
        await wait_for(pilot, lambda: fake.app.state.holder_is("Bob Fitter"))
        (req,) = sent(fake, TakeHold)
        assert isinstance(req, TakeHold)
        assert req.minutes == 45
        assert fake.app.operator == "Bob Fitter"
        assert "ADMIN HOLD Bob Fitter (you) · 45:00 left" in header_text(fake.app)


async def test_the_hold_dialog_refuses_bad_minutes_and_cancels_with_escape() -> None:
    fake = FakeConsole()
    async with attached(fake) as pilot:
        await pilot.press("h")
        await wait_for(pilot, lambda: isinstance(fake.app.screen, HoldModal))
        fake.app.screen.query_one("#minutes", Input).value = "0"
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(fake.app.screen, HoldModal)
        assert "more than 0" in str(fake.app.screen.query_one("#hold-error").render())
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(fake.app.screen, HoldModal))
        assert not sent(fake, TakeHold)


async def test_toggling_without_a_hold_sends_nothing_and_says_why() -> None:
    fake = FakeConsole()
    async with attached(fake) as pilot:
        fake.app.main_screen.query_one(ActuatorTable).focus()
        await pilot.press("t")
        await pilot.pause()
        assert not isinstance(fake.app.screen, ConfirmModal)
        assert not sent(fake, SetRelay)
        assert any("needs your admin hold" in n.message for n in fake.app._notifications)


async def test_a_toggle_under_hold_is_confirmed_with_y_and_read_back() -> None:
    # A long guard so the first "y" surely lands inside it, however slow this machine is.
    fake = console(confirm_guard_s=1.5)
    async with attached(fake) as pilot:
        await take_hold(pilot, fake)
        fake.app.main_screen.query_one(ActuatorTable).focus()
        await pilot.press("t")
        await wait_for(pilot, lambda: isinstance(fake.app.screen, ConfirmModal))
        modal = fake.app.screen
        assert isinstance(modal, ConfirmModal)
        assert modal.focused is not None
        assert modal.focused.id == "cancel"  # Cancel has the focus
        await pilot.press("y")  # at once: auto-repeat speed, ignored
        await pilot.pause()
        assert modal.ignored_presses == 1
        assert fake.app.screen is modal
        await pilot.pause(1.5)
        await pilot.press("y")
        view = fake.app.state.actuators[ELT]
        await wait_for(pilot, lambda: view.phase is CommandPhase.CONFIRMED, what="read-back")
        (req,) = sent(fake, SetRelay)
        assert isinstance(req, SetRelay)
        assert (req.node, req.state, req.operator) == (ELT, RelayState.ON, OPERATOR)
        await pilot.pause(0.1)
        table = fake.app.main_screen.query_one(ActuatorTable)
        assert cell(table, ELT, "state") == "ON"
        assert cell(table, ELT, "last") == f"confirmed · ON by {OPERATOR}"


async def test_the_trigger_key_and_enter_never_confirm_a_toggle() -> None:
    fake = FakeConsole()
    async with attached(fake) as pilot:
        await take_hold(pilot, fake)
        fake.app.main_screen.query_one(ActuatorTable).focus()
        await pilot.press("t")
        await wait_for(pilot, lambda: isinstance(fake.app.screen, ConfirmModal))
        await pilot.pause(GUARD_S)
        await pilot.press("t", "t")  # the trigger key held down
        assert isinstance(fake.app.screen, ConfirmModal)
        await pilot.press("enter")  # Enter presses the focused Cancel
        await wait_for(pilot, lambda: not isinstance(fake.app.screen, ConfirmModal))
        await pilot.pause(0.1)
        assert not sent(fake, SetRelay)


async def test_an_interlock_refusal_shows_on_the_row_and_in_the_log() -> None:
    fake = FakeConsole()
    fake.scada.interlocked[ELT] = "tank-max-temp"
    async with attached(fake) as pilot:
        await take_hold(pilot, fake)
        fake.app.main_screen.query_one(ActuatorTable).focus()
        await confirmed(pilot, fake, "t")
        view = fake.app.state.actuators[ELT]
        await wait_for(pilot, lambda: view.phase is CommandPhase.REFUSED)
        await pilot.pause(0.1)
        last = cell(fake.app.main_screen.query_one(ActuatorTable), ELT, "last")
        assert last.startswith("refused (interlock tank-max-temp)")
        assert any(e.level == "error" and "interlock" in e.text for e in fake.app.state.log)
        assert any("refused" in n.message for n in fake.app._notifications)


async def test_mode_switch_asks_then_flips() -> None:
    fake = FakeConsole()
    async with attached(fake) as pilot:
        await confirmed(pilot, fake, "m")
        await wait_for(pilot, lambda: fake.app.state.mode is Mode.LOCAL)
        (req,) = sent(fake, SetMode)
        assert isinstance(req, SetMode)
        assert req.mode is Mode.LOCAL
        await pilot.pause(0.1)
        assert "LocalControl" in header_text(fake.app)


async def test_a_refused_mode_switch_is_shown_with_the_reason() -> None:
    fake = FakeConsole()
    async with attached(fake) as pilot:
        await take_hold(pilot, fake)
        await confirmed(pilot, fake, "m")
        await wait_for(pilot, lambda: bool(sent(fake, SetMode)))
        await pilot.pause(0.1)
        assert fake.app.state.mode is Mode.REMOTE
        reason = "an admin hold is in force"
        assert any(reason in n.message for n in fake.app._notifications)
        assert any(reason in e.text and e.level == "error" for e in fake.app.state.log)


async def test_switching_to_a_simulated_house_is_one_enter() -> None:
    fake = FakeConsole()
    async with attached(fake) as pilot:
        await pilot.press("s")
        await wait_for(pilot, lambda: isinstance(fake.app.screen, HousePicker))
        await pilot.press("enter")
        await wait_for(pilot, lambda: fake.scada.switched_to is not None)
        assert fake.scada.switched_to == (DW1, True)


async def test_switching_to_a_real_house_needs_its_alias_typed() -> None:
    fake = FakeConsole()
    real = "hw25.isone.me.versant.keene.beech"
    async with attached(fake) as pilot:
        await pilot.press("s")
        await wait_for(pilot, lambda: isinstance(fake.app.screen, HousePicker))
        await pilot.press("down", "enter")
        await pilot.pause()
        box = fake.app.screen.query_one("#confirm-alias", Input)
        assert box.has_focus
        await pilot.press(*"hw25", "enter")
        await pilot.pause(0.1)
        assert fake.scada.switched_to is None
        assert isinstance(fake.app.screen, HousePicker)
        box.value = real
        await pilot.press("enter")
        await wait_for(pilot, lambda: fake.scada.switched_to is not None)
        assert fake.scada.switched_to == (real, False)


async def test_filtering_the_sensors_by_typing() -> None:
    fake = FakeConsole()
    async with attached(fake) as pilot:
        sensors = fake.app.main_screen.query_one(SensorTable)
        await pilot.press("slash", *"tank")
        await pilot.pause()
        assert sensors.row_count == 5  # the five layers
        await pilot.press("enter")
        assert sensors.has_focus
        assert sensors.row_count == 5
        await pilot.press("slash", *"a.hp")  # typing replaces the filter; an alias matches nodes
        await pilot.pause()
        assert sensors.row_count == 1
        await pilot.press("slash", "escape")
        await pilot.pause()
        assert sensors.row_count == 13


async def test_pause_freezes_the_view_and_resume_catches_up() -> None:
    fake = FakeConsole()
    async with attached(fake) as pilot:
        sensors = fake.app.main_screen.query_one(SensorTable)
        await pilot.press("p")
        fake.clock.advance(1)
        fake.scada.push_reading("tank-temp0", 70.0)
        await wait_for(pilot, lambda: fake.app.state.channels["tank-temp0"].value == 70.0)
        await pilot.pause(0.1)
        assert cell(sensors, "tank-temp0", "value") == "61.25 °C"
        assert "PAUSED" in header_text(fake.app)
        await pilot.press("p")
        await pilot.pause()
        assert cell(sensors, "tank-temp0", "value") == "70.00 °C"


async def test_a_changed_value_flashes() -> None:
    fake = FakeConsole(settings=replace(SETTINGS, flash_s=30.0), history=False)
    async with attached(fake) as pilot:
        sensors = fake.app.main_screen.query_one(SensorTable)
        before = sensors.get_cell("tank-temp1", "value")
        assert "reverse" not in str(before.style)
        fake.clock.advance(1)
        fake.scada.push_reading("tank-temp1", 59.0)
        await wait_for(pilot, lambda: cell(sensors, "tank-temp1", "value") == "59.00 °C")
        assert "reverse" in str(sensors.get_cell("tank-temp1", "value").style)


async def test_enter_opens_the_channel_detail_and_escape_closes_it() -> None:
    fake = FakeConsole()
    async with attached(fake) as pilot:
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(fake.app.screen, ChannelDetail))
        screen = fake.app.screen
        assert isinstance(screen, ChannelDetail)
        assert screen.channel == "tank-temp0"
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(fake.app.screen, ChannelDetail))


async def test_help_lists_every_key_of_the_main_screen() -> None:
    fake = FakeConsole()
    async with attached(fake) as pilot:
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: isinstance(fake.app.screen, HelpScreen))
        text = " ".join(f"{k} {d}" for _, rows in fake.app.help_sections() for k, d in rows)
        for key in ("h ", "x ", "m ", "s ", "t ", "p ", "/ ", "Enter", "Ctrl+R", "q "):
            assert key in text
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(fake.app.screen, HelpScreen))
        await pilot.press("f1")
        await wait_for(pilot, lambda: isinstance(fake.app.screen, HelpScreen))


async def test_the_log_view_shows_history_commands_and_filters() -> None:
    fake = FakeConsole()
    async with attached(fake) as pilot:
        await take_hold(pilot, fake)
        await pilot.press("2")
        log = fake.app.main_screen.query_one(EventLogTable)
        assert log.has_focus
        texts = [e.text for e in fake.app.state.log]
        assert any("start_contract" in t for t in texts)  # backfilled from the SCADA
        assert any("take_hold" in t for t in texts)  # the audit trail of our own action
        assert log.row_count == len(fake.app.state.log)
        await pilot.press("slash", *"problem")
        await pilot.pause()
        assert log.row_count == 1
        await pilot.press("escape", "1")
        assert fake.app.main_screen.query_one(SensorTable).has_focus


async def test_unknown_events_from_a_newer_scada_are_logged_not_fatal() -> None:
    fake = FakeConsole()
    async with attached(fake) as pilot:
        raw = {"type": "event", "event": "weather", "payload": {"type": "forecast.v2"}}
        fake.clients[-1].inject(UnknownEvent(raw, "unknown event kind"))
        await wait_for(pilot, lambda: fake.app.state.unknown_events == 1)
        assert fake.app.state.live
        assert "weather / forecast.v2" in fake.app.state.log[-1].text


async def test_a_lost_scada_greys_everything_and_the_console_reattaches() -> None:
    fake = console(reconnect_first_s=1.0)  # time enough to look at the greyed screen
    async with attached(fake) as pilot:
        fake.clients[-1].drop()
        await wait_for(pilot, lambda: fake.app.state.connection.phase is LinkPhase.DISCONNECTED)
        await pilot.pause(0.05)
        sensors = fake.app.main_screen.query_one(SensorTable)
        assert cell(sensors, "tank-temp0", "status") == "not live: no SCADA"
        assert "DISCONNECTED" in header_text(fake.app)
        assert "LAST KNOWN" in header_text(fake.app)
        await wait_for(pilot, lambda: len(fake.clients) == 2 and fake.app.state.live)
        await pilot.pause(0.1)
        assert cell(sensors, "tank-temp0", "status") == "ok"


async def test_readonly_offers_and_sends_nothing_that_changes_the_house() -> None:
    fake = console(readonly=True)
    async with attached(fake) as pilot:
        assert "READ-ONLY" in header_text(fake.app)
        fake.app.main_screen.query_one(ActuatorTable).focus()
        for key in ("h", "t", "m", "s", "x"):
            await pilot.press(key)
            await pilot.pause()
            assert fake.app.screen is fake.app.main_screen
        fake.app.action_take_hold()  # even through the palette's path
        await pilot.pause()
        changing = (TakeHold, SetRelay, SetMode, ReleaseHold)
        assert not [r for r in fake.scada.requests if isinstance(r, changing)]
        titles = [c.title for c in fake.app.console_commands()]
        assert "Take admin hold" not in titles
        assert "Toggle relay" not in titles


async def test_the_palette_reaches_every_action() -> None:
    fake = FakeConsole()
    async with attached(fake) as pilot:
        await take_hold(pilot, fake)
        titles = {c.title for c in fake.app.get_system_commands(fake.app.screen)}
        for title in (
            "Help",
            "Take admin hold",
            "Release admin hold",
            "Toggle relay",
            "Switch mode",
            "Switch house",
            "Live view",
            "Event log",
            "Filter sensors",
            "Pause / resume sensors",
            "Reconnect",
            "Theme",
            "Quit",
        ):
            assert title in titles


async def test_keep_alives_flow_while_holding() -> None:
    fake = console(keepalive_s=0.1)
    async with attached(fake) as pilot:
        assert not sent(fake, KeepAliveHold)
        await take_hold(pilot, fake)
        await wait_for(pilot, lambda: len(sent(fake, KeepAliveHold)) >= 2, what="keep-alives")


async def test_release_asks_first_then_hands_back() -> None:
    fake = FakeConsole()
    async with attached(fake) as pilot:
        await take_hold(pilot, fake)
        await confirmed(pilot, fake, "x")
        await wait_for(pilot, lambda: fake.app.state.hold is None)
        assert sent(fake, ReleaseHold)


async def test_quitting_releases_the_hold_first() -> None:
    fake = FakeConsole()
    async with attached(fake) as pilot:
        await take_hold(pilot, fake)
        await pilot.press("q")
        await asyncio.sleep(0.1)
    assert sent(fake, ReleaseHold)
    assert fake.scada.snap.hold is None


async def test_news_that_moves_many_rows_refetches_the_whole_snapshot() -> None:
    fake = console(resync_s=3600.0)
    async with attached(fake) as pilot:
        assert not sent(fake, GetSnapshot)
        await take_hold(pilot, fake)  # a hold makes the console boss of every actuator
        await wait_for(pilot, lambda: bool(sent(fake, GetSnapshot)), what="the refetch")


async def test_the_snapshot_is_refetched_now_and_then_regardless() -> None:
    fake = console(resync_s=0.2)
    async with attached(fake) as pilot:
        await wait_for(pilot, lambda: len(sent(fake, GetSnapshot)) >= 2, what="refetches")
