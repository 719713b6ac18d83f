"""From a layout to the physics: which relay switches what, which space each sensor sits in.

Nothing here names a house's nodes. Everything comes from the layout:

* **Loads** are the nodes actuators drive. A relay's state in :meth:`HouseModel.step` is its
  ``RelayState`` (``True`` = on = its contact closed, whatever its coil does); a relay left out
  is taken as released (de-energized: on only if it is normally closed). A load driven by
  several relays runs when any of them is on — the wiring of a failsafe relay, which closes when
  released to hand the load back to its own controls.
* The **heat pump**, **boost elements** and **circulator** are the loads driven by the actuators
  ``control.heat_pump``, ``control.boost_elements`` and ``control.circulator``. A circulator
  pump below the heat pump's node is its primary pump: with one, the heat pump heats only while
  it runs. Other pumps draw power and move no heat.
* **Spaces** are the ``heated_space`` nodes; each ``control.zones`` entry is the space its room
  channel sits in. Zones weigh 1 and other spaces (a mechanical room) 1/4 in the shares of the
  house's heat capacity and envelope UA; emitters (``radiator_w_per_k``) are shared equally by
  the zones. A zone relay that drives a valve, a thermostat or a pump opens the zone; one that
  drives a ``radiator_fan`` switches the fan. A fan belongs to the zone whose space it is in or
  whose radiator it sits on. The tank stands in the first space that is no zone (else the first
  zone's), where its standby loss goes.
* **Tank sensors** are ``control.tank_layers`` (top first), spread evenly over the simulated
  layers (first on the top layer, last on the bottom one).
* **Pipe sensors**: a water temperature channel below a ``hydronic_pipe`` reads the water of
  that pipe. The pipe's last alias word says which way the water goes (supply: out, hot,
  supply, swt, lwt; return: in, cold, return, ret, rwt, ewt) and the first node above the pipes
  says where: the heat pump (its leaving / entering water), a thermal store (hot / cold: its top /
  bottom layer; out / in: the distribution supply / return), a zone's space (the zone's return)
  or anything else (the distribution supply / return).
* **Power channels** read the load of their node, every load below it, or — on a
  ``power_meter`` — every load in the house. Where a channel on the heat pump's node has
  ``idu`` / ``indoor`` in its name or register, it reads the indoor unit (5 % of the heat
  pump's draw) and the heat pump's other channels the outdoor unit (the rest); otherwise every
  channel on a node reads all of it.
* **Flow meters** measure the loop of the nearest pump above or beside them (the heat pump's
  own flow when the heat pump is above them).

Whatever cannot be placed this way falls back to a stated default, listed in ``notes``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from scada.layout import Actuator, Channel, Layout, Quantity, Role, SimulationSettings
from sim.house.building import SpaceSpec
from sim.house.errors import HouseModelError

ZONE_WEIGHT = 1.0
OTHER_SPACE_WEIGHT = 0.25
INDOOR_UNIT_SHARE = 0.05
DEFAULT_POWER_W = {"pump": 60.0, "fan": 40.0, "element": 4500.0}
SUPPLY_WORDS = frozenset({"out", "hot", "supply", "swt", "lwt", "sup", "hwt"})
RETURN_WORDS = frozenset({"in", "cold", "return", "ret", "rwt", "ewt", "back"})
INDOOR_MARKS = ("idu", "indoor")


class LoadKind(StrEnum):
    HEAT_PUMP = "heat_pump"
    ELEMENT = "element"
    PUMP = "pump"
    FAN = "fan"
    VALVE = "valve"
    OTHER = "other"


_KIND_OF_ROLE = {
    Role.HEAT_PUMP: LoadKind.HEAT_PUMP,
    Role.BOOST_ELEMENT: LoadKind.ELEMENT,
    Role.CIRCULATOR_PUMP: LoadKind.PUMP,
    Role.RADIATOR_FAN: LoadKind.FAN,
    Role.ZONE_VALVE: LoadKind.VALVE,
    Role.ZONE_THERMOSTAT: LoadKind.VALVE,
}


@dataclass(frozen=True, slots=True)
class Load:
    """A switched node: its relays as (relay node, on when released) and its nameplate power."""

    node: str
    kind: LoadKind
    relays: tuple[tuple[str, bool], ...]
    nameplate_w: float


@dataclass(frozen=True, slots=True)
class ZonePlan:
    name: str
    space: int
    gate: int | None  # load that opens the zone (valve, thermostat, pump); None: always open
    fans: tuple[int, ...]


class PipePoint(StrEnum):
    HP_SUPPLY = "hp_supply"
    HP_RETURN = "hp_return"
    TANK_TOP = "tank_top"
    TANK_BOTTOM = "tank_bottom"
    DIST_SUPPLY = "dist_supply"
    DIST_RETURN = "dist_return"
    ZONE_RETURN = "zone_return"


class FlowLoop(StrEnum):
    HEAT_PUMP = "heat_pump"
    DISTRIBUTION = "distribution"
    ZONE = "zone"
    PUMP = "pump"


@dataclass(frozen=True, slots=True)
class PipeSensor:
    channel: str
    point: PipePoint
    zone: int | None  # for ZONE_RETURN
    ambient_space: int  # the air the pipe settles to when the water stands still


@dataclass(frozen=True, slots=True)
class PowerChannel:
    channel: str
    loads: tuple[int, ...]
    share: float


@dataclass(frozen=True, slots=True)
class FlowChannel:
    channel: str
    loop: FlowLoop
    index: int | None  # zone (ZONE) or load (PUMP)


@dataclass(frozen=True, slots=True)
class Topology:
    """The physics' view of one layout."""

    loads: tuple[Load, ...]
    heat_pump: int | None
    heat_pump_pump: int | None
    elements: tuple[tuple[int, int], ...]  # (load, tank layer)
    circulator: int | None
    spaces: tuple[SpaceSpec, ...]
    couplings: tuple[tuple[int, int, float], ...]
    tank_space: int
    zones: tuple[ZonePlan, ...]
    zone_ua_w_per_k: float
    tank_layers: int
    tank_sensors: tuple[tuple[str, int], ...]  # (channel, layer)
    air_sensors: tuple[tuple[str, int | None], ...]  # (channel, space; None = outdoors)
    pipe_sensors: tuple[PipeSensor, ...]
    power_channels: tuple[PowerChannel, ...]
    flow_channels: tuple[FlowChannel, ...]
    notes: tuple[str, ...]


def _under(alias: str, ancestor: str) -> bool:
    return alias == ancestor or alias.startswith(ancestor + ".")


def _ancestors(alias: str) -> list[str]:
    """Parents of ``alias``, nearest first."""
    parts = alias.split(".")
    return [".".join(parts[:i]) for i in range(len(parts) - 1, 0, -1)]


class _Planner:
    def __init__(self, layout: Layout, file: str) -> None:
        self.layout = layout
        self.file = file
        self.sim = layout.simulation or SimulationSettings()
        self.roles = {n.alias: n.role for n in layout.nodes}
        self.nameplate = {n.alias: n.nameplate_power_w for n in layout.nodes}
        self.notes: list[str] = []
        self.loads: list[Load] = []
        self.load_of_node: dict[str, int] = {}
        self.actuators = {a.node: a for a in layout.actuators}
        self.hp_node: str | None = None
        self.hp_pump: int | None = None
        self.circulator: int | None = None

    # ------------------------------------------------------------------ loads

    def plan_loads(self) -> None:
        by_node: dict[str, list[Actuator]] = {}
        for a in self.layout.actuators:
            by_node.setdefault(a.drives, []).append(a)
        for node, acts in by_node.items():
            role = self.roles.get(node)
            kind = _KIND_OF_ROLE.get(role, LoadKind.OTHER) if role else LoadKind.OTHER
            plate = self.nameplate.get(node)
            power = plate if plate is not None else DEFAULT_POWER_W.get(kind.value, 0.0)
            if kind in (LoadKind.VALVE, LoadKind.OTHER):
                power = 0.0
            relays = tuple((a.node, a.contact == "normally_closed") for a in acts)
            self.load_of_node[node] = len(self.loads)
            self.loads.append(Load(node, kind, relays, power))

    def load_for(self, relay: str | None, path: str) -> int | None:
        if relay is None:
            return None
        act = self.actuators.get(relay)
        if act is None:
            raise HouseModelError(self.file, path, f"no actuator '{relay}'")
        return self.load_of_node[act.drives]

    # ----------------------------------------------------------------- spaces

    def plan_spaces(self) -> tuple[list[SpaceSpec], list[ZonePlan], int, list[float]]:
        ctl = self.layout.control
        nodes = [n.alias for n in self.layout.nodes if n.role is Role.HEATED_SPACE]
        channels = {c.name: c for c in self.layout.channels}
        zone_space: list[int] = []
        for z in ctl.zones:
            ch = channels.get(z.room_channel)
            space = self._space_of(ch.node, nodes) if ch is not None else None
            if space is None:
                nodes.append(f"zone:{z.name}")
                space = len(nodes) - 1
                self.notes.append(f"zone '{z.name}' is in no heated_space; simulated on its own")
            zone_space.append(space)
        weights = [
            ZONE_WEIGHT if i in zone_space else OTHER_SPACE_WEIGHT for i in range(len(nodes))
        ]
        total = sum(weights)
        capacity = self.sim.house_heat_capacity_kj_per_k * 1000.0
        ua = self.sim.house_loss_w_per_k
        specs = [
            SpaceSpec(n, capacity * w / total, ua * w / total)
            for n, w in zip(nodes, weights, strict=True)
        ]
        others = [i for i in range(len(nodes)) if i not in zone_space]
        tank_space = others[0] if others else zone_space[0]
        fans = [i for i, ld in enumerate(self.loads) if ld.kind is LoadKind.FAN]
        zones: list[ZonePlan] = []
        for zi, z in enumerate(ctl.zones):
            gate = self.load_for(z.relay, f"control.zones[{zi}].relay")
            if gate is not None and self.loads[gate].kind is LoadKind.FAN:
                gate = None  # a fan relay switches the fan, not the water
            space_node = nodes[zone_space[zi]]
            mine = tuple(
                f
                for f in fans
                if _under(self.loads[f].node, space_node)
                or _under(space_node, self.loads[f].node.rpartition(".")[0])
            )
            zones.append(ZonePlan(z.name, zone_space[zi], gate, mine))
        return specs, zones, tank_space, weights

    def _space_of(self, alias: str, spaces: list[str]) -> int | None:
        for a in [alias, *_ancestors(alias)]:
            if a in spaces:
                return spaces.index(a)
        return None

    # -------------------------------------------------------------- channels

    def plan_channels(
        self, spaces: list[SpaceSpec], zones: list[ZonePlan], tank_space: int, layers: int
    ) -> tuple[
        list[tuple[str, int]],
        list[tuple[str, int | None]],
        list[PipeSensor],
        list[PowerChannel],
        list[FlowChannel],
    ]:
        ctl = self.layout.control
        space_nodes = [s.node for s in spaces]
        sensors = len(ctl.tank_layers)
        tank: list[tuple[str, int]] = []
        air: list[tuple[str, int | None]] = []
        pipes: list[PipeSensor] = []
        power: list[PowerChannel] = []
        flow: list[FlowChannel] = []
        zone_room = {z.room_channel: zones[i].space for i, z in enumerate(ctl.zones)}
        hp_channels = [
            c for c in self.layout.channels if c.quantity is Quantity.POWER and self._is_hp(c.node)
        ]
        for ch in self.layout.channels:
            if ch.quantity is Quantity.WATER_TEMP:
                if ch.name in ctl.tank_layers:
                    tank.append((ch.name, _spread(ctl.tank_layers.index(ch.name), sensors, layers)))
                elif self.roles.get(ch.node) is Role.TANK_WATER_TEMP_SENSOR:
                    idx = ch.tank_layer if ch.tank_layer is not None else 0
                    tank.append(
                        (ch.name, min(layers - 1, _spread(idx, max(sensors, idx + 1), layers)))
                    )
                else:
                    pipes.append(self._pipe(ch, space_nodes, zones, tank_space))
            elif ch.quantity is Quantity.AIR_TEMP:
                air.append((ch.name, self._air(ch, space_nodes, zone_room, tank_space)))
            elif ch.quantity is Quantity.POWER:
                power.append(self._power(ch, hp_channels))
            elif ch.quantity is Quantity.FLOW:
                flow.append(self._flow(ch, zones))
        return tank, air, pipes, power, flow

    def _is_hp(self, node: str) -> bool:
        return self.roles.get(node) is Role.HEAT_PUMP

    def _air(
        self, ch: Channel, spaces: list[str], zone_room: dict[str, int], tank_space: int
    ) -> int | None:
        if ch.name in zone_room:
            return zone_room[ch.name]
        if ch.name == self.layout.control.outdoor_channel:
            return None
        for a in [ch.node, *_ancestors(ch.node)]:
            if a in spaces:
                return spaces.index(a)
            if self.roles.get(a) is Role.OUTDOORS:
                return None
        self.notes.append(f"air channel '{ch.name}' is in no space; reads {spaces[tank_space]}")
        return tank_space

    def _pipe(
        self, ch: Channel, spaces: list[str], zones: list[ZonePlan], tank_space: int
    ) -> PipeSensor:
        supply: bool | None = None
        hot_cold = False
        context: str | None = None
        context_role: Role | None = None
        for a in _ancestors(ch.node):
            role = self.roles.get(a)
            if role is Role.HYDRONIC_PIPE:
                word = a.rpartition(".")[2]
                if supply is None and word in SUPPLY_WORDS | RETURN_WORDS:
                    supply = word in SUPPLY_WORDS
                    hot_cold = word in {"hot", "cold", "hwt"}
                continue
            context, context_role = a, role
            break
        ambient = self._space_of(ch.node, spaces)
        ambient = tank_space if ambient is None else ambient
        if supply is None:
            self.notes.append(f"pipe channel '{ch.name}': no supply/return word; read as supply")
            supply, hot_cold = True, False
        if context_role is Role.HEAT_PUMP:
            point = PipePoint.HP_SUPPLY if supply else PipePoint.HP_RETURN
        elif context_role is Role.DEDICATED_THERMAL_STORE and hot_cold:
            point = PipePoint.TANK_TOP if supply else PipePoint.TANK_BOTTOM
        elif context_role is Role.HEATED_SPACE and not supply and context is not None:
            zone = next((i for i, z in enumerate(zones) if spaces[z.space] == context), None)
            if zone is not None:
                return PipeSensor(ch.name, PipePoint.ZONE_RETURN, zone, ambient)
            point = PipePoint.DIST_RETURN
        else:
            point = PipePoint.DIST_SUPPLY if supply else PipePoint.DIST_RETURN
        return PipeSensor(ch.name, point, None, ambient)

    def _power(self, ch: Channel, hp_channels: list[Channel]) -> PowerChannel:
        node = ch.node
        if node in self.load_of_node:
            share = 1.0
            if any(c.node == node and _indoor(c) for c in hp_channels):
                share = INDOOR_UNIT_SHARE if _indoor(ch) else 1.0 - INDOOR_UNIT_SHARE
            return PowerChannel(ch.name, (self.load_of_node[node],), share)
        if self.roles.get(node) is Role.POWER_METER:
            return PowerChannel(ch.name, tuple(range(len(self.loads))), 1.0)
        under = tuple(i for i, ld in enumerate(self.loads) if _under(ld.node, node))
        if not under:
            self.notes.append(f"power channel '{ch.name}': nothing switched at '{node}'; reads 0")
        return PowerChannel(ch.name, under, 1.0)

    def _flow(self, ch: Channel, zones: list[ZonePlan]) -> FlowChannel:
        hp = self.hp_node
        pumps = [i for i, ld in enumerate(self.loads) if ld.kind is LoadKind.PUMP]
        for a in _ancestors(ch.node):
            if hp is not None and a == hp:
                return FlowChannel(ch.name, FlowLoop.HEAT_PUMP, None)
            mine = [i for i in pumps if _under(self.loads[i].node, a)]
            if not mine:
                continue
            p = mine[0]
            if p == self.hp_pump:
                return FlowChannel(ch.name, FlowLoop.HEAT_PUMP, None)
            if p == self.circulator:
                return FlowChannel(ch.name, FlowLoop.DISTRIBUTION, None)
            zone = next((zi for zi, z in enumerate(zones) if z.gate == p), None)
            if zone is not None:
                return FlowChannel(ch.name, FlowLoop.ZONE, zone)
            return FlowChannel(ch.name, FlowLoop.PUMP, p)
        self.notes.append(f"flow channel '{ch.name}': no pump near it; reads the distribution flow")
        return FlowChannel(ch.name, FlowLoop.DISTRIBUTION, None)


def _indoor(ch: Channel) -> bool:
    text = f"{ch.name} {ch.register_name or ''}".lower()
    return any(mark in text for mark in INDOOR_MARKS)


def _spread(index: int, sensors: int, layers: int) -> int:
    """The layer of sensor ``index`` of ``sensors`` spread top to bottom over ``layers``."""
    if sensors <= 1:
        return 0
    return round(index * (layers - 1) / (sensors - 1))


def element_layers(settings: SimulationSettings, elements: int, layers: int) -> list[int]:
    """Where each boost element sits: as configured, else one at the bottom or spread."""
    if settings.boost_element_layers is not None:
        return [min(layers - 1, x) for x in settings.boost_element_layers[:elements]]
    if elements == 1:
        return [layers - 1]
    return [_spread(j, elements, layers) for j in range(elements)]


def _every_heater_placed(p: _Planner, hp: int | None, elements: list[int]) -> None:
    """A heat pump or boost element that a relay switches must be the one the control names:
    the physics puts heat where ``control.heat_pump`` and ``control.boost_elements`` say, and
    one it did not know of would draw its power and heat nothing."""
    known: dict[LoadKind, set[int | None]] = {
        LoadKind.HEAT_PUMP: {hp},
        LoadKind.ELEMENT: set(elements),
    }
    for i, load in enumerate(p.loads):
        if load.kind in known and i not in known[load.kind]:
            key = (
                "control.heat_pump" if load.kind is LoadKind.HEAT_PUMP else "control.boost_elements"
            )
            relays = ", ".join(relay for relay, _ in load.relays)
            raise HouseModelError(
                p.file,
                key,
                f"{load.node} ({load.kind.value}, switched by {relays}) is not named here, so "
                "the simulator would not know where its heat goes",
            )


def plan(layout: Layout, file: str = "<layout>") -> Topology:
    """The physics' view of ``layout`` (``file`` names it in errors).

    Raises:
        HouseModelError: when the simulation settings do not fit the layout.
    """
    p = _Planner(layout, file)
    sim = p.sim
    ctl = layout.control
    p.plan_loads()
    hp = p.load_for(ctl.heat_pump, "control.heat_pump")
    p.hp_node = p.loads[hp].node if hp is not None else None
    hp_pumps = [
        i
        for i, ld in enumerate(p.loads)
        if ld.kind is LoadKind.PUMP and p.hp_node is not None and _under(ld.node, p.hp_node)
    ]
    p.hp_pump = hp_pumps[0] if hp_pumps else None
    p.circulator = p.load_for(ctl.circulator, "control.circulator")
    layers = sim.tank_layer_count(len(ctl.tank_layers))
    if layers < len(ctl.tank_layers):
        raise HouseModelError(
            file, "simulation.tank_layers", f"{layers} layers for {len(ctl.tank_layers)} sensors"
        )
    element_loads: list[int] = []
    for i, relay in enumerate(ctl.boost_elements):
        e = p.load_for(relay, f"control.boost_elements[{i}]")
        if e is not None and e not in element_loads:
            element_loads.append(e)
    if sim.boost_element_layers is not None and len(sim.boost_element_layers) != len(
        ctl.boost_elements
    ):
        raise HouseModelError(
            file,
            "simulation.boost_element_layers",
            f"gives {len(sim.boost_element_layers)} layers for "
            f"{len(ctl.boost_elements)} boost elements",
        )
    _every_heater_placed(p, hp, element_loads)
    placed = element_layers(sim, len(element_loads), layers)
    spaces, zones, tank_space, weights = p.plan_spaces()
    total = sum(weights)
    couplings = [
        (i, j, sim.house_loss_w_per_k * min(weights[i], weights[j]) / total)
        for i in range(len(spaces))
        for j in range(i + 1, len(spaces))
    ]
    tank, air, pipes, power, flow = p.plan_channels(spaces, zones, tank_space, layers)
    return Topology(
        loads=tuple(p.loads),
        heat_pump=hp,
        heat_pump_pump=p.hp_pump,
        elements=tuple(zip(element_loads, placed, strict=True)),
        circulator=p.circulator,
        spaces=tuple(spaces),
        couplings=tuple(couplings),
        tank_space=tank_space,
        zones=tuple(zones),
        zone_ua_w_per_k=sim.radiator_w_per_k / len(zones),
        tank_layers=layers,
        tank_sensors=tuple(tank),
        air_sensors=tuple(air),
        pipe_sensors=tuple(pipes),
        power_channels=tuple(power),
        flow_channels=tuple(flow),
        notes=tuple(p.notes),
    )
