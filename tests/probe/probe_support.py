"""Shared by the probe tests: house layouts, layout variants, emulated machines, the CLI."""

from __future__ import annotations

import os
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

from typer.testing import CliRunner, Result

from scada.cli.main import app
from scada.clock import SystemClock
from scada.layout import Device, Layout, load_layout
from scada.layout.houses import find_house
from sim.buses.machine import EmulatedBuses
from sim.emulation import SimEmulation

ROOT = Path(__file__).resolve().parents[2]
SCADA = Path(sys.executable).parent / "scada"
DW1 = "dw1.isone.nh.orange.1"
W = "w.isone.nh.orange.1"
HW25 = "hw25.isone.me.versant.keene.beech"


def house(alias: str) -> Layout:
    return load_layout(find_house(alias))


def with_device(layout: Layout, name: str, **changes: object) -> Layout:
    """``layout`` with device ``name`` changed (``bus=`` takes a dict of bus field changes)."""
    bus_changes = changes.pop("bus", None)

    def changed(d: Device) -> Device:
        if d.name != name:
            return d
        if isinstance(bus_changes, dict):
            d = d.model_copy(update={"bus": d.bus.model_copy(update=bus_changes)})
        return d.model_copy(update=changes)

    return layout.model_copy(update={"devices": tuple(changed(d) for d in layout.devices)})


def device(layout: Layout, name: str) -> Device:
    return next(d for d in layout.devices if d.name == name)


@contextmanager
def populated(layout: Layout, root: Path) -> Iterator[EmulatedBuses]:
    """Emulated I2C chips, 1-Wire probes and GPIO pins for ``layout`` (no Modbus servers)."""
    buses = EmulatedBuses()
    buses.populate(layout, root / "w1")
    try:
        yield buses
    finally:
        buses.close()


@asynccontextmanager
async def emulated(layout: Layout, workdir: Path) -> AsyncIterator[SimEmulation]:
    """The simulator's whole machine for ``layout``, Modbus servers included."""
    emu = SimEmulation(layout, workdir, SystemClock(), atn=False)
    await emu.start()
    try:
        yield emu
    finally:
        await emu.stop()


def run(*args: str) -> Result:
    """``scada probe …`` in-process."""
    return CliRunner().invoke(app, ["probe", *args])


def subprocess_env(tmp: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"SCADA_HOUSE", "SCADA_SOCKET"}}
    env["SCADA_SOCKET"] = str(tmp / "nobody.sock")
    env["COLUMNS"] = "160"
    return env
