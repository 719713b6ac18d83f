"""The Schneider iEM3455 meter driver against a real pymodbus RTU server on an emulated RS-485 line.

Each test runs on two lines: a pseudo-terminal pair (parity N: this kernel's ptys refuse even
parity) and the layout's own line (9600 8E1), which here falls back to RTU frames over pyserial's
``socket://`` — the driver opens both through the same pyserial call as ``/dev/ttyUSB0``.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Literal

import pytest

from scada.clock import SystemClock
from scada.drivers.buses import SystemBuses
from scada.drivers.errors import (
    BusMissingError,
    DeviceGarbageError,
    DeviceRefusedError,
    DeviceTimeoutError,
)
from scada.drivers.meters import ModbusMeter, WrongDeviceError
from scada.drivers.modbus_exchange import ModbusExceptionError
from scada.drivers.modbus_line import SerialLine
from scada.drivers.modbus_pool import BusConflictError, ModbusBusPool
from scada.drivers.registers import load_table
from scada.layout import Channel, Device, MakeModel
from sim.buses.modbus import EmulatedModbusRtu
from sim.buses.rs485 import pty_accepts_parity
from tests.drivers.modbus_support import (
    FAST_TIMEOUT_S,
    GARAGE,
    RedirectBuses,
    Signal,
    fast_pool,
    make_meter,
    meter_device,
    with_rtu,
)

PORT = "/dev/ttyUSB0"

Line = Literal["pty", "layout"]


@dataclass
class Rig:
    emulator: EmulatedModbusRtu
    meter: ModbusMeter
    signal: Signal
    device: Device
    channels: list[Channel]
    buses: RedirectBuses
    pool: ModbusBusPool


def garage_meter(line: Line) -> tuple[Device, list[Channel]]:
    device, channels = meter_device(GARAGE, "main-meter")
    changes: dict[str, object] = {"timeout_s": FAST_TIMEOUT_S}
    if line == "pty":
        changes["parity"] = "N"
    return with_rtu(device, **changes), channels


async def start_line(emulator: EmulatedModbusRtu, line: Line, buses: RedirectBuses) -> None:
    buses.serial[PORT] = await emulator.start()
    if line == "pty":
        assert emulator.transport_used == "pty"
        assert emulator.path.startswith("/dev/pts/")
    else:
        assert emulator.transport_used == ("pty" if pty_accepts_parity("E") else "socket")


@pytest.fixture(params=["pty", "layout"])
async def rig(request: pytest.FixtureRequest) -> AsyncIterator[Rig]:
    line: Line = request.param
    device, channels = garage_meter(line)
    signal = Signal(active_power_total=3500.0, active_power_l1=1200.0)
    emulator = EmulatedModbusRtu.for_device(device, signal, transport=line_transport(line))
    buses = RedirectBuses()
    await start_line(emulator, line, buses)
    pool = fast_pool()
    meter = make_meter(device, channels, buses, pool)
    yield Rig(emulator, meter, signal, device, channels, buses, pool)
    await meter.close()
    await emulator.stop()


def line_transport(line: Line) -> Literal["pty", "auto"]:
    return "pty" if line == "pty" else "auto"


async def test_reads_power_in_watts_from_kilowatts(rig: Rig) -> None:
    await rig.meter.open()
    assert await rig.meter.read(["rig-power"]) == {"rig-power": pytest.approx(3500.0)}
    rig.signal.set("active-power-total", 11_800.0)
    assert await rig.meter.read(["rig-power"]) == {"rig-power": pytest.approx(11_800.0)}


async def test_serial_number_is_checked_at_open(rig: Rig) -> None:
    await rig.meter.open()  # hw_uid 20221029 is served by the emulator: passes
    impostor = rig.device.model_copy(update={"hw_uid": "20221030"})
    meter = make_meter(impostor, rig.channels, rig.buses, rig.pool)  # one client per port
    with pytest.raises(WrongDeviceError) as e:
        await meter.open()
    assert e.value.device == "main-meter"
    assert "serial-number reads '20221029' but the layout says '20221030'" in e.value.reason
    await meter.close()


async def test_read_all_of_the_built_in_table(rig: Rig) -> None:
    bare = rig.device.model_copy(update={"register_map": None, "hw_uid": None})
    table = load_table(MakeModel.SCHNEIDER_IEM3455.value)
    emulator = EmulatedModbusRtu(
        [*table.registers, *([table.hw_uid] if table.hw_uid else [])],
        12,
        Signal(230.0, active_power_total=2000.0, serial_number=20221029.0, frequency=60.0),
        parity="N",
        transport="pty",
    )
    buses = RedirectBuses()
    buses.serial[PORT] = await emulator.start()
    meter = make_meter(with_rtu(bare, parity="N"), [], buses)
    try:
        probe = {p.name: (p.value, p.unit) for p in await meter.read_all()}
        assert probe["serial-number"] == (20221029.0, "")
        assert probe["active-power-total"][0] == pytest.approx(2000.0)
        assert probe["active-power-total"][1] == "W"
        assert probe["frequency"] == (60.0, "Hz")
        assert probe["voltage-l1-n"] == (230.0, "V")
        assert probe["active-energy-import"] == (230.0, "Wh")
        assert len(probe) == len(table.registers) + 1
        # serial number; 2999..3110 in one read (gaps bridged); the energy counter at 3203
        assert emulator.meter.requests == 3
    finally:
        await meter.close()
        await emulator.stop()


# --------------------------------------------------------------------------- faults


async def test_crc_error_is_garbage(rig: Rig) -> None:
    await rig.meter.open()
    rig.emulator.faults.bad_crc = True
    with pytest.raises(DeviceGarbageError) as e:
        await rig.meter.read(["rig-power"])
    assert e.value.device == "main-meter"
    assert "failed its CRC check" in e.value.reason
    rig.emulator.faults.bad_crc = False
    assert await rig.meter.read(["rig-power"]) == {"rig-power": pytest.approx(3500.0)}


async def test_garbage_is_garbage(rig: Rig) -> None:
    await rig.meter.open()
    rig.emulator.faults.garbage = True
    with pytest.raises(DeviceGarbageError, match="de ad be ef"):
        await rig.meter.read(["rig-power"])


async def test_silent_meter_is_a_timeout(rig: Rig) -> None:
    await rig.meter.open()
    rig.emulator.faults.silent = True
    with pytest.raises(DeviceTimeoutError) as e:
        await rig.meter.read(["rig-power"])
    assert e.value.device == "main-meter"
    assert "no answer to holding registers 3059..3060 of unit 12" in e.value.reason
    rig.emulator.faults.silent = False
    assert await rig.meter.read(["rig-power"]) == {"rig-power": pytest.approx(3500.0)}


async def test_exception_response_is_refused(rig: Rig) -> None:
    await rig.meter.open()
    rig.emulator.faults.exception_code = 6
    with pytest.raises(DeviceRefusedError) as e:
        await rig.meter.read(["rig-power"])
    assert isinstance(e.value, ModbusExceptionError)
    assert e.value.code == 6
    assert "server device busy" in e.value.reason


async def test_wrong_register_count_is_garbage(rig: Rig) -> None:
    await rig.meter.open()
    rig.emulator.faults.short_by = 2
    with pytest.raises(DeviceGarbageError, match=r"asked for 2 registers .*got 0"):
        await rig.meter.read(["rig-power"])


# ------------------------------------------------------------------ two meters, one line


@dataclass
class Line2:
    emulator: EmulatedModbusRtu
    first: ModbusMeter
    second: ModbusMeter
    calls: list[tuple[int, float]]


class Recorded(Signal):
    """A constant source that notes when (loop time) and for which unit it is asked."""

    def __init__(
        self,
        watts: float,
        unit: int,
        calls: list[tuple[int, float]],
        loop: asyncio.AbstractEventLoop,
    ) -> None:
        super().__init__(watts)
        self._unit, self._calls, self._loop = unit, calls, loop

    def __call__(self, register: str) -> float | str:
        self._calls.append((self._unit, self._loop.time()))
        return super().__call__(register)


@pytest.fixture
async def two_meters() -> AsyncIterator[Line2]:
    device, channels = garage_meter("pty")
    second = device.model_copy(
        update={"name": "sub-meter", "bus": device.bus.model_copy(update={"unit_id": 13})}
    )
    second_channels = [c.model_copy(update={"device": "sub-meter"}) for c in channels]
    loop = asyncio.get_running_loop()
    calls: list[tuple[int, float]] = []
    emulator = EmulatedModbusRtu.for_device(
        device, Recorded(1000.0, 12, calls, loop), transport="pty"
    )
    emulator.add_device(second, Recorded(2000.0, 13, calls, loop))
    buses = RedirectBuses()
    buses.serial[PORT] = await emulator.start()
    pool = fast_pool()
    first = make_meter(device.model_copy(update={"hw_uid": None}), channels, buses, pool)
    other = make_meter(second.model_copy(update={"hw_uid": None}), second_channels, buses, pool)
    yield Line2(emulator, first, other, calls)
    await first.close()
    await other.close()
    await emulator.stop()


async def test_two_meters_share_one_bus(two_meters: Line2) -> None:
    await two_meters.first.open()
    await two_meters.second.open()
    assert two_meters.first.bus is two_meters.second.bus


async def test_two_meters_on_one_line_are_serialised(two_meters: Line2) -> None:
    delay = 0.03
    for unit in (12, 13):
        two_meters.emulator.unit(unit).faults.delay_s = delay
    results = await asyncio.gather(
        *(m.read(["rig-power"]) for _ in range(3) for m in (two_meters.first, two_meters.second))
    )
    assert [r["rig-power"] for r in results] == [
        pytest.approx(w) for _ in range(3) for w in (1000.0, 2000.0)
    ]
    # Each answer takes `delay` at the meter; with the bus lock no request overlaps another,
    # so the meters are asked one after the other, never together.
    times = sorted(t for _, t in two_meters.calls)
    assert len(times) == 6
    assert all(b - a >= delay * 0.9 for a, b in itertools.pairwise(times))


async def test_inter_frame_gap_is_kept(two_meters: Line2) -> None:
    await two_meters.first.read(["rig-power"])
    await two_meters.second.read(["rig-power"])
    bus = two_meters.first.bus
    assert bus is not None
    assert isinstance(bus.line, SerialLine)
    gap = bus.line.frame_gap_s
    assert gap == pytest.approx(3.5 * 10 / 9600)  # 9600 8N1
    (_, t1), (_, t2) = two_meters.calls
    assert t2 - t1 >= gap * 0.95


async def test_silent_meter_costs_the_other_only_its_turn(two_meters: Line2) -> None:
    two_meters.emulator.unit(13).faults.silent = True
    silent = asyncio.ensure_future(two_meters.second.read(["rig-power"]))
    healthy = await two_meters.first.read(["rig-power"])
    assert healthy == {"rig-power": pytest.approx(1000.0)}
    with pytest.raises(DeviceTimeoutError) as e:
        await silent
    assert e.value.device == "sub-meter"
    assert await two_meters.first.read(["rig-power"]) == {"rig-power": pytest.approx(1000.0)}


async def test_one_port_with_two_settings_is_refused(two_meters: Line2) -> None:
    device, channels = garage_meter("pty")
    fast = device.model_copy(
        update={
            "name": "fast-meter",
            "hw_uid": None,
            "bus": device.bus.model_copy(update={"baud": 19200, "unit_id": 14}),
        }
    )
    chans = [c.model_copy(update={"device": "fast-meter"}) for c in channels]
    await two_meters.first.open()
    pool = two_meters.first._pool
    assert pool is not None
    buses = RedirectBuses()
    buses.serial[PORT] = two_meters.emulator.path
    meter = make_meter(fast, chans, buses, pool)
    with pytest.raises(BusConflictError) as e:
        await meter.open()
    assert e.value.device == "fast-meter"
    assert "needs the same settings" in e.value.reason


# ------------------------------------------------------------------------ missing port


async def test_missing_serial_port_names_the_meter_and_the_path() -> None:
    device, channels = meter_device(GARAGE, "main-meter")
    device = with_rtu(device, port="/dev/ttyUSB-not-here")
    meter = ModbusMeter(device, channels, SystemBuses(), SystemClock(), pool=fast_pool())
    with pytest.raises(BusMissingError) as e:
        await meter.open()
    assert e.value.device == "main-meter"
    assert "/dev/ttyUSB-not-here does not exist" in e.value.reason


async def test_port_that_vanishes_is_a_missing_bus() -> None:
    device, channels = garage_meter("pty")
    emulator = EmulatedModbusRtu.for_device(device, Signal(5.0), transport="pty")
    path = await emulator.start()
    meter = make_meter(
        with_rtu(device, port=path).model_copy(update={"hw_uid": None}), channels, SystemBuses()
    )
    try:
        assert await meter.read(["rig-power"]) == {"rig-power": pytest.approx(5.0)}
        await emulator.stop()  # the adapter is unplugged: its device node goes away
        with pytest.raises((DeviceTimeoutError, DeviceGarbageError, BusMissingError)):
            await meter.read(["rig-power"])
        with pytest.raises(BusMissingError, match="does not exist"):
            await meter.read(["rig-power"])
    finally:
        await meter.close()
