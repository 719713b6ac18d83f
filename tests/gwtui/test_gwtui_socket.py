"""The console against the real local API: the real client over a real Unix socket, a SCADA
that restarts, and none at all (the offer to start a simulated one, as a real child process)."""

from __future__ import annotations

import shutil
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from gwtui.app import GwtuiApp
from gwtui.clock import SystemClock
from gwtui.launcher import LaunchError, SimLauncher
from gwtui.screens.confirm import ConfirmModal
from gwtui.screens.hold import HoldModal
from gwtui.screens.start_sim import StartSimModal
from gwtui.state import CommandPhase, LinkPhase
from gwtui.widgets.actuators import ActuatorTable
from scada.api.server import ApiServer
from tests.gwtui.gwtui_fakes import FakeBackend, FakeScada
from tests.gwtui.gwtui_support import SETTINGS, settled_live, wait_for

FAKE_SERVE = Path(__file__).with_name("gwtui_fake_serve.py")
ELT = "a.elt1.relay"


@pytest.fixture
def sock_dir() -> Iterator[Path]:
    """A short directory: AF_UNIX paths hold 107 bytes."""
    path = Path(tempfile.mkdtemp(prefix="gwt", dir="/tmp"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def real_console(path: Path, **changes: object) -> GwtuiApp:
    settings = replace(SETTINGS, socket=path, **changes)  # type: ignore[arg-type]
    return GwtuiApp(settings, clock=SystemClock())


async def test_hold_and_toggle_over_a_real_socket(sock_dir: Path) -> None:
    clock = SystemClock()
    scada = FakeScada(now=clock.now)
    path = sock_dir / "s.sock"
    async with ApiServer(FakeBackend(scada), path):
        app = real_console(path)
        async with app.run_test(size=(80, 24)) as pilot:
            await settled_live(pilot, app)
            await pilot.press("h")
            await wait_for(pilot, lambda: isinstance(app.screen, HoldModal))
            await pilot.press("enter")
            await wait_for(pilot, lambda: app.state.holder_is(app.operator), what="the hold")
            app.main_screen.query_one(ActuatorTable).focus()
            await pilot.press("t")
            await wait_for(pilot, lambda: isinstance(app.screen, ConfirmModal))
            await pilot.pause(0.35)
            await pilot.press("y")
            view = app.state.actuators[ELT]
            await wait_for(pilot, lambda: view.phase is CommandPhase.CONFIRMED, what="read-back")
            assert scada.snap.hold is not None
            await pilot.press("q")
        # Quitting released the hold on the SCADA's side.
        assert scada.snap.hold is None


async def test_the_console_reattaches_when_the_scada_restarts(sock_dir: Path) -> None:
    clock = SystemClock()
    path = sock_dir / "s.sock"
    app = real_console(path, reconnect_cap_s=0.3)
    server = ApiServer(FakeBackend(FakeScada(now=clock.now)), path)
    await server.start()
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            await settled_live(pilot, app)
            await server.close()
            await wait_for(pilot, lambda: app.state.connection.phase is not LinkPhase.LIVE)
            assert not app.state.live
            server = ApiServer(FakeBackend(FakeScada(now=clock.now)), path)
            await server.start()
            await wait_for(pilot, lambda: app.state.live, what="re-attach")
    finally:
        await server.close()


async def test_with_no_scada_the_console_offers_and_starts_a_simulated_one(sock_dir: Path) -> None:
    path = sock_dir / "s.sock"
    launchers: list[SimLauncher] = []

    def launcher(socket: Path) -> SimLauncher:
        made = SimLauncher(socket, argv_prefix=[sys.executable, str(FAKE_SERVE)])
        launchers.append(made)
        return made

    settings = replace(SETTINGS, socket=path, offer_simulation=True)
    app = GwtuiApp(settings, clock=SystemClock(), launcher_factory=launcher)
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            await wait_for(pilot, lambda: isinstance(app.screen, StartSimModal), what="the offer")
            await pilot.press("s")
            await settled_live(pilot, app, timeout_s=30)
            assert launchers[0].running
            assert app.state.simulated is True
            await pilot.press("q")
        assert not launchers[0].running  # the console stopped the SCADA it started
    finally:
        for made in launchers:
            made.stop()


async def test_keep_waiting_leaves_the_console_polling(sock_dir: Path) -> None:
    path = sock_dir / "s.sock"
    settings = replace(SETTINGS, socket=path, offer_simulation=True, reconnect_cap_s=0.2)
    app = GwtuiApp(settings, clock=SystemClock())
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, StartSimModal))
        await pilot.press("w")
        await wait_for(pilot, lambda: app.state.connection.phase is LinkPhase.DISCONNECTED)
        async with ApiServer(FakeBackend(FakeScada(now=SystemClock().now)), path):
            await wait_for(pilot, lambda: app.state.live, what="attach once it appears")
        assert app.launcher is None


async def test_a_simulation_that_dies_at_start_is_reported_with_its_log(sock_dir: Path) -> None:
    failing = SimLauncher(
        sock_dir / "s.sock",
        argv_prefix=[sys.executable, "-c", "import sys; print('no layout here'); sys.exit(3)"],
    )
    failing.start()
    with pytest.raises(LaunchError, match="no layout here"):
        await failing.wait_ready(timeout_s=10)
    failing.stop()
    assert not failing.running


async def test_a_missing_scada_executable_is_a_launch_error(sock_dir: Path) -> None:
    missing = SimLauncher(sock_dir / "s.sock", argv_prefix=[str(sock_dir / "no-such-scada")])
    with pytest.raises(LaunchError, match="cannot run"):
        missing.start()
    missing.stop()
