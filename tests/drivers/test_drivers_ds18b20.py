"""The DS18B20 driver against an emulated 1-Wire sysfs tree."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from scada.drivers.buses import SystemBuses
from scada.drivers.ds18b20 import Ds18b20Probes, parse_w1_slave
from scada.drivers.errors import (
    BusMissingError,
    DeviceGarbageError,
    DeviceTimeoutError,
    DriverError,
)
from scada.layout import Device, MakeModel
from scada.layout.model import OneWireBus
from sim.buses.machine import EmulatedBuses
from sim.buses.one_wire import OneWireTree, dallas_crc8, scratchpad
from tests.drivers.hw_support import one_wire_device, temp_channel

DEV = one_wire_device()
TOP, BOTTOM = "28-000000041d3f", "28-000000033ffe"
CHANNELS = [
    temp_channel("tank-top", DEV, hw_id=TOP),
    temp_channel("tank-bottom", DEV, hw_id=BOTTOM),
]
KERNEL_SAMPLE = "72 01 4b 46 7f ff 0e 10 57 : crc=57 YES\n72 01 4b 46 7f ff 0e 10 57 t=23125\n"


@pytest.fixture(params=[True, False], ids=["inline", "threads"])
def buses(request: pytest.FixtureRequest, tmp_path: Path) -> EmulatedBuses:
    return EmulatedBuses(emulated=request.param, one_wire_root=tmp_path / "w1")


@pytest.fixture
def tree(buses: EmulatedBuses) -> OneWireTree:
    assert buses.one_wire is not None
    buses.one_wire.set_temperature(TOP, 48.5)
    buses.one_wire.set_temperature(BOTTOM, 31.0)
    return buses.one_wire


@pytest.fixture
async def probes(buses: EmulatedBuses, tree: OneWireTree) -> AsyncIterator[Ds18b20Probes]:
    p = Ds18b20Probes(DEV, CHANNELS, buses)
    await p.open()
    yield p
    await p.close()


def test_the_emulator_writes_what_the_kernel_writes() -> None:
    assert dallas_crc8([0x72, 0x01, 0x4B, 0x46, 0x7F, 0xFF, 0x0E, 0x10]) == 0x57
    assert dallas_crc8(scratchpad(0x0172)) == 0  # a good scratchpad checks to zero
    assert parse_w1_slave(KERNEL_SAMPLE) == 23.125


async def test_readings(probes: Ds18b20Probes, tree: OneWireTree) -> None:
    assert await probes.read(["tank-top", "tank-bottom"]) == {
        "tank-top": 48.5,
        "tank-bottom": 31.0,
    }
    tree.set_temperature(TOP, -10.0625)  # negative, 1/16 °C steps
    tree.set_temperature(BOTTOM, 85.0625)  # hot, but not the power-on value
    assert await probes.read(["tank-top", "tank-bottom"]) == {
        "tank-top": -10.062,  # the kernel prints whole milli-°C, truncated
        "tank-bottom": 85.062,
    }


async def test_crc_error(probes: Ds18b20Probes, tree: OneWireTree) -> None:
    tree.crc_error(TOP)
    got = await probes.read(["tank-top", "tank-bottom"])
    assert isinstance(got["tank-top"], DeviceGarbageError)
    assert "CRC error" in got["tank-top"].reason
    assert TOP in got["tank-top"].reason
    assert got["tank-bottom"] == 31.0  # one bad probe is that channel's problem only


async def test_85_c_power_on_value_is_an_error(probes: Ds18b20Probes, tree: OneWireTree) -> None:
    tree.power_on(BOTTOM)
    got = (await probes.read(["tank-bottom"]))["tank-bottom"]
    assert isinstance(got, DeviceGarbageError)
    assert "85 °C power-on" in got.reason


async def test_all_zero_is_an_error(probes: Ds18b20Probes, tree: OneWireTree) -> None:
    tree.all_zero(BOTTOM)
    got = (await probes.read(["tank-bottom"]))["tank-bottom"]
    assert isinstance(got, DeviceGarbageError)
    assert "all-zero" in got.reason
    tree.set_temperature(BOTTOM, 0.0)  # a real 0 °C is a reading
    assert (await probes.read(["tank-bottom"]))["tank-bottom"] == 0.0


async def test_missing_probe_is_not_on_the_bus(probes: Ds18b20Probes, tree: OneWireTree) -> None:
    tree.remove(TOP)
    got = (await probes.read(["tank-top"]))["tank-top"]
    assert isinstance(got, DeviceTimeoutError)
    assert got.reason == f"tank-top: sensor {TOP} not on the bus"
    tree.set_temperature(TOP, 50.0)  # back on the bus
    assert (await probes.read(["tank-top"]))["tank-top"] == 50.0


async def test_short_and_garbled_files(probes: Ds18b20Probes, tree: OneWireTree) -> None:
    tree.truncate(TOP)
    got = (await probes.read(["tank-top"]))["tank-top"]
    assert isinstance(got, DeviceGarbageError)
    assert "short read" in got.reason
    tree.write_raw(TOP, "00 : crc=00 YES\nno temperature here\n")
    got = (await probes.read(["tank-top"]))["tank-top"]
    assert isinstance(got, DeviceGarbageError)
    assert "no t=" in got.reason
    tree.write_raw(TOP, KERNEL_SAMPLE.replace("t=23125", "t=200000"))
    got = (await probes.read(["tank-top"]))["tank-top"]
    assert isinstance(got, DeviceGarbageError)
    assert "outside" in got.reason


async def test_unknown_channel(probes: Ds18b20Probes) -> None:
    got = await probes.read(["nope"])
    assert isinstance(got["nope"], DriverError)


async def test_a_missing_1_wire_bus_names_the_device(tmp_path: Path) -> None:
    missing = tmp_path / "w1" / "devices"
    dev = Device(
        name="probes", make_model=MakeModel.ADAFRUIT_642, bus=OneWireBus(sysfs_root=str(missing))
    )
    probes = Ds18b20Probes(dev, [], SystemBuses())
    with pytest.raises(BusMissingError) as err:
        await probes.open()
    assert str(err.value).startswith(f"probes: {missing} does not exist")
    assert "\n" not in str(err.value)
    with pytest.raises(BusMissingError):
        await Ds18b20Probes(dev, [], EmulatedBuses()).read(["x"])


def test_channels_need_a_hw_id() -> None:
    with pytest.raises(ValueError, match="needs hw_id"):
        Ds18b20Probes(DEV, [temp_channel("x", DEV)], EmulatedBuses())
