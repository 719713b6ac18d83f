"""Shared helpers of the house physics tests: the houses, a start time, a stepping loop."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from scada.layout import Layout, load_layout
from sim.house import HouseModel
from sim.house.reference import ReferenceController

ROOT = Path(__file__).resolve().parents[2]
HOUSES = ROOT / "input_data" / "houses"
PROFILES = ROOT / "input_data" / "profiles"
DW1 = HOUSES / "dw1.isone.nh.orange.1.json"
HW25 = HOUSES / "hw25.isone.me.versant.keene.beech.json"
W = HOUSES / "w.isone.nh.orange.1.json"
NY = ZoneInfo("America/New_York")
T0 = datetime(2024, 1, 8, tzinfo=NY)  # the profiles' first hour, a Monday
COLD_SNAP = T0 + timedelta(days=15)


def layout_of(path: Path) -> Layout:
    return load_layout(path)


def model_of(path: Path, **simulation: object) -> HouseModel:
    """The house at ``path``, its simulation settings changed by ``simulation``."""
    layout = load_layout(path)
    if simulation:
        assert layout.simulation is not None
        layout = layout.model_copy(
            update={"simulation": layout.simulation.model_copy(update=simulation)}
        )
    return HouseModel.from_layout(layout, file=str(path))


def all_relays(model: HouseModel, *, on: bool) -> dict[str, bool]:
    """Every relay of the house in the same state (failsafes included)."""
    return {relay: on for load in model.topology.loads for relay, _ in load.relays}


def run(
    model: HouseModel,
    seconds: float,
    actuators: Mapping[str, bool] | Callable[[HouseModel], Mapping[str, bool]],
    *,
    start: datetime = T0,
    dt_s: float = 10.0,
    each: Callable[[HouseModel, float], None] | None = None,
) -> datetime:
    """Step ``model`` for ``seconds``; ``actuators`` may be a function of the model."""
    t = start
    for _ in range(round(seconds / dt_s)):
        relays = actuators(model) if callable(actuators) else actuators
        model.step(dt_s, relays, t)
        t += timedelta(seconds=dt_s)
        if each is not None:
            each(model, dt_s)
    return t


def reference(model: HouseModel) -> Callable[[HouseModel], Mapping[str, bool]]:
    """The reference controller of ``model``'s house, as an ``actuators`` function."""
    controller = ReferenceController(model.layout, model.topology)
    return lambda m: controller.decide(m.temperatures())
