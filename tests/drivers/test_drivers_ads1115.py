"""The ADS1115 thermistor driver against the emulated ADC, checked against the inverse model."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import pytest

from scada.drivers.ads1115 import (
    CONFIG,
    Ads1115Thermistors,
    config_word,
    ohms_to_celsius,
    raw_to_volts,
)
from scada.drivers.errors import DeviceGarbageError, DeviceTimeoutError, DriverError
from scada.layout import Channel, MakeModel, Thermistor
from sim.buses.i2c import EmulatedAds1115
from sim.buses.machine import EmulatedBuses
from sim.buses.thermistor import divider_volts, ohms_at
from tests.drivers.hw_support import i2c_device, temp_channel

ADC = i2c_device("tank-adc", MakeModel.NCD_ADS1115, address=0x48)
BETA = Thermistor()  # 10 kΩ, β 3977, R_d 10 kΩ, V_s 4.85 V (TSnap1)
NCD_2022 = Thermistor(divider_ohm=8200.0, supply_v=5.0)
SH = Thermistor(beta=None, steinhart_hart=(1.009249522e-3, 2.378405444e-4, 2.019202697e-7))


def channels(th: Thermistor) -> list[Channel]:
    return [temp_channel(f"t{i}", ADC, ain=i, thermistor=th) for i in range(4)]


@pytest.fixture
def buses() -> EmulatedBuses:
    return EmulatedBuses()


@pytest.fixture
def chip(buses: EmulatedBuses) -> EmulatedAds1115:
    return buses.add_i2c(1).attach(0x48, EmulatedAds1115())


@pytest.fixture
async def adc(buses: EmulatedBuses, chip: EmulatedAds1115) -> AsyncIterator[Ads1115Thermistors]:
    a = Ads1115Thermistors(ADC, channels(BETA), buses)
    await a.open()
    yield a
    await a.close()


def test_config_word_for_ain2_at_6v144_and_128_sps() -> None:
    # OS | MUX=110 (AIN2 vs GND) | PGA=000 | single-shot | DR=100 | comparator off
    assert config_word(2) == 0xE183
    assert config_word(0, 4.096) == 0xC383
    assert raw_to_volts(0x7FFF, 6.144) == pytest.approx(6.144, abs=0.001)
    assert raw_to_volts(0xFFFF, 6.144) < 0


@pytest.mark.parametrize("th", [BETA, NCD_2022, SH], ids=["beta", "beta-ncd-2022", "steinhart"])
async def test_conversion_within_0_05_c_from_minus_20_to_90(
    buses: EmulatedBuses, chip: EmulatedAds1115, th: Thermistor
) -> None:
    adc = Ads1115Thermistors(ADC, channels(th), buses)
    await adc.open()
    worst = 0.0
    for tenth in range(-200, 901, 5):
        t = tenth / 10
        chip.set_temperature(1, t, th)
        got = (await adc.read(["t1"]))["t1"]
        assert isinstance(got, float), got
        worst = max(worst, abs(got - t))
    assert worst <= 0.05


def test_the_models_invert_each_other() -> None:
    for th in (BETA, SH):
        for t in (-20.0, 0.0, 25.0, 60.0, 90.0):
            assert ohms_to_celsius(ohms_at(t, th), th) == pytest.approx(t, abs=1e-9)
    assert ohms_at(25.0, BETA) == pytest.approx(10_000.0)
    assert divider_volts(25.0, BETA) == pytest.approx(4.85 / 2)


async def test_channels_read_in_sequence_with_their_own_inputs(
    adc: Ads1115Thermistors, chip: EmulatedAds1115
) -> None:
    for ain, t in enumerate((10.0, 20.0, 30.0, 40.0)):
        chip.set_temperature(ain, t, BETA)
    got = await adc.read(["t0", "t1", "t2", "t3"])
    assert [round(v, 1) for v in got.values() if isinstance(v, float)] == [10, 20, 30, 40]
    assert chip.conversions == 4


async def test_open_and_short_thermistors_are_channel_errors(
    adc: Ads1115Thermistors, chip: EmulatedAds1115
) -> None:
    chip.set_volts(0, 4.84)  # probe unplugged: the node sits at the supply
    chip.set_volts(1, 0.0)  # probe shorted
    chip.set_temperature(2, 55.0, BETA)
    got = await adc.read(["t0", "t1", "t2"])
    assert isinstance(got["t0"], DeviceGarbageError)
    assert "open thermistor" in got["t0"].reason
    assert got["t0"].device == "tank-adc"
    assert isinstance(got["t1"], DeviceGarbageError)
    assert "shorted thermistor" in got["t1"].reason
    assert got["t2"] == pytest.approx(55.0, abs=0.05)


async def test_no_answer_fails_the_device(adc: Ads1115Thermistors, chip: EmulatedAds1115) -> None:
    chip.answering = False
    with pytest.raises(DeviceTimeoutError, match="0x48 on i2c-1"):
        await adc.read(["t0"])


async def test_a_conversion_that_never_finishes_is_a_timeout(
    adc: Ads1115Thermistors, chip: EmulatedAds1115
) -> None:
    chip.busy = True
    with pytest.raises(DeviceTimeoutError, match="AIN0 conversion never finished"):
        await adc.read(["t0"])


async def test_a_chip_that_ignores_its_config_is_garbage(
    adc: Ads1115Thermistors, chip: EmulatedAds1115
) -> None:
    chip.ignore_writes = True
    chip.regs[CONFIG] = 0x8583
    with pytest.raises(DeviceGarbageError, match="is this an ADS1115"):
        await adc.read(["t2"])


async def test_wrong_values_come_through_as_the_physics_says(
    buses: EmulatedBuses,
) -> None:
    physics = {0: 31.0, 1: 42.0, 2: 53.0, 3: 64.0}
    buses.add_i2c(1).attach(
        0x48, EmulatedAds1115(volts=lambda ain: divider_volts(physics[ain], BETA))
    )
    adc = Ads1115Thermistors(ADC, channels(BETA), buses)
    assert (await adc.read(["t3"]))["t3"] == pytest.approx(64.0, abs=0.05)
    physics[3] = 70.0
    assert (await adc.read(["t3"]))["t3"] == pytest.approx(70.0, abs=0.05)


async def test_offset_fault_reads_wrong_but_plausible(
    adc: Ads1115Thermistors, chip: EmulatedAds1115
) -> None:
    chip.set_temperature(0, 40.0, BETA)
    chip.offset_v = -0.2
    got = (await adc.read(["t0"]))["t0"]
    assert isinstance(got, float)
    assert got > 43.0  # a lower node voltage is a hotter thermistor


async def test_real_bus_path_waits_the_conversion(chip: EmulatedAds1115) -> None:
    buses = EmulatedBuses(emulated=False)
    buses.add_i2c(1).attach(0x48, chip)
    adc = Ads1115Thermistors(ADC, channels(BETA), buses)
    chip.set_temperature(3, 21.5, BETA)
    start = time.perf_counter()
    got = await adc.read(["t3"])
    assert time.perf_counter() - start >= adc.conversion_s
    assert got["t3"] == pytest.approx(21.5, abs=0.05)


async def test_unknown_channel_and_bad_configuration(adc: Ads1115Thermistors) -> None:
    got = await adc.read(["nope"])
    assert isinstance(got["nope"], DriverError)
    with pytest.raises(ValueError, match=r"cannot see the 4\.85 V supply"):
        Ads1115Thermistors(ADC, channels(BETA), EmulatedBuses(), full_scale_v=4.096)
    with pytest.raises(ValueError, match="device_channel 0-3"):
        Ads1115Thermistors(ADC, [temp_channel("x", ADC)], EmulatedBuses())
