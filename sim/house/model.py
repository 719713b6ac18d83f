"""The whole simulated house: tank, heat pump, elements, radiators and building, stepped by dt.

Pure: no clock, no asyncio, no I/O once built (building it loads the weather profile). The
caller owns time and calls :meth:`HouseModel.step` with the relays' states; sensors read
:meth:`HouseModel.temperatures`, :meth:`HouseModel.power_w` and :meth:`HouseModel.flow_gpm` —
true values, without noise or quantisation (those belong to the emulated devices).

Energy bookkeeping: every flux is integrated with the same values that move the temperatures,
so ``electric in + heat pump heat from outdoors - loss to outdoors = change in stored heat``
(tank water and building mass, counted from 0 °C) holds to rounding; see :class:`EnergyAccount`.
Electricity drawn by pumps ends up as heat in the tank water, by fans in their zone's air.
Pipe sensors are sensor states only (no water mass): they follow the water when it flows
(time constant 20 s) and settle to the surrounding air when it stands (15 min).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from scada.layout import Layout, SimulationSettings
from sim.house import emitters
from sim.house.building import Building
from sim.house.heat_pump import HeatPumpOutput, HeatPumpSpec, idle, operate
from sim.house.profiles import Profile, load_weather
from sim.house.tank import (
    WATER_CP_J_PER_KG_K,
    StratifiedTank,
    gpm_to_kg_s,
    kg_s_to_gpm,
)
from sim.house.topology import FlowLoop, LoadKind, PipePoint, Topology, plan

MAX_SUBSTEP_S = 60.0
SUBSTEP_SHARE_OF_TAU = 0.1
PIPE_FLOWING_TAU_S = 20.0
PIPE_STILL_TAU_S = 900.0
_IDLE = idle(0.0)
_PIPE_CODES = {
    PipePoint.HP_SUPPLY: 0,
    PipePoint.HP_RETURN: 1,
    PipePoint.TANK_TOP: 2,
    PipePoint.TANK_BOTTOM: 3,
    PipePoint.DIST_SUPPLY: 4,
    PipePoint.DIST_RETURN: 5,
    PipePoint.ZONE_RETURN: 6,
}
_ZONE_RETURN_CODE = 6


@dataclass(frozen=True, slots=True)
class EnergyAccount:
    """Cumulative energy since the model was built (J)."""

    electric_in_j: float
    heat_pump_ambient_j: float  # taken from the outdoor air by the heat pump
    loss_to_outdoors_j: float  # through the envelope
    stored_j: float  # tank water + building mass, from 0 °C
    initial_stored_j: float
    heat_pump_heat_j: float
    element_heat_j: float

    @property
    def delta_stored_j(self) -> float:
        return self.stored_j - self.initial_stored_j

    @property
    def imbalance_j(self) -> float:
        """In minus out minus the change in store: zero when energy is conserved."""
        return (
            self.electric_in_j
            + self.heat_pump_ambient_j
            - self.loss_to_outdoors_j
            - self.delta_stored_j
        )


class HouseModel:
    """One simulated house. Build with :meth:`from_layout`; advance with :meth:`step`."""

    def __init__(self, layout: Layout, topology: Topology, weather: Profile) -> None:
        self.layout = layout
        self.topology = topology
        self.weather = weather
        sim = layout.simulation or SimulationSettings()
        self.settings = sim
        topo = topology
        self.tank = StratifiedTank(
            sim.tank_volume_l, topo.tank_layers, sim.tank_loss_w_per_k, sim.initial_tank_c
        )
        self.building = Building(topo.spaces, sim.initial_space_c, topo.couplings)
        self.heat_pump: HeatPumpSpec | None = None
        if topo.heat_pump is not None:
            load = topo.loads[topo.heat_pump]
            rated = sim.heat_pump_capacity_w or 2.0 * load.nameplate_w or 6000.0
            flow = gpm_to_kg_s(sim.heat_pump_flow_gpm) if sim.heat_pump_flow_gpm else 0.0
            self.heat_pump = HeatPumpSpec(
                rated_capacity_w=rated,
                rated_cop=sim.heat_pump_rated_cop,
                capacity_drop_per_k=sim.heat_pump_capacity_drop_per_k,
                min_outdoor_c=sim.heat_pump_min_outdoor_c,
                max_supply_c=sim.heat_pump_max_supply_c,
                nominal_flow_kg_s=flow,
                controllable=sim.heat_pump_output_controllable,
            )
        self._dist_kg_s = gpm_to_kg_s(sim.distribution_flow_gpm)
        n_loads = len(topo.loads)
        self._plates = [ld.nameplate_w for ld in topo.loads]
        self._single = [
            (i, ld.relays[0][0], ld.relays[0][1])
            for i, ld in enumerate(topo.loads)
            if len(ld.relays) == 1
        ]
        self._multi = [(i, ld.relays) for i, ld in enumerate(topo.loads) if len(ld.relays) > 1]
        self._pump_loads = [i for i, ld in enumerate(topo.loads) if ld.kind is LoadKind.PUMP]
        self._zone_pump_gates = [
            z.gate
            for z in topo.zones
            if z.gate is not None and topo.loads[z.gate].kind is LoadKind.PUMP
        ]
        self._zone_spaces = [z.space for z in topo.zones]
        self._pipe_codes = [_PIPE_CODES[p.point] for p in topo.pipe_sensors]
        zone_fans = {f: z.space for z in topo.zones for f in z.fans}
        self._fan_space = [
            (i, zone_fans.get(i, topo.tank_space))
            for i, ld in enumerate(topo.loads)
            if ld.kind is LoadKind.FAN
        ]
        self._on = [False] * n_loads
        self._load_w = [0.0] * n_loads
        self._hp = idle(self.tank.temps[-1])
        n_zones = len(topo.zones)
        self._delivery = emitters.deliver(self.tank.temps[0], 0.0, [0.0] * n_zones, [0.0] * n_zones)
        self._outdoor_c = weather.values[0]
        self._pipe_c = [self.building.temps[p.ambient_space] for p in topo.pipe_sensors]
        self._pipe_alpha: tuple[float, float, float] = (0.0, 0.0, 0.0)  # dt, flowing, still
        self._zone_ua = [0.0] * n_zones
        self._running = False
        self._switched: tuple[bool, ...] | None = None
        self._step_w = [0.0] * n_loads
        extra = [0.0] * len(topo.spaces)
        for z in topo.zones:
            extra[z.space] += topo.zone_ua_w_per_k
        extra[topo.tank_space] += sim.tank_loss_w_per_k
        tau = self.building.shortest_time_constant_s(extra)
        self._max_substep_s = min(MAX_SUBSTEP_S, SUBSTEP_SHARE_OF_TAU * tau)
        self._electric_j = 0.0
        self._ambient_j = 0.0
        self._loss_j = 0.0
        self._hp_heat_j = 0.0
        self._element_j = 0.0
        self._initial_j = self.stored_j()
        self.time: datetime | None = None

    # ----------------------------------------------------------------- build

    @classmethod
    def from_layout(
        cls,
        layout: Layout,
        *,
        file: str = "<layout>",
        weather: Profile | None = None,
        profiles_dir: Path | None = None,
        start: datetime | None = None,
    ) -> HouseModel:
        """Build the physics of ``layout``; ``file`` names the layout in errors.

        The weather profile is ``simulation.weather_profile`` (under ``profiles_dir``) unless
        given. ``start`` only sets the outdoor temperature shown before the first step.

        Raises:
            HouseModelError: the simulation settings do not fit the layout.
            ProfileError: the weather profile is missing or invalid.
        """
        topology = plan(layout, file)
        sim = layout.simulation or SimulationSettings()
        if weather is None:
            weather = load_weather(
                sim.weather_profile, directory=profiles_dir, tz=layout.house.time_zone
            )
        model = cls(layout, topology, weather)
        if start is not None:
            model._outdoor_c = weather.at(start)
            model.time = start
        return model

    # ------------------------------------------------------------------ step

    @property
    def heat_pump_controllable(self) -> bool:
        return self.heat_pump is not None and self.heat_pump.controllable

    def released_relays(self) -> dict[str, bool]:
        """Every relay's state when its coil is de-energized (True = on: normally closed)."""
        return {relay: on for load in self.topology.loads for relay, on in load.relays}

    def step(
        self,
        dt_s: float,
        actuators: Mapping[str, bool],
        t: datetime,
        *,
        heat_pump_supply_c: float | None = None,
    ) -> None:
        """Advance ``dt_s`` seconds from ``t`` with the relays in ``actuators``.

        ``actuators`` maps relay node aliases to their state: True = on (contact closed, the
        driven load called), as ``RelayState``. A relay not in it is released (see
        :meth:`released_relays`). ``heat_pump_supply_c`` chooses the leaving water of a
        heat pump whose output is controllable (``simulation.heat_pump_output_controllable``).
        """
        if dt_s <= 0:
            raise ValueError(f"dt_s must be positive, not {dt_s}")
        if heat_pump_supply_c is not None and not self.heat_pump_controllable:
            raise ValueError(
                "this house's heat pump has no controllable output temperature "
                "(simulation.heat_pump_output_controllable)"
            )
        on = self._on
        for i, relay, released in self._single:
            on[i] = actuators.get(relay, released)
        for i, relays in self._multi:
            on[i] = any(actuators.get(relay, released) for relay, released in relays)
        key = tuple(on)
        if key != self._switched:
            self._switch(on)
            self._switched = key
        outdoor = self.weather.at(t + timedelta(seconds=dt_s / 2))
        self._outdoor_c = outdoor
        substeps = max(1, math.ceil(dt_s / self._max_substep_s - 1e-9))
        h = dt_s / substeps
        if substeps == 1:
            self._substep(h, outdoor, heat_pump_supply_c)
        else:
            power_sum = [0.0] * len(on)
            for _ in range(substeps):
                self._substep(h, outdoor, heat_pump_supply_c)
                for i, w in enumerate(self._load_w):
                    power_sum[i] += w
            self._load_w = [w / substeps for w in power_sum]
        self._update_pipes(dt_s)
        self.time = t + timedelta(seconds=dt_s)

    def _switch(self, on: list[bool]) -> None:
        """What the relays' states fix for the whole step: nameplate draws, zones, circulator."""
        bad = next((x for x in on if type(x) is not bool), None)
        if bad is not None:
            raise TypeError(f"relay states must be True (on) or False (off), not {bad!r}")
        topo = self.topology
        self._step_w = [p if o else 0.0 for p, o in zip(self._plates, on, strict=True)]
        circ = topo.circulator
        self._running = on[circ] if circ is not None else any(on[g] for g in self._zone_pump_gates)
        ua = self._zone_ua
        full = topo.zone_ua_w_per_k
        for zi, z in enumerate(topo.zones):
            if z.gate is not None and not on[z.gate]:
                ua[zi] = 0.0
            elif z.fans and not any(on[f] for f in z.fans):
                ua[zi] = full * emitters.FAN_OFF_SHARE
            else:
                ua[zi] = full

    def _substep(self, h: float, outdoor: float, target: float | None) -> None:
        topo = self.topology
        tank = self.tank
        temps = tank.temps
        on = self._on
        load_w = list(self._step_w)
        # Heat pump: heats only with water flowing (its own pump, or the primary pump on).
        hp_out = _IDLE
        hp = topo.heat_pump
        if hp is not None and self.heat_pump is not None:
            hp_out = idle(temps[-1])
            pump = topo.heat_pump_pump
            flow = None if pump is None else (self.heat_pump.flow_kg_s if on[pump] else 0.0)
            if on[hp]:
                hp_out = operate(
                    self.heat_pump,
                    outdoor_c=outdoor,
                    return_c=temps[-1],
                    target_supply_c=target,
                    flow_kg_s=flow,
                )
            elif flow:
                hp_out = idle(temps[-1], flow)  # the primary pump circulates through it
            load_w[hp] = hp_out.electric_w
        self._hp = hp_out
        # Elements (at their layer; their own high limit opens at element_cutout_c) and pumps
        # (their work ends up in the water) heat the tank.
        layer_heat = [0.0] * tank.layers
        element_w = 0.0
        cutout = self.settings.element_cutout_c
        for load, layer in topo.elements:
            w = load_w[load]
            if w and temps[layer] < cutout:
                layer_heat[layer] += w
                element_w += w
            else:
                load_w[load] = 0.0
        for i in self._pump_loads:
            layer_heat[-1] += load_w[i]
        rooms = self.building.temps
        if self._running:
            room_c = [rooms[s] for s in self._zone_spaces]
            delivery = emitters.deliver(temps[0], self._dist_kg_s, self._zone_ua, room_c)
        else:
            delivery = self._no_delivery(temps[0])
        self._delivery = delivery
        room_loss = tank.advance(
            h,
            room_c=rooms[topo.tank_space],
            charge_kg_s=hp_out.flow_kg_s,
            charge_heat_w=hp_out.heat_w,
            draw_kg_s=delivery.total_flow_kg_s,
            draw_heat_w=delivery.total_heat_w,
            layer_heat_w=layer_heat,
        )
        space_heat = [0.0] * len(rooms)
        for s, q in zip(self._zone_spaces, delivery.heat_w, strict=True):
            space_heat[s] += q
        space_heat[topo.tank_space] += room_loss
        for f, space in self._fan_space:
            space_heat[space] += load_w[f]
        loss = self.building.advance(h, outdoor, space_heat)
        self._load_w = load_w
        self._electric_j += sum(load_w) * h
        if hp_out.heat_w:
            self._ambient_j += hp_out.ambient_w * h
            self._hp_heat_j += hp_out.heat_w * h
        self._element_j += element_w * h
        self._loss_j += loss * h

    def _no_delivery(self, supply_c: float) -> emitters.Delivery:
        n = len(self._zone_ua)
        return emitters.Delivery((0.0,) * n, (0.0,) * n, (supply_c,) * n, supply_c, 0.0)

    def _update_pipes(self, dt_s: float) -> None:
        """Pipe sensors follow the water where it flows, else settle to the air around them."""
        if not self._pipe_codes:
            return
        if self._pipe_alpha[0] != dt_s:
            self._pipe_alpha = (
                dt_s,
                1.0 - math.exp(-dt_s / PIPE_FLOWING_TAU_S),
                1.0 - math.exp(-dt_s / PIPE_STILL_TAU_S),
            )
        _, flowing_alpha, still_alpha = self._pipe_alpha
        temps = self.tank.temps
        hp, d = self._hp, self._delivery
        hp_flow = hp.flow_kg_s > 0
        dist_flow = d.total_flow_kg_s > 0
        # Water temperature at each kind of point, None where it stands still.
        fluid: tuple[float | None, ...] = (
            hp.supply_c if hp_flow else None,
            hp.return_c if hp_flow else None,
            temps[0] if hp_flow or dist_flow else None,
            temps[-1] if hp_flow or dist_flow else None,
            temps[0] if dist_flow else None,
            d.mixed_return_c if dist_flow else None,
        )
        rooms = self.building.temps
        pipe_c = self._pipe_c
        for i, (p, code) in enumerate(
            zip(self.topology.pipe_sensors, self._pipe_codes, strict=True)
        ):
            if code == _ZONE_RETURN_CODE:
                zone = p.zone if p.zone is not None else 0
                value = d.return_c[zone] if d.flow_kg_s[zone] > 0 else None
            else:
                value = fluid[code]
            if value is None:
                pipe_c[i] += still_alpha * (rooms[p.ambient_space] - pipe_c[i])
            else:
                pipe_c[i] += flowing_alpha * (value - pipe_c[i])

    # -------------------------------------------------------------- readings

    def temperatures(self) -> dict[str, float]:
        """°C by channel name: tank layers, pipes, rooms and outdoors, as the sensors see them."""
        topo = self.topology
        tank, rooms = self.tank.temps, self.building.temps
        out = {name: tank[layer] for name, layer in topo.tank_sensors}
        for name, space in topo.air_sensors:
            out[name] = self._outdoor_c if space is None else rooms[space]
        for p, value in zip(topo.pipe_sensors, self._pipe_c, strict=True):
            out[p.channel] = value
        return out

    def power_w(self) -> dict[str, float]:
        """W by power channel name, averaged over the last step."""
        w = self._load_w
        return {
            p.channel: p.share * sum(w[i] for i in p.loads) for p in self.topology.power_channels
        }

    def flow_gpm(self) -> dict[str, float]:
        """US gallons per minute by flow channel name, during the last step."""
        out: dict[str, float] = {}
        d = self._delivery
        for f in self.topology.flow_channels:
            if f.loop is FlowLoop.HEAT_PUMP:
                kg_s = self._hp.flow_kg_s
            elif f.loop is FlowLoop.DISTRIBUTION:
                kg_s = d.total_flow_kg_s
            elif f.loop is FlowLoop.ZONE and f.index is not None:
                kg_s = d.flow_kg_s[f.index]
            else:
                kg_s = self._dist_kg_s if f.index is not None and self._on[f.index] else 0.0
            out[f.channel] = kg_s_to_gpm(kg_s)
        return out

    def readings(self) -> dict[str, float]:
        """Every channel the physics knows: temperatures, power and flow."""
        return {**self.temperatures(), **self.power_w(), **self.flow_gpm()}

    def outdoor_c(self) -> float:
        """Outdoor air during the last step."""
        return self._outdoor_c

    def tank_temps(self) -> list[float]:
        """Every simulated tank layer, top first."""
        return list(self.tank.temps)

    def space_temps(self) -> dict[str, float]:
        """Air temperature of each space, by its heated_space node alias."""
        return {s.node: t for s, t in zip(self.topology.spaces, self.building.temps, strict=True)}

    def zone_temps(self) -> dict[str, float]:
        """Air temperature of each control zone, by zone name."""
        rooms = self.building.temps
        return {z.name: rooms[z.space] for z in self.topology.zones}

    def loads_on(self) -> dict[str, bool]:
        """Whether each switched node (heat pump, element, pump, valve, fan) was on."""
        return {ld.node: self._on[i] for i, ld in enumerate(self.topology.loads)}

    def heat_pump_state(self) -> HeatPumpOutput:
        """The heat pump's operating point during the last step (all zero when off)."""
        return self._hp

    def delivered_w(self) -> dict[str, float]:
        """Heat the radiators gave each zone during the last step, by zone name."""
        return {z.name: q for z, q in zip(self.topology.zones, self._delivery.heat_w, strict=True)}

    def stored_j(self) -> float:
        """Heat in the tank water and the building mass, from 0 °C."""
        return self.tank.energy_j() + self.building.energy_j()

    def energy(self) -> EnergyAccount:
        return EnergyAccount(
            electric_in_j=self._electric_j,
            heat_pump_ambient_j=self._ambient_j,
            loss_to_outdoors_j=self._loss_j,
            stored_j=self.stored_j(),
            initial_stored_j=self._initial_j,
            heat_pump_heat_j=self._hp_heat_j,
            element_heat_j=self._element_j,
        )

    @property
    def tank_capacity_j_per_k(self) -> float:
        return self.tank.layer_kg * self.tank.layers * WATER_CP_J_PER_KG_K
