"""The eGauge 4030 meter driver against a real pymodbus TCP server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from scada.clock import SystemClock
from scada.drivers.errors import (
    DeviceGarbageError,
    DeviceRefusedError,
    DeviceTimeoutError,
    DriverError,
)
from scada.drivers.meters import MeterConfigError, ModbusMeter, WrongDeviceError
from scada.drivers.modbus_exchange import ModbusExceptionError
from scada.layout import Channel, Device
from sim.buses.modbus import EmulatedModbusTcp
from tests.drivers.modbus_support import (
    FAST_TIMEOUT_S,
    GARAGE,
    HW25,
    RedirectBuses,
    Signal,
    fast_pool,
    house,
    make_meter,
    meter_device,
    with_tcp,
)

WATTS = {
    "hp-odu-pwr": 2150.5,
    "hp-idu-pwr": 310.25,
    "elt1-pwr": 4500.0,
    "elt2-pwr": 0.0,
    "primary-pump-pwr": 61.5,
    "store-pump-pwr": 45.0,
    "dist-pump-pwr": 38.75,
    "mains-pwr": 48_250.0,  # above 32 767 W: the 2025 driver clipped this
}


@dataclass
class Rig:
    emulator: EmulatedModbusTcp
    meter: ModbusMeter
    signal: Signal
    device: Device
    channels: list[Channel]
    buses: RedirectBuses

    @property
    def channel_names(self) -> list[str]:
        return [c.name for c in self.channels]


@pytest.fixture
async def rig() -> AsyncIterator[Rig]:
    device, channels = meter_device(HW25, "egauge")
    device = with_tcp(device, timeout_s=FAST_TIMEOUT_S)
    signal = Signal(**{k.replace("-", "_"): v for k, v in WATTS.items()})
    emulator = EmulatedModbusTcp.for_device(device, signal)
    port = await emulator.start()
    buses = RedirectBuses()
    buses.tcp[("egauge4030.local", 502)] = ("127.0.0.1", port)
    meter = make_meter(device, channels, buses)
    yield Rig(emulator, meter, signal, device, channels, buses)
    await meter.close()
    await emulator.stop()


def by_register(rig: Rig) -> dict[str, str]:
    return {c.name: c.register_name or "" for c in rig.channels}


async def test_reads_every_channel_in_watts(rig: Rig) -> None:
    await rig.meter.open()
    values = await rig.meter.read(rig.channel_names)
    regs = by_register(rig)
    assert {ch: values[ch] for ch in rig.channel_names} == {
        ch: WATTS[regs[ch]] for ch in rig.channel_names
    }


async def test_whole_map_is_one_request(rig: Rig) -> None:
    await rig.meter.open()  # reads the hardware id: one request
    before = rig.emulator.meter.requests
    await rig.meter.read(rig.channel_names)
    assert rig.emulator.meter.requests == before + 1


async def test_values_follow_the_source(rig: Rig) -> None:
    await rig.meter.open()
    rig.signal.set("hp-odu-pwr", 5000.0)
    assert (await rig.meter.read(["hp-odu-power"]))["hp-odu-power"] == 5000.0
    rig.signal.set("hp-odu-pwr", 0.0)
    assert (await rig.meter.read(["hp-odu-power"]))["hp-odu-power"] == 0.0


async def test_read_all_gives_every_register_with_units(rig: Rig) -> None:
    probe = await rig.meter.read_all()
    got = {p.name: (p.value, p.unit) for p in probe}
    assert got["hw-uid"] == ("egauge4030", "")
    for name, watts in WATTS.items():
        assert got[name] == (watts, "W")


async def test_hardware_id_is_checked_at_open(rig: Rig) -> None:
    impostor = rig.device.model_copy(update={"hw_uid": "egauge9999"})
    meter = make_meter(impostor, rig.channels, rig.buses)
    with pytest.raises(WrongDeviceError) as e:
        await meter.open()
    assert e.value.device == "egauge"
    assert "reads 'egauge4030' but the layout says 'egauge9999'" in e.value.reason
    await meter.close()


async def test_no_hardware_id_in_the_layout_means_no_check(rig: Rig) -> None:
    anonymous = rig.device.model_copy(update={"hw_uid": None})
    meter = make_meter(anonymous, rig.channels, rig.buses)
    await meter.open()
    assert rig.emulator.meter.requests == 0
    await meter.close()


# --------------------------------------------------------------------------- faults


async def test_silent_meter_is_a_timeout(rig: Rig) -> None:
    await rig.meter.open()
    rig.emulator.faults.silent = True
    with pytest.raises(DeviceTimeoutError) as e:
        await rig.meter.read(rig.channel_names)
    assert e.value.device == "egauge"
    assert "no answer to input registers 500..515 of unit 1" in e.value.reason
    rig.emulator.faults.silent = False
    assert (await rig.meter.read(["mains-power"]))["mains-power"] == 48_250.0


async def test_late_answer_is_a_timeout_and_never_taken_for_the_next(rig: Rig) -> None:
    await rig.meter.open()
    rig.emulator.faults.delay_s = FAST_TIMEOUT_S * 2
    rig.signal.set("mains-pwr", 111.0)
    with pytest.raises(DeviceTimeoutError):
        await rig.meter.read(["mains-power"])
    rig.emulator.faults.delay_s = 0.0
    rig.signal.set("mains-pwr", 222.0)
    # The late answer (111 W) lands on the old connection; the client was rebuilt.
    assert (await rig.meter.read(["mains-power"]))["mains-power"] == 222.0
    bus = rig.meter.bus
    assert bus is not None
    assert bus.stats.rebuilds >= 1


@pytest.mark.parametrize(
    ("code", "meaning"), [(2, "illegal data address"), (4, "server device failure")]
)
async def test_exception_response_is_refused_with_its_code(
    rig: Rig, code: int, meaning: str
) -> None:
    await rig.meter.open()
    rig.emulator.faults.exception_code = code
    with pytest.raises(DeviceRefusedError) as e:
        await rig.meter.read(rig.channel_names)
    assert isinstance(e.value, ModbusExceptionError)
    assert e.value.code == code
    assert e.value.device == "egauge"
    assert f"Modbus exception {code} ({meaning}" in e.value.reason


async def test_garbage_frame_is_garbage(rig: Rig) -> None:
    await rig.meter.open()
    rig.emulator.faults.garbage = True
    with pytest.raises(DeviceGarbageError) as e:
        await rig.meter.read(rig.channel_names)
    assert e.value.device == "egauge"
    assert "unreadable answer" in e.value.reason
    assert "de ad be ef" in e.value.reason
    rig.emulator.faults.garbage = False
    assert (await rig.meter.read(["elt1-power"]))["elt1-power"] == 4500.0


async def test_wrong_register_count_is_garbage(rig: Rig) -> None:
    await rig.meter.open()
    rig.emulator.faults.short_by = 1
    with pytest.raises(DeviceGarbageError) as e:
        await rig.meter.read(rig.channel_names)
    assert e.value.device == "egauge"
    assert "asked for 16 registers" in e.value.reason
    assert "got 15" in e.value.reason


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf, 5e9])
async def test_impossible_value_fails_only_its_channel(rig: Rig, bad: float) -> None:
    await rig.meter.open()
    rig.signal.set("elt2-pwr", bad)
    values = await rig.meter.read(rig.channel_names)
    fault = values["elt2-power"]
    assert isinstance(fault, DeviceGarbageError)
    assert fault.device == "egauge"
    assert "elt2-pwr" in fault.reason
    assert values["elt1-power"] == 4500.0


async def test_stuck_value_is_read_as_it_is(rig: Rig) -> None:
    """A stuck meter answers well-formed frames: the driver reports what it reads, and it is the
    runtime's staleness and change checks that notice a value that never moves."""
    await rig.meter.open()
    assert (await rig.meter.read(["hp-odu-power"]))["hp-odu-power"] == 2150.5
    rig.emulator.meter.stick("hp-odu-pwr")
    rig.signal.set("hp-odu-pwr", 3000.0)
    rig.signal.set("hp-idu-pwr", 1.0)
    values = await rig.meter.read(["hp-odu-power", "hp-idu-power"])
    assert values == {"hp-odu-power": 2150.5, "hp-idu-power": 1.0}
    rig.emulator.faults.stuck.clear()
    assert (await rig.meter.read(["hp-odu-power"]))["hp-odu-power"] == 3000.0


# --------------------------------------------------------------------- reconnection


async def test_reconnects_after_the_server_restarts(rig: Rig) -> None:
    await rig.meter.open()
    assert (await rig.meter.read(["mains-power"]))["mains-power"] == 48_250.0
    port = rig.emulator.port
    await rig.emulator.stop()
    with pytest.raises(DeviceTimeoutError) as e:
        await rig.meter.read(["mains-power"])
    assert e.value.device == "egauge"
    await rig.emulator.start(port)
    rig.signal.set("mains-pwr", 1000.0)
    for _ in range(40):  # back-off here: 50 ms doubling to 200 ms
        try:
            value = (await rig.meter.read(["mains-power"]))["mains-power"]
            break
        except DeviceTimeoutError:
            await asyncio.sleep(0.05)
    else:
        pytest.fail("the meter never came back")
    assert value == 1000.0


async def test_no_connection_fails_fast_during_back_off(rig: Rig) -> None:
    await rig.emulator.stop()
    with pytest.raises(DeviceTimeoutError, match=r"cannot connect to modbus-tcp 127\.0\.0\.1"):
        await rig.meter.read(["mains-power"])
    bus = rig.meter.bus
    assert bus is not None
    failures = bus.stats.connect_failures
    with pytest.raises(DeviceTimeoutError, match="next try in"):
        await rig.meter.read(["mains-power"])
    assert bus.stats.connect_failures == failures  # no new attempt inside the back-off


async def test_cancelled_read_leaves_the_bus_usable(rig: Rig) -> None:
    await rig.meter.open()
    rig.emulator.faults.delay_s = 0.15
    task = asyncio.ensure_future(rig.meter.read(["mains-power"]))
    await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    rig.emulator.faults.delay_s = 0.0
    assert (await rig.meter.read(["mains-power"]))["mains-power"] == 48_250.0


async def test_meter_that_refuses_gaps_is_read_without_them() -> None:
    device, channels = meter_device(HW25, "egauge")
    device = with_tcp(device, timeout_s=FAST_TIMEOUT_S)
    keep = {"hp-odu-pwr", "mains-pwr"}  # 500 and 514: one bridged read of 16 registers
    assert device.register_map is not None
    sparse = device.model_copy(
        update={"register_map": tuple(r for r in device.register_map if r.name in keep)}
    )
    chans = [c for c in channels if c.register_name in keep]
    emulator = EmulatedModbusTcp(sparse.register_map or (), 1, Signal(7.0), strict_gaps=True)
    buses = RedirectBuses()
    buses.tcp[("egauge4030.local", 502)] = ("127.0.0.1", await emulator.start())
    meter = make_meter(sparse.model_copy(update={"hw_uid": None}), chans, buses)
    try:
        assert await meter.read([c.name for c in chans]) == {c.name: 7.0 for c in chans}
        assert emulator.meter.requests == 2  # the refused bridged read never reached the action
        await meter.read([c.name for c in chans])
        assert emulator.meter.requests == 4  # two touching reads from now on
    finally:
        await meter.close()
        await emulator.stop()


# ---------------------------------------------------------------------- construction


def test_channel_naming_no_register_is_refused_at_build() -> None:
    device, channels = meter_device(HW25, "egauge")
    wrong = channels[0].model_copy(update={"register_name": "no-such-register"})
    with pytest.raises(MeterConfigError) as e:
        ModbusMeter(device, [wrong], RedirectBuses(), SystemClock(), pool=fast_pool())
    assert e.value.device == "egauge"
    assert "names register 'no-such-register', which is not in the map" in e.value.reason


def test_non_modbus_device_is_refused() -> None:
    relay_board = house(GARAGE).device("relay-board")
    with pytest.raises(DriverError, match="not a Modbus bus"):
        ModbusMeter(relay_board, [], RedirectBuses(), SystemClock())


async def test_connection_dropped_during_a_request_fails_as_lost_not_as_a_timeout() -> None:
    async def hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(1)  # the request has arrived: drop the connection unanswered
        writer.close()

    server = await asyncio.start_server(hang_up, "127.0.0.1", 0)
    device, channels = meter_device(HW25, "egauge")
    timeout_s = 20.0
    device = with_tcp(device, timeout_s=timeout_s).model_copy(update={"hw_uid": None})
    buses = RedirectBuses()
    buses.tcp[("egauge4030.local", 502)] = ("127.0.0.1", server.sockets[0].getsockname()[1])
    meter = make_meter(device, channels, buses)
    try:
        await meter.open()
        started = time.monotonic()
        with pytest.raises(DeviceTimeoutError) as e:
            await meter.read([channels[0].name])
        # The loss ends the wait: it is not the timeout that ends it (that would take 20 s).
        assert time.monotonic() - started < timeout_s
        assert e.value.device == "egauge"
        assert "lost during input registers" in e.value.reason
        bus = meter.bus
        assert bus is not None
        assert not bus.connected  # the dead client is dropped, so the next read reconnects
    finally:
        await meter.close()
        server.close()
        await server.wait_closed()
