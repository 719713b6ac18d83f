"""Rich renderings of a layout for ``scada layout show``: node tree, devices, channels, control."""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.markup import escape
from rich.table import Table
from rich.text import Text
from rich.tree import Tree

from scada.layout.model import Channel, Device, Layout


def render_layout(layout: Layout) -> list[RenderableType]:
    """Everything ``scada layout show`` prints, top to bottom."""
    out: list[RenderableType] = [
        house_header(layout),
        node_tree(layout),
        devices_table(layout),
        *([] if (regs := registers_table(layout)) is None else [regs]),
        channels_table(layout),
        actuators_table(layout),
        settings_table("Control", layout.control.model_dump(exclude={"zones"})),
        zones_table(layout),
    ]
    if layout.simulation is not None:
        out.append(settings_table("Simulation", layout.simulation.model_dump()))
    return out


def house_header(layout: Layout) -> RenderableType:
    h = layout.house
    kind = (
        Text("SIMULATED", style="bold black on cyan")
        if layout.simulated
        else Text("REAL HARDWARE", style="bold white on red")
    )
    title = Text.assemble((h.display_name, "bold"), "  ", kind)
    facts = Text(
        f"house {h.alias}   scada {h.scada}   time zone {h.time_zone}   "
        f"{len(layout.nodes)} nodes, {len(layout.devices)} devices, "
        f"{len(layout.channels)} channels, {len(layout.actuators)} actuators",
        style="dim",
    )
    return Group(title, facts, Text())


def node_tree(layout: Layout) -> Tree:
    """The node hierarchy (dotted aliases), each node with role, display name and what it has."""
    channels: dict[str, list[str]] = {}
    for ch in layout.channels:
        channels.setdefault(ch.node, []).append(ch.name)
    switched = {a.node: a.drives for a in layout.actuators}
    tree = Tree(Text("Nodes", style="bold"), guide_style="dim")
    branches: dict[str, Tree] = {}
    aliases = {n.alias for n in layout.nodes}
    for n in sorted(layout.nodes, key=lambda n: n.alias.count(".")):
        label = f"[bold]{escape(n.alias)}[/]  [cyan]{n.role.value}[/]  {escape(n.display_name)}"
        if n.nameplate_power_w is not None:
            label += f"  [dim]{n.nameplate_power_w:g} W[/]"
        if n.alias in channels:
            label += f"  [green]→ {escape(', '.join(channels[n.alias]))}[/]"
        if n.alias in switched:
            label += f"  [yellow]switches {escape(switched[n.alias])}[/]"
        parent = n.parent
        while parent is not None and parent not in aliases:
            parent = parent.rpartition(".")[0] or None
        holder = branches.get(parent, tree) if parent is not None else tree
        branches[n.alias] = holder.add(label)
    return tree


def bus_text(d: Device) -> str:
    b = d.bus
    if b.kind == "i2c":
        return f"I2C bus {b.bus} @ 0x{b.address:02x}"
    if b.kind == "gpio":
        return f"GPIO chip {b.chip}"
    if b.kind == "one_wire":
        return f"1-Wire {b.sysfs_root}"
    if b.kind == "modbus_tcp":
        return f"Modbus TCP {b.host}:{b.port} unit {b.unit_id}"
    return f"Modbus RTU {b.port} {b.baud} 8{b.parity}1 unit {b.unit_id}"


def devices_table(layout: Layout) -> Table:
    t = Table(title="Devices", title_justify="left", title_style="bold")
    for col in ("name", "make / model", "bus", "display name", "hw uid"):
        t.add_column(col)
    for d in layout.devices:
        _row(t, d.name, d.make_model.value, bus_text(d), d.display_name or "", d.hw_uid or "")
    return t


def registers_table(layout: Layout) -> Table | None:
    """The Modbus register maps of the meters (None when no device has one)."""
    meters = [d for d in layout.devices if d.register_map]
    if not meters:
        return None
    t = Table(title="Meter registers", title_justify="left", title_style="bold")
    for col in ("device", "register", "address", "type", "words", "scale", "unit", "function"):
        t.add_column(col)
    for d in meters:
        for r in d.register_map or ():
            _row(
                t,
                d.name,
                r.name,
                str(r.address),
                r.type,
                "high word first" if r.word_order == "big" else "low word first",
                f"{r.scale:g}",
                r.unit.value,
                r.function,
            )
    return t


def _source(ch: Channel) -> str:
    if ch.hw_id is not None:
        return ch.hw_id
    if ch.register_name is not None:
        return f"register {ch.register_name}"
    if ch.device_channel is not None:
        return f"input {ch.device_channel}"
    return ""


def channels_table(layout: Layout) -> Table:
    t = Table(title="Channels", title_justify="left", title_style="bold")
    for col in ("name", "node", "device", "source", "quantity", "unit"):
        t.add_column(col)
    for col in ("period s", "on change", "plausible"):
        t.add_column(col, justify="right")
    for ch in layout.channels:
        lo, hi = ch.plausible_range
        _row(
            t,
            ch.name,
            ch.node,
            ch.device,
            _source(ch),
            ch.quantity.value,
            ch.unit.value,
            f"{ch.sample_period_s:g}",
            "" if ch.report_on_change is None else f"{ch.report_on_change:g}",
            f"{lo:g} … {hi:g}",
        )
    return t


def actuators_table(layout: Layout) -> Table:
    t = Table(title="Actuators", title_justify="left", title_style="bold")
    for col in ("relay node", "drives", "device", "channel", "contact", "active low"):
        t.add_column(col)
    t.add_column("min on / off s", justify="right")
    for a in layout.actuators:
        _row(
            t,
            a.node,
            a.drives,
            a.device,
            str(a.board_channel),
            a.contact.replace("_", " "),
            "yes" if a.active_low else "no",
            f"{a.min_on_s:g} / {a.min_off_s:g}",
        )
    return t


def zones_table(layout: Layout) -> Table:
    t = Table(title="Zones", title_justify="left", title_style="bold")
    for col in ("zone", "room channel", "setpoint °C", "relay"):
        t.add_column(col)
    for z in layout.control.zones:
        _row(t, z.name, z.room_channel, f"{z.setpoint_c:g}", z.relay or "")
    return t


def _value(v: object) -> str:
    if v is None:
        return "—"
    if isinstance(v, float):
        return f"{v:g}"
    if isinstance(v, tuple | list):
        return ", ".join(_value(x) for x in v) or "—"
    return str(v)


def settings_table(title: str, settings: dict[str, object]) -> Table:
    t = Table(title=title, title_justify="left", title_style="bold", show_header=False)
    t.add_column("setting", style="cyan")
    t.add_column("value")
    for key, value in settings.items():
        _row(t, key, _value(value))
    return t


def _row(table: Table, *cells: str) -> None:
    """Add a row of plain text: names from a layout file are never read as rich markup."""
    table.add_row(*(Text(c) for c in cells))
