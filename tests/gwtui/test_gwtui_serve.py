"""The console against a real ``scada serve --sim`` subprocess over its real socket."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import pytest

from gwtui.app import GwtuiApp
from gwtui.clock import SystemClock
from gwtui.screens.confirm import ConfirmModal
from gwtui.screens.hold import HoldModal
from gwtui.state import CommandPhase
from gwtui.widgets.actuators import ActuatorTable
from gwtui.widgets.sensors import SensorTable
from scada.api.client import ApiClient
from tests.e2e.serving import Served, scada_serve
from tests.gwtui.gwtui_support import SETTINGS, cell, settled_live, wait_for

pytestmark = pytest.mark.e2e

ELT = "a.elt1.relay"


@pytest.fixture
def served() -> Iterator[Served]:
    with scada_serve() as s:
        yield s


def console_on(served: Served) -> GwtuiApp:
    return GwtuiApp(replace(SETTINGS, socket=served.socket), clock=SystemClock())


async def test_live_values_move_on_screen(served: Served) -> None:
    app = console_on(served)
    async with app.run_test(size=(80, 24)) as pilot:
        await settled_live(pilot, app, timeout_s=20)
        assert app.state.house_alias == "dw1.isone.nh.orange.1"
        assert app.state.simulated is True
        sensors = app.main_screen.query_one(SensorTable)
        assert sensors.row_count == 13
        first = app.state.events_seen
        await wait_for(pilot, lambda: app.state.events_seen > first + 5, timeout_s=20)
        await pilot.pause(0.2)
        assert cell(sensors, "tank-temp0", "value").endswith("°C")
        assert cell(sensors, "tank-temp0", "status") == "ok"


async def test_a_relay_toggled_under_a_hold_is_confirmed_and_quit_releases(served: Served) -> None:
    app = console_on(served)
    async with app.run_test(size=(80, 24)) as pilot:
        await settled_live(pilot, app, timeout_s=20)
        await pilot.press("h")
        await wait_for(pilot, lambda: isinstance(app.screen, HoldModal))
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.state.holder_is(app.operator), what="the hold")
        table = app.main_screen.query_one(ActuatorTable)
        table.focus()
        table.move_cursor(row=list(app.state.actuators).index(ELT))
        await pilot.press("t")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmModal))
        await pilot.pause(0.35)
        await pilot.press("y")
        view = app.state.actuators[ELT]
        await wait_for(pilot, lambda: view.phase is CommandPhase.CONFIRMED, timeout_s=20)
        assert view.state is not None
        await pilot.press("q")
    async with await ApiClient.connect(served.socket) as client:
        assert (await client.snapshot()).hold is None


async def test_the_mode_flips_and_the_header_follows(served: Served) -> None:
    app = console_on(served)
    async with app.run_test(size=(80, 24)) as pilot:
        await settled_live(pilot, app, timeout_s=20)
        before = app.state.mode
        await pilot.press("m")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmModal))
        await pilot.pause(0.35)
        await pilot.press("y")
        await wait_for(pilot, lambda: app.state.mode is not before, timeout_s=20, what="mode")


async def test_a_refused_mode_switch_reaches_the_operator(served: Served) -> None:
    async with await ApiClient.connect(served.socket) as other:
        await other.take_hold("Bob Other", 10)  # someone else holds the house
        app = console_on(served)
        async with app.run_test(size=(80, 24)) as pilot:
            await settled_live(pilot, app, timeout_s=20)
            await pilot.press("m")
            await wait_for(pilot, lambda: isinstance(app.screen, ConfirmModal))
            await pilot.pause(0.35)
            await pilot.press("y")
            await wait_for(
                pilot,
                lambda: any(e.kind == "console" and "refused" in e.text for e in app.state.log),
                timeout_s=20,
                what="the refusal",
            )
            refusal = next(n.message for n in app._notifications if "refused" in n.message)
            assert "Bob Other" in refusal  # the reason names the holder
        await other.release_hold("Bob Other")
