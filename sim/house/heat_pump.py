"""An air-to-water heat pump: capacity and COP from outdoor air and leaving water temperature.

COP is a fixed fraction of the Carnot COP between a condensing temperature 5 K above the
leaving water and an evaporating temperature 10 K below the outdoor air::

    COP = f * T_cond / (T_cond - T_evap)

with ``f`` chosen so the COP at A7/W35 (7 °C air, 35 °C water) is the rated one (3.5 by
default, f = 0.48). That gives about 3.5 at A7/W35, 2.6 at A0/W45, 2.5 at A7/W55 and 1.9 at
A-15/W55, in line with published data of monobloc units (EN 14511 test points).

Capacity is the rated heat output at A7/W35, reduced by ``capacity_drop_per_k`` (1 %/K, a
cold-climate unit as on the NEEP list) for every kelvin of outdoor air below 7 °C (about 78 %
at -15 °C, 68 % at -25 °C; a little more above 7 °C, at most 120 %) and by 0.4 %/K of leaving
water above 35 °C. Below ``min_outdoor_c`` the unit stops.

Two ways to run:

* **on/off** (the default): at full available capacity, at its nominal flow; the leaving water
  is the entering water plus capacity / (flow * cp). Near ``max_supply_c`` it holds the leaving
  water at that limit (its own high-limit control, averaged over its cycling).
* **chosen output temperature** (``controllable``): at full capacity it varies its flow (10 % to
  100 % of nominal) to leave the water at the chosen temperature; for a small lift, at nominal
  flow, it modulates the compressor down; for a lift too large even at the lowest flow the water
  leaves cooler than chosen; with less than 0.5 K to lift it idles. Behind an external primary
  pump (fixed flow) only the compressor modulates.

Electrical power is heat / COP, all of it drawn by the unit (outdoor and indoor parts).
"""

from __future__ import annotations

from dataclasses import dataclass

from sim.house.tank import WATER_CP_J_PER_KG_K

KELVIN = 273.15
CONDENSER_APPROACH_K = 5.0
EVAPORATOR_APPROACH_K = 10.0
RATED_OUTDOOR_C = 7.0
RATED_SUPPLY_C = 35.0
SUPPLY_DERATE_PER_K = 0.004
MAX_CAPACITY_FACTOR = 1.2
MIN_FLOW_SHARE = 0.1
MIN_LIFT_K = 0.5
COP_MIN, COP_MAX = 1.0, 8.0
MIN_CARNOT_LIFT_K = 15.0


def carnot_cop(outdoor_c: float, supply_c: float) -> float:
    """Carnot heating COP between the condensing and evaporating temperatures."""
    t_cond = supply_c + CONDENSER_APPROACH_K + KELVIN
    t_evap = outdoor_c - EVAPORATOR_APPROACH_K + KELVIN
    return t_cond / max(t_cond - t_evap, MIN_CARNOT_LIFT_K)


@dataclass(frozen=True, slots=True)
class HeatPumpSpec:
    """What the unit can do; see the module doc for the model."""

    rated_capacity_w: float
    rated_cop: float = 3.5
    capacity_drop_per_k: float = 0.01
    min_outdoor_c: float = -30.0
    max_supply_c: float = 65.0
    nominal_flow_kg_s: float = 0.0  # 0: a 5 K rise at rated capacity
    controllable: bool = False

    @property
    def flow_kg_s(self) -> float:
        if self.nominal_flow_kg_s > 0:
            return self.nominal_flow_kg_s
        return self.rated_capacity_w / (WATER_CP_J_PER_KG_K * 5.0)

    @property
    def carnot_fraction(self) -> float:
        return self.rated_cop / carnot_cop(RATED_OUTDOOR_C, RATED_SUPPLY_C)

    def cop(self, outdoor_c: float, supply_c: float) -> float:
        """Coefficient of performance at this outdoor air and leaving water temperature."""
        cop = self.carnot_fraction * carnot_cop(outdoor_c, supply_c)
        return min(COP_MAX, max(COP_MIN, cop))

    def capacity_w(self, outdoor_c: float, supply_c: float) -> float:
        """Most heat it can deliver (W) at this outdoor air and leaving water temperature."""
        if outdoor_c < self.min_outdoor_c:
            return 0.0
        air = 1.0 + self.capacity_drop_per_k * (outdoor_c - RATED_OUTDOOR_C)
        air = min(MAX_CAPACITY_FACTOR, max(0.0, air))
        water = 1.0 - SUPPLY_DERATE_PER_K * max(0.0, supply_c - RATED_SUPPLY_C)
        return self.rated_capacity_w * air * max(0.0, water)


@dataclass(frozen=True, slots=True)
class HeatPumpOutput:
    """One operating point: heat into the water, electricity drawn, temperatures and flow."""

    heat_w: float
    electric_w: float
    supply_c: float  # leaving water
    return_c: float  # entering water
    flow_kg_s: float

    @property
    def cop(self) -> float:
        return self.heat_w / self.electric_w if self.electric_w > 0 else 0.0

    @property
    def ambient_w(self) -> float:
        """Heat taken from the outdoor air."""
        return self.heat_w - self.electric_w


def idle(return_c: float, flow_kg_s: float = 0.0) -> HeatPumpOutput:
    """Not heating: water (if any flows) leaves as it came."""
    return HeatPumpOutput(0.0, 0.0, return_c, return_c, flow_kg_s)


def operate(
    spec: HeatPumpSpec,
    *,
    outdoor_c: float,
    return_c: float,
    target_supply_c: float | None = None,
    flow_kg_s: float | None = None,
) -> HeatPumpOutput:
    """The unit running with ``return_c`` entering water.

    ``flow_kg_s`` is set by an external primary pump (0: no flow, the flow switch keeps the
    compressor off); None lets the unit's own pump choose. ``target_supply_c`` is the chosen
    leaving water temperature of a controllable unit (ignored by an on/off one).
    """
    cp = WATER_CP_J_PER_KG_K
    nominal = spec.flow_kg_s
    if flow_kg_s is not None and flow_kg_s <= 0:
        return idle(return_c)
    limit = spec.max_supply_c
    if spec.controllable and target_supply_c is not None:
        target = min(target_supply_c, limit)
        lift = target - return_c
        if lift < MIN_LIFT_K:
            return idle(return_c, flow_kg_s or 0.0)
        heat = spec.capacity_w(outdoor_c, target)
        if flow_kg_s is None:  # own pump: vary the flow to hit the target
            flow = min(nominal, max(MIN_FLOW_SHARE * nominal, heat / (cp * lift)))
        else:
            flow = flow_kg_s
        heat = min(heat, flow * cp * lift)
    else:
        flow = nominal if flow_kg_s is None else flow_kg_s
        first = spec.capacity_w(outdoor_c, return_c + 5.0)  # one fixed-point pass suffices
        heat = spec.capacity_w(outdoor_c, return_c + first / (flow * cp))
        heat = min(heat, max(0.0, flow * cp * (limit - return_c)))
    if heat <= 0:
        return idle(return_c, flow)
    supply = return_c + heat / (flow * cp)
    return HeatPumpOutput(heat, heat / spec.cop(outdoor_c, supply), supply, return_c, flow)
