"""Every house in input_data builds and runs; the physics follows the layout, not aliases."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from scada.layout import LayoutError, Quantity, load_layout, parse_layout
from sim.house import HouseModel, HouseModelError, ProfileError
from sim.house.topology import LoadKind, PipePoint
from tests.sim.house_support import DW1, HOUSES, HW25, W, all_relays, model_of, reference, run

HOUSE_FILES = sorted(HOUSES.glob("*.json"))


@pytest.mark.parametrize("path", HOUSE_FILES, ids=lambda p: p.stem)
def test_every_house_builds_and_runs(path: Path) -> None:
    layout = load_layout(path)
    model = HouseModel.from_layout(layout, file=str(path))
    assert model.topology.notes == ()  # every channel placed without a fallback
    assert model.tank.layers >= 4
    run(model, 3600.0, reference(model), dt_s=10.0)
    run(model, 3600.0, all_relays(model, on=True), dt_s=10.0)
    readings = model.readings()
    wanted = {
        c.name
        for c in layout.channels
        if c.quantity in {Quantity.WATER_TEMP, Quantity.AIR_TEMP, Quantity.POWER, Quantity.FLOW}
    }
    assert set(readings) == wanted
    assert all(math.isfinite(v) for v in readings.values())
    for c in layout.channels:
        lo, hi = c.plausible_range
        assert lo <= readings[c.name] <= hi, (c.name, readings[c.name])


def test_dw1_maps_its_control_section() -> None:
    topo = model_of(DW1).topology
    loads = {ld.node: ld.kind for ld in topo.loads}
    assert loads == {
        "a.hp": LoadKind.HEAT_PUMP,
        "a.elt1": LoadKind.ELEMENT,
        "a.tank.out.pump": LoadKind.PUMP,
    }
    assert topo.heat_pump_pump is None  # the unit's own pump
    assert topo.tank_layers == 5
    assert [layer for _, layer in topo.tank_sensors] == [0, 1, 2, 3, 4]
    assert [layer for _, layer in topo.elements] == [4]  # one element: at the bottom
    assert {p.channel: p.point for p in topo.pipe_sensors} == {
        "pipe-out-temp": PipePoint.DIST_SUPPLY,
        "pipe-in-temp": PipePoint.DIST_RETURN,
    }


def test_hw25_maps_pumps_zones_fans_and_pipes() -> None:
    topo = model_of(HW25).topology
    node = {i: ld.node for i, ld in enumerate(topo.loads)}
    assert topo.heat_pump is not None
    assert node[topo.heat_pump] == "a.hp"
    assert topo.heat_pump_pump is not None
    assert node[topo.heat_pump_pump] == "a.hp.pump"
    assert topo.circulator is not None
    assert node[topo.circulator] == "a.dist.pump"
    assert [layer for _, layer in topo.elements] == [0, 11]  # upper and lower
    gates = [node[z.gate] if z.gate is not None else None for z in topo.zones]
    assert gates == ["a.zone1.valve", "a.zone2.valve", "a.zone3.stat", "a.zone4.stat"]
    fans = [[node[f] for f in z.fans] for z in topo.zones]
    assert fans == [[], ["a.zone2.fancoil"], [], ["a.zone4.fancoil"]]
    assert topo.spaces[topo.tank_space].node == "a.mechroom"
    points = {p.channel: p.point for p in topo.pipe_sensors}
    assert points["hp-lwt-temp"] is PipePoint.HP_SUPPLY
    assert points["hp-ewt-temp"] is PipePoint.HP_RETURN
    assert points["store-hot-temp"] is PipePoint.TANK_TOP
    assert points["dist-rwt-temp"] is PipePoint.DIST_RETURN
    assert points["zone3-return-temp"] is PipePoint.ZONE_RETURN


def test_w_has_one_tank_sensor_on_a_four_layer_tank_and_a_zone_fan() -> None:
    topo = model_of(W).topology
    assert topo.tank_layers == 4
    assert topo.tank_sensors == (("tank-top-temp", 0),)
    assert topo.heat_pump is None
    assert topo.zones[0].gate is None  # its zone relay drives the radiator fan
    assert len(topo.zones[0].fans) == 1


def test_tank_layers_and_element_layers_can_be_set() -> None:
    model = model_of(HW25, tank_layers=24, boost_element_layers=(3, 20))
    assert model.tank.layers == 24
    assert [layer for _, layer in model.topology.elements] == [3, 20]
    assert model.topology.tank_sensors[-1] == ("tank-temp12", 23)


def test_a_layout_without_simulation_settings_uses_the_defaults() -> None:
    layout = load_layout(DW1).model_copy(update={"simulation": None})
    model = HouseModel.from_layout(layout)
    assert model.settings.tank_volume_l == 450.0
    model.step(10.0, {}, model.weather.start.replace(tzinfo=None))


def _with_simulation(**simulation: object) -> str:
    doc = json.loads(DW1.read_text("utf-8"))
    doc["simulation"].update(simulation)
    return json.dumps(doc)


@pytest.mark.parametrize(
    ("simulation", "path", "what"),
    [
        (
            {"boost_element_layers": [1, 2]},
            "simulation.boost_element_layers",
            "give one per element",
        ),
        (
            {"boost_element_layers": [9]},
            "simulation.boost_element_layers[0]",
            "layer 9 is not in the 5-layer tank",
        ),
        ({"tank_layers": 4}, "simulation.tank_layers", "cannot hold the 5 tank sensors"),
        ({"tank_layers": 2}, "simulation.tank_layers", "greater than or equal to 4"),
        ({"heat_pump_rated_cop": 12}, "simulation.heat_pump_rated_cop", "less than or equal to 8"),
        ({"heat_pump_cop": 3}, "simulation.heat_pump_cop", "unknown key"),
    ],
)
def test_bad_simulation_settings_are_layout_problems(
    simulation: dict[str, object], path: str, what: str
) -> None:
    with pytest.raises(LayoutError) as caught:
        parse_layout(_with_simulation(**simulation), "dw1.json")
    message = str(caught.value)
    assert f"dw1.json: {path}: " in message
    assert what in message


def test_a_missing_weather_profile_is_a_profile_error(tmp_path: Path) -> None:
    with pytest.raises(ProfileError, match=r"no-such\.csv: cannot read"):
        HouseModel.from_layout(
            load_layout(DW1).model_copy(
                update={
                    "simulation": load_layout(DW1).simulation.model_copy(  # type: ignore[union-attr]
                        update={"weather_profile": "no-such.csv"}
                    )
                }
            ),
            profiles_dir=tmp_path,
        )


@pytest.mark.parametrize(
    ("control", "key", "said"),
    [
        ({"boost_elements": []}, "control.boost_elements", "a.elt1 (element, switched by a.elt1"),
        ({"heat_pump": None}, "control.heat_pump", "a.hp (heat_pump, switched by a.hp.relay)"),
    ],
)
def test_a_heater_the_control_does_not_name_is_refused(
    control: dict[str, object], key: str, said: str
) -> None:
    """Its heat would go nowhere: switched on (by an installer's hold) it would draw power and
    break the energy balance."""
    layout = load_layout(DW1)
    layout = layout.model_copy(update={"control": layout.control.model_copy(update=control)})
    with pytest.raises(HouseModelError) as caught:
        HouseModel.from_layout(layout, file="dw1.json")
    assert caught.value.path == key
    assert said in caught.value.what
    assert caught.value.what.endswith("the simulator would not know where its heat goes")
