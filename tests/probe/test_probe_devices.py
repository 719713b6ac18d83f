"""`probe_temp`, `probe_meter` and `probe_i2c` against the emulators, faults included."""

from __future__ import annotations

import errno
from collections.abc import Sequence
from pathlib import Path

import pytest

from scada.probe import (
    I2cRow,
    ProbeError,
    find_meter,
    find_temps,
    probe_i2c,
    probe_meter,
    probe_temp,
)
from sim.buses.i2c import EmulatedAds1115, EmulatedMcp23008
from sim.buses.machine import EmulatedBuses
from tests.probe.probe_support import DW1, HW25, W, emulated, house, populated, with_device

# ------------------------------------------------------------------ temperatures


async def test_thermistors_raw_converted_and_health(tmp_path: Path) -> None:
    layout = house(DW1)
    with populated(layout, tmp_path) as buses:
        adc = buses.i2c_buses[1].chips[0x48]
        assert isinstance(adc, EmulatedAds1115)
        adc.set_temperature(2, 60.0)
        adc.set_volts(3, 4.84)  # open thermistor: the divider sits at the supply
        result = await probe_temp(layout, buses, find_temps(layout, "tank-adc-1"))
    by_name = {r.channel: r for r in result.readings}
    assert list(by_name) == ["tank-temp0", "tank-temp1", "tank-temp2", "tank-temp3"]
    t2 = by_name["tank-temp2"]
    assert t2.ok
    assert t2.value_c == pytest.approx(60.0, abs=0.05)
    assert t2.source == "AIN2 of /dev/i2c-1 0x48"
    assert t2.raw.endswith(" Ω")
    assert " V = " in t2.raw
    t3 = by_name["tank-temp3"]
    assert not t3.ok
    assert t3.value_c is None
    assert t3.raw.startswith("4.8")
    assert t3.error is not None
    assert t3.error.startswith("tank-adc-1 (/dev/i2c-1 0x48): tank-temp3 (AIN3): open thermistor")
    assert t3.error.endswith("(probe unplugged or wire broken)")
    assert not result.ok


async def test_a_channel_by_node_alias(tmp_path: Path) -> None:
    layout = house(W)
    channels = find_temps(layout, "a.outdoors.temp1")
    assert [c.name for c in channels] == ["outdoor-temp"]
    with populated(layout, tmp_path) as buses:
        result = await probe_temp(layout, buses, channels)
    (reading,) = result.readings
    assert (reading.device, reading.node, reading.ok) == ("air-adc", "a.outdoors.temp1", True)
    lo, hi = layout.channels[4].plausible_range
    assert reading.value_c is not None
    assert lo <= reading.value_c <= hi


async def test_an_adc_that_does_not_answer_is_one_line(tmp_path: Path) -> None:
    layout = house(W)
    with populated(layout, tmp_path) as buses:
        buses.i2c_buses[1].chips[0x48].answering = False
        with pytest.raises(ProbeError) as e:
            await probe_temp(layout, buses, find_temps(layout, "garage-temp"))
    assert str(e.value).startswith("air-adc (/dev/i2c-1 0x48): no answer at 0x48 on i2c-1")
    assert "address jumpers" in str(e.value)


async def test_ds18b20_readings_and_faults(tmp_path: Path) -> None:
    layout = house(W)
    with populated(layout, tmp_path) as buses:
        tree = buses.one_wire
        assert tree is not None
        tree.set_temperature("28-000000041d3f", 48.5)
        tree.crc_error("28-000000033ffe")
        tree.remove("28-0000000363a9")
        tree.set_temperature("28-00000badbeef", 20.0)  # a probe the layout does not name
        result = await probe_temp(layout, buses, find_temps(layout, "ds18b20-probes"))
    top, out, inlet = result.readings
    assert top.ok
    assert top.value_c == 48.5
    assert top.raw.startswith("t=48500, crc=")
    assert top.raw.endswith(" YES")
    assert top.source == "28-000000041d3f"
    assert out.error is not None
    assert out.raw.endswith(" NO")
    assert "pipe-out-temp: sensor 28-000000033ffe: CRC error (kernel says NO)" in out.error
    assert "three wires" in out.error  # the fix hint
    assert inlet.error is not None
    assert inlet.error.startswith(f"ds18b20-probes ({tree.root}/28-0000000363a9/w1_slave): ")
    assert (
        "pipe-in-temp: sensor 28-0000000363a9 not on the bus "
        "(on the bus but not in the layout: 28-00000badbeef)"
    ) in inlet.error
    assert not result.ok


async def test_no_one_wire_bus_is_one_line(tmp_path: Path) -> None:
    layout = house(W)
    buses = EmulatedBuses()  # nothing populated: no 1-Wire tree at all
    try:
        with pytest.raises(ProbeError) as e:
            await probe_temp(layout, buses, find_temps(layout, "tank-top-temp"))
    finally:
        buses.close()
    assert str(e.value) == (
        "ds18b20-probes (/sys/bus/w1/devices): /sys/bus/w1/devices does not exist (emulated)"
    )


@pytest.mark.parametrize(
    ("house_alias", "name", "message"),
    [
        (
            DW1,
            "tank-tmp1",
            (
                "no temperature channel 'tank-tmp1' in dw1.isone.nh.orange.1 "
                "(did you mean 'tank-temp1'?)"
            ),
        ),
        (
            W,
            "rig-power",
            "rig-power is not a temperature channel (power): try scada probe meter main-meter",
        ),
        (
            W,
            "zzz",
            (
                "no temperature channel 'zzz' in w.isone.nh.orange.1 (there are: "
                "a.outdoors.temp1, a.tank.in.temp1, a.tank.out.pump.baseboard1.garage.temp1, "
                "a.tank.out.temp1, a.tank.temp0, air-adc, ds18b20-probes, garage-temp, …)"
            ),
        ),
    ],
)
def test_unknown_temperatures(house_alias: str, name: str, message: str) -> None:
    with pytest.raises(ProbeError) as e:
        find_temps(house(house_alias), name)
    assert str(e.value) == message


# ------------------------------------------------------------------ meters


async def test_iem3455_over_rtu_every_register(tmp_path: Path) -> None:
    layout = house(W)
    async with emulated(layout, tmp_path) as emu:
        result = await probe_meter(layout, emu.buses, find_meter(layout, "main-meter"))
    assert result.ok
    assert result.where == "/dev/ttyUSB0 9600 8E1 unit 12"
    names = [(r.name, r.address, r.unit) for r in result.registers]
    assert names == [
        ("serial-number", 129, ""),
        ("active-power-l1", 3053, "W"),
        ("active-power-total", 3059, "W"),
    ]
    assert all(isinstance(r.value, float) for r in result.registers)


async def test_egauge_over_tcp_with_an_identity_it_does_not_serve(tmp_path: Path) -> None:
    layout = house(DW1)
    async with emulated(layout, tmp_path) as emu:
        emu.source = _Watts({"hp-pwr": 2150.5, "elt1-pwr": 4500.0, "pump-pwr": 61.25})
        emu.update()
        result = await probe_meter(layout, emu.buses, find_meter(layout, "a.elt1"))
    values = {r.name: r.value for r in result.registers}
    assert values == {"hw-uid": None, "hp-pwr": 2150.5, "elt1-pwr": 4500.0, "pump-pwr": 61.25}
    hw_uid = result.registers[0]
    assert hw_uid.optional
    assert hw_uid.error is not None
    assert result.ok  # the layout names no hw_uid: the meter need not serve it
    assert result.note is None


async def test_a_register_the_meter_refuses_is_that_registers_error(tmp_path: Path) -> None:
    served = house(DW1)
    egauge = next(d for d in served.devices if d.name == "egauge")
    assert egauge.register_map is not None
    extra = egauge.register_map[0].model_copy(update={"name": "elt2-pwr", "address": 600})
    probed = with_device(served, "egauge", register_map=(*egauge.register_map, extra))
    async with emulated(served, tmp_path) as emu:
        result = await probe_meter(probed, emu.buses, find_meter(probed, "egauge"))
    by_name = {r.name: r for r in result.registers}
    assert [n for n, r in by_name.items() if not r.ok] == ["elt2-pwr"]
    error = by_name["elt2-pwr"].error
    assert error is not None
    assert error.startswith("egauge (modbus-tcp 127.0.0.1:5020 unit 1): Modbus exception 2")
    assert "check the register map" in error
    assert result.note is not None
    assert "read one by one" in result.note
    assert not result.ok


async def test_a_meter_that_is_not_the_one_the_layout_names(tmp_path: Path) -> None:
    served = with_device(house(DW1), "egauge", hw_uid="eGauge-right")
    probed = with_device(served, "egauge", hw_uid="eGauge-wrong")
    async with emulated(served, tmp_path) as emu:
        result = await probe_meter(probed, emu.buses, find_meter(probed, "egauge"))
    assert result.identity_error is not None
    assert "hw-uid reads 'eGauge-right' but the layout says 'eGauge-wrong'" in result.identity_error
    assert result.registers[0].value == "eGauge-right"
    assert not result.ok


async def test_a_silent_meter_is_one_line(tmp_path: Path) -> None:
    served = house(W)
    probed = with_device(served, "main-meter", bus={"timeout_s": 0.2})
    async with emulated(served, tmp_path) as emu:
        emu.rtu["/dev/ttyUSB0"].faults.silent = True
        with pytest.raises(ProbeError) as e:
            await probe_meter(probed, emu.buses, find_meter(probed, "main-meter"))
    message = str(e.value)
    assert message.startswith("main-meter (/dev/ttyUSB0 9600 8E1 unit 12): ")
    assert "unit id 12, 9600 baud, parity E" in message  # the fix hint
    assert "retrying" not in message


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("egauge2", "no meter 'egauge2' in dw1.isone.nh.orange.1 (did you mean 'egauge'?)"),
        (
            "tank-adc-1",
            "tank-adc-1 is not a Modbus meter (ncd__ads1115): try scada probe temp tank-adc-1",
        ),
    ],
)
def test_unknown_meters(name: str, message: str) -> None:
    with pytest.raises(ProbeError) as e:
        find_meter(house(DW1), name)
    assert str(e.value) == message


class _Watts:
    def __init__(self, watts: dict[str, float]) -> None:
        self._watts = watts

    def value(self, channel: object) -> float:
        return self._watts.get(getattr(channel, "register_name", "") or "", 20.0)

    def advance(self, dt_s: float) -> None:
        return None


# ------------------------------------------------------------------ I2C


def rows(scan_rows: Sequence[I2cRow]) -> list[tuple[int, tuple[str, ...], str]]:
    return [(r.address, r.devices, r.status) for r in scan_rows]


async def test_i2c_scan_matches_the_layout(tmp_path: Path) -> None:
    layout = house(HW25)
    with populated(layout, tmp_path) as buses:
        (bus1, bus3) = await probe_i2c(layout, buses)
    assert (bus1.bus, bus3.bus) == (1, 3)
    assert bus1.present == {0x20, 0x21, 0x48, 0x49, 0x4A, 0x4B}
    assert rows(bus3.rows) == [(0x48, ("pipe-adc-2",), "ok"), (0x49, ("pipe-adc-3",), "ok")]
    assert bus1.ok
    assert bus3.ok


async def test_i2c_missing_and_unexpected(tmp_path: Path) -> None:
    layout = house(W)
    with populated(layout, tmp_path) as buses:
        bus = buses.i2c_buses[1]
        bus.detach(0x48)  # the ADC board is not plugged in
        bus.attach(0x27, EmulatedMcp23008())  # a board with its jumpers set wrong
        (scan,) = await probe_i2c(layout, buses)
    assert rows(scan.rows) == [
        (0x20, ("relay-board",), "ok"),
        (0x27, (), "unexpected"),
        (0x48, ("air-adc",), "missing"),
    ]
    assert not scan.ok


async def test_i2c_an_address_held_by_a_kernel_driver(tmp_path: Path) -> None:
    layout = house(W)
    with populated(layout, tmp_path) as buses:
        buses.i2c_buses[1].attach(0x68, _Busy())  # an RTC the kernel's rtc driver holds
        (scan,) = await probe_i2c(layout, buses)
    assert scan.busy == {0x68}
    (rtc,) = [r for r in scan.rows if r.address == 0x68]
    assert (rtc.status, rtc.busy) == ("unexpected", True)


async def test_i2c_named_bus_and_missing_bus(tmp_path: Path) -> None:
    layout = house(W)
    with populated(layout, tmp_path) as buses:
        (scan,) = await probe_i2c(layout, buses, [2])
    assert scan.error == "i2c-2 (/dev/i2c-2): /dev/i2c-2 does not exist (emulated)"
    assert not scan.ok
    buses = EmulatedBuses()
    try:
        (scan,) = await probe_i2c(layout, buses)
    finally:
        buses.close()
    assert scan.error == (
        "i2c-1 (/dev/i2c-1): /dev/i2c-1 does not exist (emulated) — the layout puts "
        "air-adc, relay-board there"
    )


class _Busy:
    answering = True

    def on_write(self, data: Sequence[int]) -> None:
        raise OSError(errno.EBUSY, "Device or resource busy")

    def on_read(self, length: int) -> list[int]:
        raise OSError(errno.EBUSY, "Device or resource busy")
