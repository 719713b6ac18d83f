"""Whole-document checks of a layout: uniqueness, references, buses and thresholds.

Field-level validation has already passed when these run; each check adds problems rather than
stopping at the first, so an installer sees everything wrong with a file at once.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable

from scada.layout.errors import LayoutProblem, nearest
from scada.layout.model import (
    Actuator,
    Channel,
    Device,
    Layout,
    MakeModel,
    Quantity,
    Register,
    Role,
)

# Which bus each make/model sits on, and how many relay channels a board has.
BUS_OF: dict[MakeModel, str] = {
    MakeModel.NCD_PR8_14_SPST: "i2c",
    MakeModel.KRIDA_EMR16_I2C: "i2c",
    MakeModel.NCD_ADS1115: "i2c",
    MakeModel.GPIO_RELAY: "gpio",
    MakeModel.PULSE_FLOW_METER: "gpio",
    MakeModel.ADAFRUIT_642: "one_wire",
    MakeModel.EGAUGE_4030: "modbus_tcp",
    MakeModel.SCHNEIDER_IEM3455: "modbus_rtu",
}
RELAY_CHANNELS: dict[MakeModel, int] = {
    MakeModel.NCD_PR8_14_SPST: 4,
    MakeModel.KRIDA_EMR16_I2C: 16,
    MakeModel.GPIO_RELAY: 28,
}
METERS = {MakeModel.EGAUGE_4030, MakeModel.SCHNEIDER_IEM3455}

# The addresses each I2C chip can be strapped to (MCP23008 / PCF8575: A0-A2; ADS1115: ADDR pin).
I2C_ADDRESSES: dict[MakeModel, range] = {
    MakeModel.NCD_PR8_14_SPST: range(0x20, 0x28),
    MakeModel.KRIDA_EMR16_I2C: range(0x20, 0x28),
    MakeModel.NCD_ADS1115: range(0x48, 0x4C),
}
# What each sensing make/model can measure.
READS: dict[MakeModel, frozenset[Quantity]] = {
    MakeModel.NCD_ADS1115: frozenset({Quantity.WATER_TEMP, Quantity.AIR_TEMP}),
    MakeModel.ADAFRUIT_642: frozenset({Quantity.WATER_TEMP, Quantity.AIR_TEMP}),
    MakeModel.PULSE_FLOW_METER: frozenset({Quantity.FLOW}),
    MakeModel.EGAUGE_4030: frozenset({Quantity.POWER}),
    MakeModel.SCHNEIDER_IEM3455: frozenset({Quantity.POWER}),
}
# Boards whose relay inputs are energised by a low pin (Krida) or a high one (NCD).
ACTIVE_LOW: dict[MakeModel, bool] = {
    MakeModel.KRIDA_EMR16_I2C: True,
    MakeModel.NCD_PR8_14_SPST: False,
}
ONE_WIRE_ID = re.compile(r"^28-[0-9a-f]{12}$")
ZONE_RELAY_DRIVES = {Role.ZONE_VALVE, Role.ZONE_THERMOSTAT, Role.CIRCULATOR_PUMP, Role.RADIATOR_FAN}


class _Collector:
    def __init__(self, file: str) -> None:
        self.file = file
        self.problems: list[LayoutProblem] = []

    def add(self, path: str, what: str, suggestion: str | None = None) -> None:
        self.problems.append(LayoutProblem(self.file, path, what, suggestion))

    def ref(self, path: str, kind: str, name: str | None, valid: Iterable[str]) -> None:
        """Report ``name`` when it is not among ``valid``, suggesting the nearest one."""
        pool = list(valid)
        if name is not None and name not in pool:
            self.add(path, f"no {kind} named '{name}'", nearest(name, pool))


def cross_check(layout: Layout, file: str) -> list[LayoutProblem]:
    """Every whole-document problem of ``layout``; empty when the layout is sound."""
    c = _Collector(file)
    _unique(c, "nodes", "alias", [n.alias for n in layout.nodes])
    _unique(c, "devices", "name", [d.name for d in layout.devices])
    _unique(c, "channels", "name", [ch.name for ch in layout.channels])
    _unique(c, "actuators", "node", [a.node for a in layout.actuators])
    _parents(c, layout)
    _devices(c, layout)
    _channels(c, layout)
    _actuators(c, layout)
    _gpio_pins(c, layout)
    _control(c, layout)
    _simulation(c, layout)
    return c.problems


def _unique(c: _Collector, section: str, key: str, values: list[str]) -> None:
    seen: set[str] = set()
    for i, v in enumerate(values):
        if v in seen:
            c.add(f"{section}[{i}].{key}", f"duplicate {key} '{v}'")
        seen.add(v)


def _parents(c: _Collector, layout: Layout) -> None:
    aliases = {n.alias for n in layout.nodes}
    for i, n in enumerate(layout.nodes):
        if n.parent is not None and n.parent not in aliases:
            # Suggest a real node, never the orphan itself or one of its children.
            others = [a for a in aliases if a != n.alias and not a.startswith(f"{n.alias}.")]
            c.add(
                f"nodes[{i}].alias",
                f"parent '{n.parent}' of '{n.alias}' is not a node",
                nearest(n.parent, others),
            )


def _devices(c: _Collector, layout: Layout) -> None:
    i2c: dict[tuple[int, int], str] = {}
    modbus: dict[tuple[str, int, int], str] = {}
    serial: dict[str, tuple[int, str, str]] = {}
    uids: dict[str, str] = {}
    for i, d in enumerate(layout.devices):
        p = f"devices[{i}]"
        want = BUS_OF[d.make_model]
        if d.bus.kind != want:
            c.add(
                f"{p}.bus.kind",
                f"a {d.make_model.value} sits on a {want} bus, not {d.bus.kind}",
                want,
            )
        if d.bus.kind == "i2c":
            key = (d.bus.bus, d.bus.address)
            if key in i2c:
                c.add(
                    f"{p}.bus.address",
                    f"I2C address 0x{d.bus.address:02x} on bus {d.bus.bus} "
                    f"is already used by '{i2c[key]}'",
                )
            i2c.setdefault(key, d.name)
            allowed = I2C_ADDRESSES.get(d.make_model)
            if allowed is not None and d.bus.address not in allowed:
                c.add(
                    f"{p}.bus.address",
                    f"a {d.make_model.value} answers at 0x{allowed[0]:02x}..0x{allowed[-1]:02x}, "
                    f"not 0x{d.bus.address:02x}",
                )
        elif d.bus.kind in {"modbus_tcp", "modbus_rtu"}:
            where = d.bus.host if d.bus.kind == "modbus_tcp" else d.bus.port
            port = d.bus.port if d.bus.kind == "modbus_tcp" else 0
            mkey = (where, port, d.bus.unit_id)
            if mkey in modbus:
                c.add(
                    f"{p}.bus.unit_id",
                    f"Modbus unit {d.bus.unit_id} on {where} is already used by '{modbus[mkey]}'",
                )
            modbus.setdefault(mkey, d.name)
            if d.bus.kind == "modbus_rtu":
                line = (d.bus.baud, d.bus.parity, d.name)
                first = serial.setdefault(d.bus.port, line)
                if first[:2] != line[:2]:
                    c.add(
                        f"{p}.bus",
                        f"{d.bus.port} runs at {first[0]} baud parity {first[1]} for "
                        f"'{first[2]}'; one serial line has one speed and parity",
                    )
        if d.hw_uid is not None:
            if d.hw_uid in uids:
                c.add(f"{p}.hw_uid", f"hw_uid '{d.hw_uid}' is already used by '{uids[d.hw_uid]}'")
            uids.setdefault(d.hw_uid, d.name)
        if d.register_map is not None:
            if d.make_model not in METERS:
                c.add(f"{p}.register_map", f"a {d.make_model.value} has no Modbus registers")
            _unique(c, f"{p}.register_map", "name", [r.name for r in d.register_map])
            _register_overlap(c, i, d.register_map)
        if d.make_model is MakeModel.PULSE_FLOW_METER and d.pulses_per_gallon is None:
            c.add(f"{p}.pulses_per_gallon", "a pulse flow meter needs pulses_per_gallon")


_WIDTH = {"u16": 1, "s16": 1, "f32": 2, "u32": 2, "s32": 2, "s64": 4}


def _register_overlap(c: _Collector, i: int, regs: Iterable[Register]) -> None:
    taken: dict[int, str] = {}
    for j, r in enumerate(regs):
        name, addr, kind = r.name, r.address, r.type
        for a in range(addr, addr + _WIDTH[kind]):
            if a in taken:
                c.add(
                    f"devices[{i}].register_map[{j}].address",
                    f"register {a} of '{name}' overlaps '{taken[a]}'",
                )
                break
            taken[a] = name


def _channels(c: _Collector, layout: Layout) -> None:
    nodes = [n.alias for n in layout.nodes]
    devices = {d.name: d for d in layout.devices}
    ids: dict[str, str] = {}
    points: dict[tuple[str, int], str] = {}
    for i, ch in enumerate(layout.channels):
        p = f"channels[{i}]"
        c.ref(f"{p}.node", "node", ch.node, nodes)
        dev = devices.get(ch.device)
        if dev is None:
            c.ref(f"{p}.device", "device", ch.device, devices)
            continue
        mm = dev.make_model
        reads = READS.get(mm)
        if reads is None:
            c.add(f"{p}.device", f"'{dev.name}' is a {mm.value}, which produces no readings")
            continue
        if ch.quantity not in reads:
            c.add(f"{p}.quantity", f"a {mm.value} does not measure {ch.quantity.value}")
        _fields_fit(c, p, ch, mm)
        if mm is MakeModel.ADAFRUIT_642:
            if ch.hw_id is None:
                c.add(f"{p}.hw_id", "a DS18B20 channel needs its 1-Wire id (hw_id)")
            elif not ONE_WIRE_ID.match(ch.hw_id):
                c.add(
                    f"{p}.hw_id",
                    f"'{ch.hw_id}' is not a DS18B20 sysfs name like '28-000000033ffe'",
                )
            elif ch.hw_id in ids:
                c.add(
                    f"{p}.hw_id",
                    f"1-Wire id '{ch.hw_id}' is already used by channel '{ids[ch.hw_id]}'",
                )
            else:
                ids[ch.hw_id] = ch.name
        elif mm in {MakeModel.NCD_ADS1115, MakeModel.PULSE_FLOW_METER}:
            limit = 3 if mm is MakeModel.NCD_ADS1115 else 27
            if ch.device_channel is None or ch.device_channel > limit:
                c.add(
                    f"{p}.device_channel", f"a {mm.value} channel needs device_channel 0..{limit}"
                )
            else:
                key = (dev.name, ch.device_channel)
                if key in points:
                    c.add(
                        f"{p}.device_channel",
                        f"input {ch.device_channel} of '{dev.name}' "
                        f"is already used by '{points[key]}'",
                    )
                points[key] = ch.name
        else:
            _meter_channel(c, p, ch, dev.register_map)


def _fields_fit(c: _Collector, p: str, ch: Channel, mm: MakeModel) -> None:
    """Report settings that the channel's device would silently ignore."""
    if ch.hw_id is not None and mm is not MakeModel.ADAFRUIT_642:
        c.add(f"{p}.hw_id", f"hw_id is for DS18B20 (1-Wire) channels, not {mm.value}")
    if ch.thermistor is not None and mm is not MakeModel.NCD_ADS1115:
        c.add(f"{p}.thermistor", f"thermistor is for ADS1115 channels, not {mm.value}")
    if ch.register_name is not None and mm not in METERS:
        c.add(f"{p}.register_name", f"register_name is for Modbus meters, not {mm.value}")
    if ch.device_channel is not None and mm in METERS | {MakeModel.ADAFRUIT_642}:
        c.add(f"{p}.device_channel", f"a {mm.value} channel has no device_channel")


def _meter_channel(c: _Collector, p: str, ch: Channel, regs: Iterable[Register] | None) -> None:
    if ch.register_name is None:
        c.add(f"{p}.register_name", "a meter channel needs the name of its register")
        return
    if regs is None:
        return
    by_name = {r.name: r for r in regs}
    c.ref(f"{p}.register_name", "register", ch.register_name, by_name)
    reg = by_name.get(ch.register_name)
    if reg is not None and reg.unit != ch.unit:
        c.add(
            f"{p}.unit",
            f"register '{reg.name}' reads {reg.unit.value}, not {ch.unit.value}",
            reg.unit.value,
        )


def _actuators(c: _Collector, layout: Layout) -> None:
    roles = {n.alias: n.role for n in layout.nodes}
    devices = {d.name: d for d in layout.devices}
    used: dict[tuple[str, int], str] = {}
    for i, a in enumerate(layout.actuators):
        p = f"actuators[{i}]"
        c.ref(f"{p}.node", "node", a.node, roles)
        c.ref(f"{p}.drives", "node", a.drives, roles)
        if roles.get(a.node, Role.RELAY) is not Role.RELAY:
            c.add(f"{p}.node", f"'{a.node}' is a {roles[a.node].value} node, not a relay")
        _min_times(c, p, a)
        dev = devices.get(a.device)
        if dev is None:
            c.ref(f"{p}.device", "device", a.device, devices)
            continue
        n = RELAY_CHANNELS.get(dev.make_model)
        if n is None:
            c.add(f"{p}.device", f"'{dev.name}' is a {dev.make_model.value}, not a relay board")
            continue
        if a.board_channel >= n:
            c.add(
                f"{p}.board_channel",
                f"'{dev.name}' has relay channels 0..{n - 1}, not {a.board_channel}",
            )
        key = (dev.name, a.board_channel)
        if key in used:
            c.add(
                f"{p}.board_channel",
                f"channel {a.board_channel} of '{dev.name}' already drives '{used[key]}'",
            )
        used.setdefault(key, a.node)
        low = ACTIVE_LOW.get(dev.make_model)
        if low is not None and a.active_low is not low:
            state = "low" if low else "high"
            c.add(
                f"{p}.active_low",
                f"a {dev.make_model.value} energises a relay with a {state} pin",
                "true" if low else "false",
            )


def _min_times(c: _Collector, p: str, a: Actuator) -> None:
    if a.node == a.drives:
        c.add(f"{p}.drives", "a relay cannot drive itself")


def _gpio_pins(c: _Collector, layout: Layout) -> None:
    """One header pin does one job, whichever device claims it."""
    gpio: dict[str, Device] = {d.name: d for d in layout.devices if d.bus.kind == "gpio"}
    pins: dict[tuple[int, int], str] = {}

    def claim(path: str, dev: Device, pin: int, user: str) -> None:
        chip = dev.bus.chip if dev.bus.kind == "gpio" else 0
        key = (chip, pin)
        if key in pins:
            c.add(path, f"GPIO pin {pin} is already used by '{pins[key]}'")
        pins.setdefault(key, user)

    for i, ch in enumerate(layout.channels):
        dev = gpio.get(ch.device)
        if dev is not None and ch.device_channel is not None:
            claim(f"channels[{i}].device_channel", dev, ch.device_channel, ch.name)
    for i, a in enumerate(layout.actuators):
        dev = gpio.get(a.device)
        if dev is not None:
            claim(f"actuators[{i}].board_channel", dev, a.board_channel, a.node)


def _control(c: _Collector, layout: Layout) -> None:
    ctl = layout.control
    channels = {ch.name: ch for ch in layout.channels}
    _unique(c, "control.zones", "name", [z.name for z in ctl.zones])
    for i, z in enumerate(ctl.zones):
        p = f"control.zones[{i}]"
        _channel_ref(c, f"{p}.room_channel", z.room_channel, channels, Quantity.AIR_TEMP)
        _relay_ref(c, f"{p}.relay", z.relay, layout, ZONE_RELAY_DRIVES)
        _inside(c, f"{p}.setpoint_c", z.setpoint_c, channels.get(z.room_channel))
    layers: list[Channel] = []
    for i, name in enumerate(ctl.tank_layers):
        p = f"control.tank_layers[{i}]"
        _channel_ref(c, p, name, channels, Quantity.WATER_TEMP)
        ch = channels.get(name)
        if ch is None:
            continue
        layers.append(ch)
        if ch.tank_layer is not None and ch.tank_layer != i:
            c.add(p, f"'{name}' is tank layer {ch.tank_layer}, listed here as layer {i}")
    for key in ("tank_min_c", "tank_target_c", "tank_max_c", "freeze_tank_c"):
        value: float = getattr(ctl, key)
        # One problem per setting, against the first layer that cannot read it.
        outside = next((ch for ch in layers if not _within(value, ch)), None)
        _inside(c, f"control.{key}", value, outside)
    dup_layers = [n for n, k in Counter(ctl.tank_layers).items() if k > 1]
    for n in dup_layers:
        c.add("control.tank_layers", f"'{n}' is listed twice")
    for i, name in enumerate(ctl.freeze_channels):
        _channel_ref(c, f"control.freeze_channels[{i}]", name, channels, Quantity.WATER_TEMP)
        _inside(c, "control.freeze_pipe_c", ctl.freeze_pipe_c, channels.get(name))
    _channel_ref(c, "control.outdoor_channel", ctl.outdoor_channel, channels, Quantity.AIR_TEMP)
    hp = _relay_ref(c, "control.heat_pump", ctl.heat_pump, layout, {Role.HEAT_PUMP})
    if hp is not None and (hp.min_on_s <= 0 or hp.min_off_s <= 0):
        c.add(
            "control.heat_pump",
            f"the heat pump relay '{hp.node}' needs min_on_s and min_off_s above 0 "
            "to protect the compressor",
        )
    _relay_ref(c, "control.circulator", ctl.circulator, layout, {Role.CIRCULATOR_PUMP})
    for i, name in enumerate(ctl.boost_elements):
        _relay_ref(c, f"control.boost_elements[{i}]", name, layout, {Role.BOOST_ELEMENT})
    dup = [n for n, k in Counter(ctl.boost_elements).items() if k > 1]
    for n in dup:
        c.add("control.boost_elements", f"'{n}' is listed twice")
    _failsafes(c, layout)


def _failsafes(c: _Collector, layout: Layout) -> None:
    ctl = layout.control
    actuators = {a.node: a for a in layout.actuators}
    controlled = {ctl.heat_pump, ctl.circulator, *ctl.boost_elements, *(z.relay for z in ctl.zones)}
    for i, name in enumerate(ctl.failsafe_relays):
        path = f"control.failsafe_relays[{i}]"
        c.ref(path, "actuator", name, actuators)
        act = actuators.get(name)
        if act is None:
            continue
        if act.contact != "normally_closed":
            c.add(
                path,
                f"'{name}' is {act.contact.replace('_', '-')}: a failsafe relay must be "
                "normally-closed, so that released it hands its load back",
            )
        if name in controlled:
            c.add(
                path,
                f"'{name}' is one the control switches; a failsafe relay is held, not switched",
            )
    for n in [n for n, k in Counter(ctl.failsafe_relays).items() if k > 1]:
        c.add("control.failsafe_relays", f"'{n}' is listed twice")


def _simulation(c: _Collector, layout: Layout) -> None:
    sim = layout.simulation
    if sim is None:
        return
    sensors = len(layout.control.tank_layers)
    layers = sim.tank_layer_count(sensors)
    if layers < sensors:
        c.add(
            "simulation.tank_layers",
            f"{layers} layers cannot hold the {sensors} tank sensors of control.tank_layers",
        )
    if sim.boost_element_layers is None:
        return
    elements = len(layout.control.boost_elements)
    if len(sim.boost_element_layers) != elements:
        c.add(
            "simulation.boost_element_layers",
            f"gives {len(sim.boost_element_layers)} layers for the {elements} "
            "control.boost_elements; give one per element",
        )
    for i, layer in enumerate(sim.boost_element_layers):
        if layer >= layers:
            c.add(
                f"simulation.boost_element_layers[{i}]",
                f"layer {layer} is not in the {layers}-layer tank (0 = top, {layers - 1} = bottom)",
            )


def _channel_ref(
    c: _Collector, path: str, name: str | None, channels: dict[str, Channel], want: Quantity
) -> None:
    if name is None:
        return
    c.ref(path, "channel", name, channels)
    ch = channels.get(name)
    if ch is not None and ch.quantity is not want:
        c.add(path, f"'{name}' measures {ch.quantity.value}, not {want.value}")


def _relay_ref(
    c: _Collector, path: str, name: str | None, layout: Layout, drives: set[Role]
) -> Actuator | None:
    """Check a control reference to an actuator and the role of what it switches."""
    if name is None:
        return None
    actuators = {a.node: a for a in layout.actuators}
    c.ref(path, "actuator", name, actuators)
    act = actuators.get(name)
    if act is None:
        return None
    target = next((n for n in layout.nodes if n.alias == act.drives), None)
    if target is None:
        return act
    if target.role not in drives:
        wanted = " or ".join(sorted(r.value for r in drives))
        c.add(path, f"'{name}' drives '{target.alias}', a {target.role.value}, not a {wanted}")
    if target.role in {Role.HEAT_PUMP, Role.BOOST_ELEMENT} and target.nameplate_power_w is None:
        c.add(path, f"'{target.alias}' needs nameplate_power_w for power reporting")
    return act


def _within(value: float, ch: Channel) -> bool:
    lo, hi = ch.plausible_range
    return lo <= value <= hi


def _inside(c: _Collector, path: str, value: float, ch: Channel | None) -> None:
    if ch is None:
        return
    lo, hi = ch.plausible_range
    if not _within(value, ch):
        c.add(
            path,
            f"{value:g} is outside the plausible range [{lo:g}, {hi:g}] of channel '{ch.name}'",
        )
