"""Energy is conserved: energy in - energy out = change in stored energy, over a simulated week."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta

import pytest

from sim.house import HouseModel
from sim.house.reference import ReferenceController
from sim.house.tank import WATER_CP_J_PER_KG_K
from tests.sim.house_support import DW1, HOUSES, T0, model_of, reference, run

WEEK_S = 7 * 86_400.0


def test_a_week_of_dw1_balances_within_one_percent_from_its_sensors() -> None:
    """Rebuild the balance from what the channels read, step by step, at dt = 10 s.

    A week from the middle of the profile (through the cold snap), run by the reference
    controller with the element forced on from 1 to 4 am so every load takes part.
    """
    model = model_of(DW1)
    layout = model.layout
    sim = layout.simulation
    assert sim is not None
    controller = ReferenceController(layout, model.topology)
    topo = model.topology
    elements = {relay for load, _ in topo.elements for relay, _ in topo.loads[load].relays}
    layer_c = sim.tank_volume_l * WATER_CP_J_PER_KG_K / len(layout.control.tank_layers)
    house_c = sim.house_heat_capacity_kj_per_k * 1000.0
    room = layout.control.zones[0].room_channel

    def stored(temps: Mapping[str, float]) -> float:
        tank = sum(temps[c] for c in layout.control.tank_layers) * layer_c
        return tank + temps[room] * house_c

    start = T0 + timedelta(days=12)
    dt = 10.0
    before = model.temperatures()
    initial = stored(before)
    electric = ambient = loss = 0.0
    t = start
    relays: dict[str, bool] = {}
    for i in range(round(WEEK_S / dt)):
        if i % 6 == 0:  # the controller decides every minute
            relays = controller.decide(before)
            if 1 <= t.hour < 4:
                relays.update(dict.fromkeys(elements, True))
        model.step(dt, relays, t)
        t += timedelta(seconds=dt)
        electric += sum(model.power_w().values()) * dt
        hp = model.heat_pump_state()
        ambient += (hp.heat_w - hp.electric_w) * dt
        after = model.temperatures()
        outdoor = after[layout.control.outdoor_channel or ""]
        loss += sim.house_loss_w_per_k * (before[room] - outdoor) * dt
        before = after
    delta = stored(before) - initial
    energy_in = electric + ambient
    assert energy_in > 1e9  # a real week of heating: > 280 kWh
    assert model.energy().element_heat_j > 0
    assert abs(energy_in - loss - delta) <= 0.01 * energy_in
    account = model.energy()
    assert account.electric_in_j == pytest.approx(electric, rel=1e-9)
    assert account.loss_to_outdoors_j == pytest.approx(loss, rel=1e-9)


@pytest.mark.parametrize("house", sorted(p.name for p in HOUSES.glob("*.json")))
def test_the_account_of_every_house_balances_over_a_week(house: str) -> None:
    model = model_of(HOUSES / house)
    run(model, WEEK_S, reference(model), dt_s=60.0)
    e = model.energy()
    energy_in = e.electric_in_j + e.heat_pump_ambient_j
    assert energy_in > 0
    assert abs(e.imbalance_j) <= 0.01 * energy_in
    assert abs(e.imbalance_j) <= 1e-9 * energy_in  # exact to rounding, in fact


def test_the_step_size_hardly_changes_the_result() -> None:
    results: list[HouseModel] = []
    for dt in (10.0, 60.0, 600.0):
        model = model_of(DW1)
        run(model, 86_400.0, reference(model), dt_s=dt, start=T0 + timedelta(days=15))
        results.append(model)
    fine = results[0]
    for coarse in results[1:]:
        assert coarse.zone_temps()["Garage"] == pytest.approx(fine.zone_temps()["Garage"], abs=0.5)
        assert coarse.tank.mean_c() == pytest.approx(fine.tank.mean_c(), abs=2.0)
        assert coarse.energy().electric_in_j == pytest.approx(fine.energy().electric_in_j, rel=0.1)
