"""Radiators deliver by supply temperature and flow; spaces lose heat and share it."""

from __future__ import annotations

import pytest

from sim.house.building import Building, SpaceSpec
from sim.house.emitters import deliver
from sim.house.tank import WATER_CP_J_PER_KG_K


def test_more_supply_temperature_or_flow_delivers_more() -> None:
    by_supply = [deliver(s, 0.2, [250.0], [20.0]).total_heat_w for s in (30.0, 40.0, 50.0, 60.0)]
    assert by_supply == sorted(by_supply)
    by_flow = [deliver(50.0, m, [250.0], [20.0]).total_heat_w for m in (0.02, 0.05, 0.1, 0.5, 5.0)]
    assert by_flow == sorted(by_flow)
    assert by_flow[-1] < 250.0 * 30.0  # bounded by UA * (supply - room)
    assert by_flow[-1] == pytest.approx(250.0 * 30.0, rel=0.01)


def test_return_water_sits_between_room_and_supply_and_carries_the_balance() -> None:
    d = deliver(55.0, 0.15, [200.0, 100.0], [20.0, 16.0])
    for q, m, r in zip(d.heat_w, d.flow_kg_s, d.return_c, strict=True):
        assert 16.0 < r < 55.0
        assert q == pytest.approx(m * WATER_CP_J_PER_KG_K * (55.0 - r))
    assert d.flow_kg_s[0] == pytest.approx(2 * d.flow_kg_s[1])  # shared by UA
    total = sum(d.heat_w)
    assert total == pytest.approx(0.15 * WATER_CP_J_PER_KG_K * (55.0 - d.mixed_return_c))


def test_a_shut_zone_and_no_flow_deliver_nothing() -> None:
    d = deliver(55.0, 0.2, [200.0, 0.0], [20.0, 20.0])
    assert d.heat_w[1] == 0.0
    assert d.flow_kg_s[1] == 0.0
    assert d.flow_kg_s[0] == pytest.approx(0.2)
    none = deliver(55.0, 0.0, [200.0], [20.0])
    assert none.total_heat_w == 0.0
    assert none.mixed_return_c == 55.0


def test_spaces_lose_to_the_outdoors_and_share_heat_exactly() -> None:
    spaces = [SpaceSpec("a", 5e6, 100.0), SpaceSpec("b", 2e6, 20.0)]
    b = Building(spaces, 20.0, [(0, 1, 50.0)])
    before = b.energy_j()
    b.temps = [22.0, 12.0]
    before = b.energy_j()
    loss = b.advance(60.0, -10.0, [1000.0, 0.0])
    assert loss == pytest.approx(100.0 * 32.0 + 20.0 * 22.0)
    assert b.energy_j() - before == pytest.approx((1000.0 - loss) * 60.0)
    for _ in range(20_000):
        b.advance(60.0, -10.0, [0.0, 0.0])
    assert b.temps == pytest.approx([-10.0, -10.0], abs=0.01)
