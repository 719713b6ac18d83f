"""The stratified tank: layers, inversion mixing, elements, loops and losses — energy exact."""

from __future__ import annotations

import itertools

import pytest

from sim.house.tank import WATER_CP_J_PER_KG_K, StratifiedTank


def tank(
    temps: list[float], *, loss_w_per_k: float = 0.0, volume_l: float = 400.0
) -> StratifiedTank:
    t = StratifiedTank(volume_l, len(temps), loss_w_per_k, 0.0)
    t.temps = list(temps)
    return t


def monotone(temps: list[float]) -> bool:
    return all(a >= b - 1e-12 for a, b in itertools.pairwise(temps))


def test_an_idle_tank_keeps_its_stratification() -> None:
    t = tank([60.0, 55.0, 50.0, 45.0, 40.0], loss_w_per_k=3.0)
    for _ in range(360):
        t.advance(10.0, room_c=20.0)
    assert monotone(t.temps)
    assert t.temps[0] - t.temps[-1] > 15.0
    assert t.temps[0] < 60.0  # conduction and standby loss do act


def test_a_warmer_layer_below_a_colder_one_mixes() -> None:
    t = tank([40.0, 60.0, 50.0, 45.0])
    before = t.energy_j()
    t.advance(1.0, room_c=20.0)
    assert monotone(t.temps)
    assert t.temps[0] == pytest.approx(50.0, abs=0.01)
    assert t.temps[1] == pytest.approx(50.0, abs=0.01)
    assert t.temps[3] == pytest.approx(45.0, abs=0.01)
    assert t.energy_j() == pytest.approx(before, rel=1e-12)


def test_mixing_pools_a_whole_inverted_run() -> None:
    t = tank([30.0, 40.0, 50.0, 60.0])
    t.mix_inversions()
    assert t.temps == pytest.approx([45.0] * 4)


def test_an_element_at_the_bottom_heats_the_whole_tank() -> None:
    t = tank([40.0] * 6)
    heat = [0.0] * 5 + [4500.0]
    for _ in range(360):
        t.advance(10.0, room_c=20.0, layer_heat_w=heat)
    rise = 4500.0 * 3600 / (400.0 * WATER_CP_J_PER_KG_K)
    assert max(t.temps) - min(t.temps) < 0.5  # the plume mixes it all
    assert t.mean_c() == pytest.approx(40.0 + rise, rel=1e-9)


def test_an_element_at_the_top_heats_only_the_top() -> None:
    t = tank([40.0] * 6)
    heat = [4500.0] + [0.0] * 5
    for _ in range(180):
        t.advance(10.0, room_c=20.0, layer_heat_w=heat)
    assert t.temps[0] > 60.0
    assert t.temps[-1] < 40.5


def test_charging_from_the_top_pushes_a_thermocline_down() -> None:
    t = tank([30.0] * 8)
    flow = 0.1  # kg/s, 30 K rise
    for _ in range(100):  # 1000 s: 100 kg, a quarter of the tank
        heat = flow * WATER_CP_J_PER_KG_K * 30.0
        t.advance(10.0, room_c=20.0, charge_kg_s=flow, charge_heat_w=heat)
    assert monotone(t.temps)
    assert t.temps[0] > 55.0
    assert t.temps[-1] == pytest.approx(30.0, abs=0.5)


def test_a_draw_takes_hot_water_from_the_top_and_returns_it_at_the_bottom() -> None:
    t = tank([60.0] * 8)
    flow = 0.2
    for _ in range(60):
        heat = flow * WATER_CP_J_PER_KG_K * (t.temps[0] - 35.0)  # returns at 35 °C
        t.advance(10.0, room_c=20.0, draw_kg_s=flow, draw_heat_w=heat)
    assert t.temps[0] == pytest.approx(60.0, abs=0.1)
    assert t.temps[-1] < 45.0
    assert monotone(t.temps)


def test_standby_loss_follows_the_loss_coefficient() -> None:
    t = tank([60.0] * 4, loss_w_per_k=3.0)
    loss = t.advance(1.0, room_c=20.0)
    assert loss == pytest.approx(3.0 * 40.0)


@pytest.mark.parametrize("dt_s", [1.0, 10.0, 600.0, 3600.0])
def test_every_step_balances_energy_exactly(dt_s: float) -> None:
    t = tank([70.0, 62.0, 55.0, 41.0, 35.0, 30.0], loss_w_per_k=4.0)
    before = t.energy_j()
    heat = [0.0, 1000.0, 0.0, 0.0, 0.0, 2000.0]
    loss = t.advance(
        dt_s,
        room_c=18.0,
        charge_kg_s=0.4,
        charge_heat_w=8000.0,
        draw_kg_s=0.2,
        draw_heat_w=5000.0,
        layer_heat_w=heat,
    )
    expected = (8000.0 - 5000.0 + 3000.0 - loss) * dt_s
    assert t.energy_j() - before == pytest.approx(expected, rel=1e-9, abs=1e-3)
    assert monotone(t.temps)
    assert all(10.0 < x < 100.0 for x in t.temps)  # large steps stay stable
