"""How the console looks: every screen and dialog at 80x24 and 160x48, on a frozen clock with
a deterministic house (pytest-textual-snapshot; update with ``--snapshot-update`` and look at
each SVG before keeping it)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.screen import Screen
from textual.widgets import Input

from gwtui.app import GwtuiApp
from gwtui.clock import FrozenClock
from gwtui.connection import ScadaClient
from gwtui.screens.channel_detail import ChannelDetail
from gwtui.screens.confirm import ConfirmModal
from gwtui.screens.help import HelpScreen
from gwtui.screens.hold import HoldModal
from gwtui.screens.houses import HousePicker
from gwtui.screens.start_sim import StartSimModal
from gwtui.state import CommandPhase
from gwtui.widgets.actuators import ActuatorTable
from scada.api.client import ApiConnectError
from tests.gwtui.gwtui_fakes import FakeScada
from tests.gwtui.gwtui_house import T0, snapshot
from tests.gwtui.gwtui_support import SETTINGS, FakeConsole, console, settled, wait_for

SIZES = [pytest.param((80, 24), id="80x24"), pytest.param((160, 48), id="160x48")]
ELT = "a.elt1.relay"
PUMP = "a.tank.out.pump.relay"

Step = Callable[[Pilot[None], FakeConsole], Awaitable[None]]
SnapCompare = Callable[..., bool]


def steady(fake: FakeConsole) -> None:
    """No blinking cursors and no toasts: a screenshot must not depend on when it is taken."""
    for box in fake.app.screen.query(Input):
        box.cursor_blink = False
    fake.app.clear_notifications()


async def until_screen(pilot: Pilot[None], fake: FakeConsole, kind: type[Screen[Any]]) -> None:
    await wait_for(pilot, lambda: isinstance(fake.app.screen, kind), what=kind.__name__)
    await pilot.pause(0.1)


async def holding(pilot: Pilot[None], fake: FakeConsole) -> None:
    await pilot.press("h")
    await until_screen(pilot, fake, HoldModal)
    await pilot.press("enter")
    await wait_for(pilot, lambda: fake.app.state.holder_is(fake.app.operator))


async def toggle(pilot: Pilot[None], fake: FakeConsole, row: int, until: CommandPhase) -> None:
    table = fake.app.main_screen.query_one(ActuatorTable)
    table.focus()
    table.move_cursor(row=row)
    await pilot.press("t")
    await until_screen(pilot, fake, ConfirmModal)
    await pilot.pause(0.35)
    await pilot.press("y")
    node = table.selected_node() or ""
    await wait_for(pilot, lambda: fake.app.state.actuators[node].phase is until)


def shot(
    snap_compare: SnapCompare, size: tuple[int, int], fake: FakeConsole, step: Step | None = None
) -> bool:
    async def run_before(pilot: Pilot[None]) -> None:
        await settled(pilot, fake)
        if step is not None:
            await step(pilot, fake)
        await pilot.pause(0.15)
        steady(fake)
        await pilot.pause()

    return snap_compare(fake.app, terminal_size=size, run_before=run_before)


# ---------------------------------------------------------------------- main screen


@pytest.mark.parametrize("size", SIZES)
def test_live_simulated_house(snap_compare: SnapCompare, size: tuple[int, int]) -> None:
    assert shot(snap_compare, size, FakeConsole())


@pytest.mark.parametrize("size", SIZES)
def test_live_real_house_is_framed_in_red(snap_compare: SnapCompare, size: tuple[int, int]) -> None:
    fake = FakeConsole(FakeScada(now=lambda: T0, snap=snapshot(simulated=False)))
    assert shot(snap_compare, size, fake)


@pytest.mark.parametrize("size", SIZES)
def test_under_hold_with_a_confirmed_and_an_interlocked_command(
    snap_compare: SnapCompare, size: tuple[int, int]
) -> None:
    fake = FakeConsole()
    fake.scada.interlocked[ELT] = "tank-max-temp"

    async def step(pilot: Pilot[None], fake: FakeConsole) -> None:
        await holding(pilot, fake)
        await toggle(pilot, fake, 1, CommandPhase.CONFIRMED)
        await toggle(pilot, fake, 0, CommandPhase.REFUSED)

    assert shot(snap_compare, size, fake, step)


@pytest.mark.parametrize("size", SIZES)
def test_log_view(snap_compare: SnapCompare, size: tuple[int, int]) -> None:
    async def step(pilot: Pilot[None], fake: FakeConsole) -> None:
        await holding(pilot, fake)
        await pilot.press("2")

    assert shot(snap_compare, size, FakeConsole(), step)


@pytest.mark.parametrize("size", SIZES)
def test_disconnected_greys_every_value(snap_compare: SnapCompare, size: tuple[int, int]) -> None:
    fake = console(reconnect_first_s=30.0, reconnect_cap_s=30.0)

    async def step(pilot: Pilot[None], fake: FakeConsole) -> None:
        fake.clients[-1].drop()
        await wait_for(pilot, lambda: not fake.app.state.live)

    assert shot(snap_compare, size, fake, step)


@pytest.mark.parametrize("size", SIZES)
def test_readonly(snap_compare: SnapCompare, size: tuple[int, int]) -> None:
    assert shot(snap_compare, size, console(readonly=True))


@pytest.mark.parametrize("size", SIZES)
def test_filtered_and_paused(snap_compare: SnapCompare, size: tuple[int, int]) -> None:
    async def step(pilot: Pilot[None], fake: FakeConsole) -> None:
        await pilot.press("slash", *"temp", "enter", "p")

    assert shot(snap_compare, size, FakeConsole(), step)


# ---------------------------------------------------------------------- dialogs


@pytest.mark.parametrize("size", SIZES)
def test_hold_dialog(snap_compare: SnapCompare, size: tuple[int, int]) -> None:
    async def step(pilot: Pilot[None], fake: FakeConsole) -> None:
        await pilot.press("h")
        await until_screen(pilot, fake, HoldModal)

    assert shot(snap_compare, size, FakeConsole(), step)


@pytest.mark.parametrize("size", SIZES)
def test_toggle_confirmation(snap_compare: SnapCompare, size: tuple[int, int]) -> None:
    async def step(pilot: Pilot[None], fake: FakeConsole) -> None:
        await holding(pilot, fake)
        fake.app.main_screen.query_one(ActuatorTable).focus()
        await pilot.press("t")
        await until_screen(pilot, fake, ConfirmModal)

    assert shot(snap_compare, size, FakeConsole(), step)


@pytest.mark.parametrize("size", SIZES)
def test_toggle_confirmation_on_a_real_house(
    snap_compare: SnapCompare, size: tuple[int, int]
) -> None:
    fake = FakeConsole(FakeScada(now=lambda: T0, snap=snapshot(simulated=False)))

    async def step(pilot: Pilot[None], fake: FakeConsole) -> None:
        await holding(pilot, fake)
        fake.app.main_screen.query_one(ActuatorTable).focus()
        await pilot.press("t")
        await until_screen(pilot, fake, ConfirmModal)

    assert shot(snap_compare, size, fake, step)


@pytest.mark.parametrize("size", SIZES)
def test_mode_confirmation(snap_compare: SnapCompare, size: tuple[int, int]) -> None:
    async def step(pilot: Pilot[None], fake: FakeConsole) -> None:
        await pilot.press("m")
        await until_screen(pilot, fake, ConfirmModal)

    assert shot(snap_compare, size, FakeConsole(), step)


@pytest.mark.parametrize("size", SIZES)
def test_house_picker(snap_compare: SnapCompare, size: tuple[int, int]) -> None:
    async def step(pilot: Pilot[None], fake: FakeConsole) -> None:
        await pilot.press("s")
        await until_screen(pilot, fake, HousePicker)

    assert shot(snap_compare, size, FakeConsole(), step)


@pytest.mark.parametrize("size", SIZES)
def test_house_picker_typed_confirmation_for_a_real_house(
    snap_compare: SnapCompare, size: tuple[int, int]
) -> None:
    async def step(pilot: Pilot[None], fake: FakeConsole) -> None:
        await pilot.press("s")
        await until_screen(pilot, fake, HousePicker)
        await pilot.press("down", "enter", *"hw25", "enter")
        await pilot.pause(0.1)

    assert shot(snap_compare, size, FakeConsole(), step)


@pytest.mark.parametrize("size", SIZES)
def test_channel_detail(snap_compare: SnapCompare, size: tuple[int, int]) -> None:
    async def step(pilot: Pilot[None], fake: FakeConsole) -> None:
        await pilot.press("down", "down", "enter")
        await until_screen(pilot, fake, ChannelDetail)

    assert shot(snap_compare, size, FakeConsole(), step)


@pytest.mark.parametrize("size", SIZES)
def test_help(snap_compare: SnapCompare, size: tuple[int, int]) -> None:
    async def step(pilot: Pilot[None], fake: FakeConsole) -> None:
        await pilot.press("question_mark")
        await until_screen(pilot, fake, HelpScreen)

    assert shot(snap_compare, size, FakeConsole(), step)


@pytest.mark.parametrize("size", SIZES)
def test_offer_to_start_a_simulation(snap_compare: SnapCompare, size: tuple[int, int]) -> None:
    where = Path("/run/user/1000/gwscada-test-absent/scada.sock")

    async def nobody_there(path: Path | None) -> ScadaClient:
        raise ApiConnectError(f"no SCADA socket at {path}: is `scada serve` running?")

    settings = replace(SETTINGS, socket=where, offer_simulation=True)
    app = GwtuiApp(settings, connector=nobody_there, clock=FrozenClock(T0))

    async def run_before(pilot: Pilot[None]) -> None:
        await wait_for(pilot, lambda: isinstance(app.screen, StartSimModal), what="the offer")
        await pilot.pause(0.1)

    assert snap_compare(app, terminal_size=size, run_before=run_before)
