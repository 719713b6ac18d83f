"""Building consoles on the fake SCADA for tests, and waiting for them to settle."""

from __future__ import annotations

import asyncio
import contextlib
import io
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from pathlib import Path

from rich.console import Console
from rich.text import Text
from textual.pilot import Pilot
from textual.widgets import DataTable

from gwtui.app import GwtuiApp
from gwtui.clock import FrozenClock
from gwtui.connection import ScadaClient
from gwtui.screens.confirm import ConfirmModal
from gwtui.settings import ConsoleSettings
from gwtui.widgets.header import HeaderView, HouseHeader, render_header
from tests.gwtui.gwtui_fakes import FakeClient, FakeScada
from tests.gwtui.gwtui_house import T0, history_prelude

OPERATOR = "Jane Installer"
SETTINGS = ConsoleSettings(
    reconnect_jitter=0.0,
    operator=OPERATOR,
    offer_simulation=False,
    flash_s=0.0,
    confirm_guard_s=0.3,
)


class FakeConsole:
    """A console wired to an in-process fake SCADA on a frozen clock."""

    def __init__(
        self,
        scada: FakeScada | None = None,
        settings: ConsoleSettings = SETTINGS,
        *,
        history: bool = True,
    ) -> None:
        self.clock = FrozenClock(T0)
        self.scada = scada or FakeScada(now=self.clock.now)
        if history and not self.scada.prelude:
            self.scada.prelude = history_prelude()
        self.clients: list[FakeClient] = []
        self.app = GwtuiApp(settings, connector=self._connect, clock=self.clock)

    async def _connect(self, _path: Path | None) -> ScadaClient:
        client = FakeClient(self.scada)
        self.clients.append(client)
        return client


def console(**changes: object) -> FakeConsole:
    """A fake console with some settings changed (``readonly=True``...)."""
    return FakeConsole(settings=replace(SETTINGS, **changes))  # type: ignore[arg-type]


def header_text(app: GwtuiApp, width: int = 80) -> str:
    """The header as plain text, rendered the way the widget renders it."""
    header = app.main_screen.query_one(HouseHeader)
    console = Console(width=width, record=True, file=io.StringIO(), color_system=None)
    view = HeaderView(
        operator=app.operator,
        readonly=app.settings.readonly,
        now=app.clock.now(),
        monotonic=app.clock.monotonic(),
        paused=header.paused,
    )
    console.print(render_header(app.state, view))
    return console.export_text()


def cell(table: DataTable[Text], row: str, column: str) -> str:
    return table.get_cell(row, column).plain


async def wait_for(
    pilot: Pilot[None], predicate: Callable[[], bool], timeout_s: float = 15.0, what: str = ""
) -> None:
    """Let the app run until ``predicate`` holds (fail after ``timeout_s``)."""
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or predicate}")
        await pilot.pause(0.02)


@contextlib.asynccontextmanager
async def attached(
    fake: FakeConsole, size: tuple[int, int] = (80, 24)
) -> AsyncIterator[Pilot[None]]:
    """The console running at ``size``, attached and settled (see :func:`settled`)."""
    async with fake.app.run_test(size=size) as pilot:
        await settled(pilot, fake)
        yield pilot


async def confirmed(pilot: Pilot[None], fake: FakeConsole, key: str) -> None:
    """Press ``key``, wait for its confirmation, let the key guard pass and answer yes."""
    await pilot.press(key)
    await wait_for(pilot, lambda: isinstance(fake.app.screen, ConfirmModal), what="the question")
    await pilot.pause(fake.app.settings.confirm_guard_s)
    await pilot.press("y")


async def settled(pilot: Pilot[None], fake: FakeConsole) -> None:
    """Attached, snapshot and history drawn, log backfilled: ready for keys or a screenshot."""
    app = fake.app
    want = 1 + len(fake.scada.prelude)
    await wait_for(
        pilot,
        lambda: app.state.live and app.state.events_seen >= want and app.attach_complete,
        what="the console to attach and settle",
    )
    await pilot.pause(app.settings.refresh_s * 2)
    await asyncio.sleep(0)
    await pilot.pause()


async def settled_live(pilot: Pilot[None], app: GwtuiApp, timeout_s: float = 10.0) -> None:
    """Attached to a real server (any number of events): live, snapshot in, history loaded."""
    await wait_for(
        pilot,
        lambda: app.state.live and bool(app.state.channels) and app.attach_complete,
        timeout_s=timeout_s,
        what="the console to attach",
    )
    await pilot.pause(app.settings.refresh_s * 2)
