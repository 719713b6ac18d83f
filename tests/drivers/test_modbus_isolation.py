"""A failing meter never holds up a meter on another bus; buses are shared only when physical."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from scada.clock import SystemClock
from scada.drivers.errors import DeviceTimeoutError
from scada.drivers.meters import ModbusMeter
from scada.drivers.modbus_pool import ModbusBusPool
from sim.buses.modbus import EmulatedModbusRtu, EmulatedModbusTcp
from tests.drivers.modbus_support import (
    GARAGE,
    HW25,
    RedirectBuses,
    Signal,
    fast_pool,
    make_meter,
    meter_device,
    with_rtu,
    with_tcp,
)

SLOW_TIMEOUT_S = 0.5  # long enough that the healthy meter's reads all land inside it


@dataclass
class TwoTcpMeters:
    dead: EmulatedModbusTcp
    alive: EmulatedModbusTcp
    dead_meter: ModbusMeter
    alive_meter: ModbusMeter
    pool: ModbusBusPool


@pytest.fixture
async def two_tcp() -> AsyncIterator[TwoTcpMeters]:
    device, channels = meter_device(HW25, "egauge")
    device = with_tcp(device, timeout_s=SLOW_TIMEOUT_S).model_copy(update={"hw_uid": None})
    other = with_tcp(device, host="egauge-b.local").model_copy(update={"name": "egauge-b"})
    other_channels = [c.model_copy(update={"device": "egauge-b"}) for c in channels]
    dead = EmulatedModbusTcp.for_device(device, Signal(1.0))
    alive = EmulatedModbusTcp.for_device(other, Signal(2.0))
    buses = RedirectBuses()
    buses.tcp[("egauge4030.local", 502)] = ("127.0.0.1", await dead.start())
    buses.tcp[("egauge-b.local", 502)] = ("127.0.0.1", await alive.start())
    pool = fast_pool()
    rig = TwoTcpMeters(
        dead,
        alive,
        make_meter(device, channels, buses, pool),
        make_meter(other, other_channels, buses, pool),
        pool,
    )
    yield rig
    await rig.dead_meter.close()
    await rig.alive_meter.close()
    await dead.stop()
    await alive.stop()


async def test_timing_out_meter_never_blocks_another_bus(two_tcp: TwoTcpMeters) -> None:
    await two_tcp.dead_meter.open()
    await two_tcp.alive_meter.open()
    assert two_tcp.dead_meter.bus is not two_tcp.alive_meter.bus
    two_tcp.dead.faults.silent = True
    stuck = asyncio.ensure_future(two_tcp.dead_meter.read(["mains-power"]))
    await asyncio.sleep(0)  # the dead meter's request is out and holds its own bus
    for _ in range(20):
        assert await two_tcp.alive_meter.read(["mains-power"]) == {"mains-power": 2.0}
    assert not stuck.done()  # twenty polls of the other bus inside one timeout
    with pytest.raises(DeviceTimeoutError):
        await stuck


async def test_unreachable_meter_never_blocks_another_bus(two_tcp: TwoTcpMeters) -> None:
    await two_tcp.dead.stop()
    for _ in range(3):
        with pytest.raises(DeviceTimeoutError):
            await two_tcp.dead_meter.read(["mains-power"])
        assert await two_tcp.alive_meter.read(["mains-power"]) == {"mains-power": 2.0}


async def test_silent_rtu_meter_never_blocks_a_tcp_meter(two_tcp: TwoTcpMeters) -> None:
    device, channels = meter_device(GARAGE, "main-meter")
    device = with_rtu(device, parity="N", timeout_s=SLOW_TIMEOUT_S)
    line = EmulatedModbusRtu.for_device(device, Signal(3.0), transport="pty")
    buses = RedirectBuses()
    buses.serial["/dev/ttyUSB0"] = await line.start()
    rtu_meter = make_meter(device.model_copy(update={"hw_uid": None}), channels, buses)
    try:
        line.faults.silent = True
        stuck = asyncio.ensure_future(rtu_meter.read(["rig-power"]))
        await asyncio.sleep(0)
        for _ in range(20):
            assert await two_tcp.alive_meter.read(["mains-power"]) == {"mains-power": 2.0}
        assert not stuck.done()
        with pytest.raises(DeviceTimeoutError):
            await stuck
    finally:
        await rtu_meter.close()
        await line.stop()


async def test_two_unit_ids_behind_one_gateway_share_its_bus() -> None:
    device, channels = meter_device(HW25, "egauge")
    device = device.model_copy(update={"hw_uid": None})
    second = with_tcp(device, unit_id=2).model_copy(update={"name": "egauge-2"})
    emulator = EmulatedModbusTcp.for_device(device, Signal(10.0))
    emulator.add_unit(second.register_map or (), 2, Signal(20.0))
    buses = RedirectBuses()
    buses.tcp[("egauge4030.local", 502)] = ("127.0.0.1", await emulator.start())
    first_meter = ModbusMeter(device, channels, buses, SystemClock())  # the pool of `buses`
    second_meter = ModbusMeter(
        second,
        [c.model_copy(update={"device": "egauge-2"}) for c in channels],
        buses,
        SystemClock(),
    )
    try:
        a, b = await asyncio.gather(
            first_meter.read(["mains-power"]), second_meter.read(["mains-power"])
        )
        assert (a, b) == ({"mains-power": 10.0}, {"mains-power": 20.0})
        assert first_meter.bus is second_meter.bus
        assert first_meter.bus is not None
        assert first_meter.bus.stats.connects == 1
    finally:
        await first_meter.close()
        await second_meter.close()
        await emulator.stop()
    assert [first_meter.bus, second_meter.bus] == [None, None]  # closed meters let go
    assert ModbusBusPool.for_buses(buses, SystemClock()).buses == []  # the last user closed it
