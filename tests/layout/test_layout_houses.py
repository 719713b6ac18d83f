"""The three committed houses load, and each carries the hardware the issue asks of it."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from scada.layout import Layout, MakeModel, Quantity, Role, load_layout
from scada.layout.model import GpioBus, I2cBus, ModbusRtuBus, ModbusTcpBus

ROOT = Path(__file__).resolve().parents[2]
HOUSES = ROOT / "input_data" / "houses"
DW1 = "dw1.isone.nh.orange.1"
W = "w.isone.nh.orange.1"
HW25 = "hw25.isone.me.versant.keene.beech"


def house(alias: str) -> Layout:
    return load_layout(HOUSES / f"{alias}.json")


@pytest.mark.parametrize(
    ("alias", "simulated", "channels", "actuators"),
    [(DW1, True, 13, 3), (W, False, 6, 3), (HW25, False, 40, 15)],
)
def test_house_is_valid(alias: str, simulated: bool, channels: int, actuators: int) -> None:
    layout = house(alias)
    assert layout.house.alias == alias
    assert layout.simulated is simulated
    assert (len(layout.channels), len(layout.actuators)) == (channels, actuators)
    assert layout.simulation is not None, "every house can be rehearsed on the simulator"


def test_minimal_fixture_is_valid() -> None:
    """The base every broken fixture is made from has no problem of its own."""
    load_layout(Path(__file__).parent / "minimal.json")


def test_every_house_has_readable_display_names() -> None:
    for alias in (DW1, W, HW25):
        layout = house(alias)
        names = [n.display_name for n in layout.nodes]
        assert all(len(n) >= 3 for n in names)
        assert len(set(names)) == len(names), f"{alias}: two nodes share a display name"


def test_dw1_keeps_the_2022_aliases_and_adds_a_heat_pump() -> None:
    layout = house(DW1)
    aliases = {n.alias for n in layout.nodes}
    assert {
        "a",
        "a.home",
        "a.s",
        "a.elt1",
        "a.elt1.relay",
        "a.tank",
        *(f"a.tank.temp{i}" for i in range(5)),
        "a.tank.out",
        "a.tank.in",
        "a.tank.out.temp1",
        "a.tank.in.temp1",
        "a.tank.out.pump",
        "a.tank.out.pump.relay",
        "a.tank.out.pump.allradiators",
        "a.tank.out.pump.allradiators.garage",
        "a.outdoors",
        "a.tank.out.flowmeter1",
        "a.m",
        "a.hp",
        "a.hp.relay",
    } <= aliases
    assert layout.node("a.elt1").nameplate_power_w == 4500
    board = layout.device("relay-board")
    assert board.make_model is MakeModel.NCD_PR8_14_SPST
    assert isinstance(board.bus, I2cBus)
    assert board.bus.address == 0x20
    relays = {a.node: a.board_channel for a in layout.actuators}
    assert relays == {"a.elt1.relay": 0, "a.tank.out.pump.relay": 1, "a.hp.relay": 2}
    meter = layout.device("egauge")
    assert isinstance(meter.bus, ModbusTcpBus)
    assert (meter.bus.host, meter.bus.port) == ("127.0.0.1", 5020)
    power = {c.node for c in layout.channels if c.quantity is Quantity.POWER}
    assert power == {"a.hp", "a.elt1", "a.tank.out.pump"}
    flow = layout.channel("dist-flow")
    assert isinstance(layout.device(flow.device).bus, GpioBus)


def test_w_is_the_garage_rig_of_2022() -> None:
    layout = house(W)
    relays = {a.node: a.board_channel for a in layout.actuators}
    assert relays == {
        "a.elt1.relay": 2,
        "a.tank.out.pump.relay": 3,
        "a.tank.out.pump.baseboard1.fan.relay": 1,
    }
    ids = {c.node: c.hw_id for c in layout.channels if c.hw_id is not None}
    assert ids == {
        "a.tank.temp0": "28-000000041d3f",
        "a.tank.out.temp1": "28-000000033ffe",
        "a.tank.in.temp1": "28-0000000363a9",
    }
    meter = layout.device("main-meter")
    assert meter.make_model is MakeModel.SCHNEIDER_IEM3455
    assert isinstance(meter.bus, ModbusRtuBus)
    assert (meter.bus.port, meter.bus.baud, meter.bus.unit_id) == ("/dev/ttyUSB0", 9600, 12)
    assert meter.register_map is not None
    for reg in meter.register_map:
        assert (reg.type, reg.word_order, reg.function) == ("f32", "big", "holding")
    # documented 3054 (phase 1) and 3060 (total), requested as address - 1
    assert {r.name: r.address for r in meter.register_map} == {
        "active-power-l1": 3053,
        "active-power-total": 3059,
    }


def test_hw25_is_a_large_2025_house() -> None:
    layout = house(HW25)
    assert len(layout.channels) >= 40
    krida = [d for d in layout.devices if d.make_model is MakeModel.KRIDA_EMR16_I2C]
    assert sorted(d.bus.address for d in krida if isinstance(d.bus, I2cBus)) == [0x20, 0x21]
    assert len(layout.actuators) >= 14
    assert all(a.active_low for a in layout.actuators)
    hp = layout.actuator("a.hp.relay")
    assert (hp.min_on_s, hp.min_off_s) == (300, 300)
    assert layout.control.heat_pump == "a.hp.relay"
    assert len(layout.control.boost_elements) == 2
    assert len(layout.control.tank_layers) == 12
    layer_boards = {layout.channel(c).device for c in layout.control.tank_layers}
    addresses = sorted(
        d.bus.address
        for d in layout.devices
        if d.name in layer_boards and isinstance(d.bus, I2cBus)
    )
    assert addresses == [0x48, 0x49, 0x4B]
    assert len(layout.control.zones) == 4
    for zone in layout.control.zones:
        assert zone.relay is not None
        target = layout.node(layout.actuator(zone.relay).drives)
        assert target.role in {Role.ZONE_VALVE, Role.ZONE_THERMOSTAT}
    flows = [d for d in layout.devices if d.make_model is MakeModel.PULSE_FLOW_METER]
    assert len(flows) == 2
    meter = layout.device("egauge")
    assert isinstance(meter.bus, ModbusTcpBus)
    assert (meter.bus.host, meter.bus.port) == ("egauge4030.local", 502)
    power_nodes = Counter(c.node for c in layout.channels if c.quantity is Quantity.POWER)
    assert power_nodes["a.hp"] == 2, "heat pump outdoor and indoor unit"
    assert layout.control.outdoor_channel is not None
