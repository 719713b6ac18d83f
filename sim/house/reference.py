"""A reference controller for tests and benchmarks only — the SCADA's control lives in scada/.

Plain hysteresis on true temperatures, to drive the physics through realistic days without the
runtime: the heat pump keeps the top of the tank near ``tank_target_c``; elements step in below
``tank_min_c``; each zone calls below its setpoint and its valve, thermostat relay and fan follow
the call; the circulator runs while any zone calls; a heat pump's primary pump follows the heat
pump; every other switched load stays off. A desired load state is written to every relay that
drives the load (failsafe relays included), so nothing runs behind the controller's back.
"""

from __future__ import annotations

from collections.abc import Mapping

from scada.layout import Layout
from sim.house.topology import LoadKind, Topology

ZONE_HYSTERESIS_K = 0.3
TANK_HYSTERESIS_K = 5.0


class ReferenceController:
    """``decide(temperatures)`` → relay states for :meth:`sim.house.HouseModel.step`."""

    def __init__(self, layout: Layout, topology: Topology) -> None:
        self.control = layout.control
        self.topology = topology
        self.hp_on = False
        self.elements_on = False
        self.calls = [False] * len(topology.zones)

    def decide(self, temps: Mapping[str, float]) -> dict[str, bool]:
        ctl, topo = self.control, self.topology
        top = temps[ctl.tank_layers[0]]
        if self.hp_on and top >= ctl.tank_target_c:
            self.hp_on = False
        elif not self.hp_on and top < ctl.tank_target_c - TANK_HYSTERESIS_K:
            self.hp_on = True
        if self.elements_on and top >= ctl.tank_min_c + TANK_HYSTERESIS_K:
            self.elements_on = False
        elif not self.elements_on and top < ctl.tank_min_c:
            self.elements_on = True
        for i, z in enumerate(ctl.zones):
            room = temps[z.room_channel]
            if self.calls[i] and room > z.setpoint_c + ZONE_HYSTERESIS_K:
                self.calls[i] = False
            elif not self.calls[i] and room < z.setpoint_c - ZONE_HYSTERESIS_K:
                self.calls[i] = True
        want = [False] * len(topo.loads)
        if topo.heat_pump is not None:
            want[topo.heat_pump] = self.hp_on
            if topo.heat_pump_pump is not None:
                want[topo.heat_pump_pump] = self.hp_on
        for load, _ in topo.elements:
            want[load] = self.elements_on
        for zone, call in zip(topo.zones, self.calls, strict=True):
            if zone.gate is not None:
                want[zone.gate] = call
            for fan in zone.fans:
                want[fan] = call
        if topo.circulator is not None:
            want[topo.circulator] = any(self.calls)
        out: dict[str, bool] = {}
        for ld, on in zip(topo.loads, want, strict=True):
            for relay, _ in ld.relays:
                out[relay] = on
        return out

    def heats(self, kind: LoadKind) -> bool:
        """Whether any load of ``kind`` is wanted on now (for tests)."""
        if kind is LoadKind.HEAT_PUMP:
            return self.hp_on
        if kind is LoadKind.ELEMENT:
            return self.elements_on
        return any(self.calls)
