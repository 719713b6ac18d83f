"""Radiators: heat delivered to each open zone from the supply temperature and the flow.

Each zone's emitters are a heat exchanger of conductance ``UA`` (W/K) between the water and the
room air (whose heat capacity rate is taken as infinite). With a water flow ``m`` through them
the effectiveness-NTU method gives::

    NTU = UA / (m * cp)        eps = 1 - exp(-NTU)
    Q   = eps * m * cp * (T_supply - T_room)
    T_return = T_supply - Q / (m * cp)

so delivery rises with both supply temperature and flow, and saturates at ``UA * (T_supply -
T_room)`` for a large flow. The circulator's flow is shared by the open zones in proportion to
their UA; a zone whose valve is shut gets none. A fan coil's UA drops to
:data:`FAN_OFF_SHARE` of its rating when its fan is off (natural convection only).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from sim.house.tank import WATER_CP_J_PER_KG_K

FAN_OFF_SHARE = 0.3


@dataclass(frozen=True, slots=True)
class Delivery:
    """Heat to each zone (W, 0 for a shut one), its flow and return, and the mixed return."""

    heat_w: tuple[float, ...]
    flow_kg_s: tuple[float, ...]
    return_c: tuple[float, ...]
    mixed_return_c: float
    total_flow_kg_s: float

    @property
    def total_heat_w(self) -> float:
        return sum(self.heat_w)


def deliver(
    supply_c: float,
    flow_kg_s: float,
    ua_w_per_k: Sequence[float],
    room_c: Sequence[float],
) -> Delivery:
    """Share ``flow_kg_s`` among zones with ``ua_w_per_k`` > 0 (0 = shut) and deliver heat."""
    n = len(ua_w_per_k)
    total_ua = sum(ua_w_per_k)
    if flow_kg_s <= 0 or total_ua <= 0:
        return Delivery((0.0,) * n, (0.0,) * n, (supply_c,) * n, supply_c, 0.0)
    # The flow is shared in proportion to UA, so every open zone has the same NTU.
    eps = 1.0 - math.exp(-total_ua / (flow_kg_s * WATER_CP_J_PER_KG_K))
    rate_per_ua = flow_kg_s * WATER_CP_J_PER_KG_K / total_ua  # W/K of water flow per W/K of UA
    heat: list[float] = []
    flows: list[float] = []
    returns: list[float] = []
    mixed = 0.0
    per_ua = flow_kg_s / total_ua
    for ua, room in zip(ua_w_per_k, room_c, strict=True):
        if ua <= 0:
            heat.append(0.0)
            flows.append(0.0)
            returns.append(supply_c)
            continue
        drop = eps * (supply_c - room)  # the water's temperature drop through the zone
        heat.append(rate_per_ua * ua * drop)
        flows.append(per_ua * ua)
        returns.append(supply_c - drop)
        mixed += ua * (supply_c - drop)
    return Delivery(tuple(heat), tuple(flows), tuple(returns), mixed / total_ua, flow_kg_s)
