"""GPIO relays and pulse flow meters against gpiozero mock pins."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from gpiozero.exc import BadPinFactory

from scada.drivers.errors import (
    BusMissingError,
    DeviceRefusedError,
    DriverError,
    NotYetMeasuredError,
    ReadBackMismatchError,
)
from scada.drivers.gpio_relay import GpioRelayBoard
from scada.drivers.pulse_flow import PulseFlowMeter
from scada.layout import MakeModel
from sim.buses.machine import EmulatedBuses
from tests.drivers.hw_support import ManualClock, flow_channel, gpio_device, relay

DEV = gpio_device()
HIGH_PIN, LOW_PIN = 5, 6
ACTUATORS = [relay(DEV, HIGH_PIN), relay(DEV, LOW_PIN, active_low=True)]


@pytest.fixture
def buses() -> Iterator[EmulatedBuses]:
    b = EmulatedBuses()
    yield b
    b.close()


@pytest.fixture
async def board(buses: EmulatedBuses) -> AsyncIterator[GpioRelayBoard]:
    b = GpioRelayBoard(DEV, ACTUATORS, buses)
    await b.open()
    yield b
    await b.close()


async def test_active_high_and_active_low(board: GpioRelayBoard, buses: EmulatedBuses) -> None:
    await board.write(HIGH_PIN, energized=True)
    await board.write(LOW_PIN, energized=True)
    assert buses.gpio.level(HIGH_PIN) is True
    assert buses.gpio.level(LOW_PIN) is False
    assert await board.read(HIGH_PIN) is True
    assert await board.read(LOW_PIN) is True
    await board.write(LOW_PIN, energized=False)
    assert buses.gpio.level(LOW_PIN) is True
    assert await board.read(LOW_PIN) is False


async def test_open_leaves_the_pins_as_they_are(buses: EmulatedBuses) -> None:
    # A restart: the active-low relay was energised (pin low) and the other one released.
    pin = buses.gpio.pin(LOW_PIN)
    pin.function = "output"
    pin.state = False
    pin.writes.clear()
    b = GpioRelayBoard(DEV, ACTUATORS, buses)
    await b.open()
    await b.open()
    assert pin.writes == []
    assert buses.gpio.pin(HIGH_PIN).writes == []
    assert await b.read(LOW_PIN) is True
    assert await b.read(HIGH_PIN) is False
    await b.close()


async def test_stuck_pin_is_a_read_back_mismatch(
    board: GpioRelayBoard, buses: EmulatedBuses
) -> None:
    buses.gpio.stick(HIGH_PIN, level=False)
    with pytest.raises(ReadBackMismatchError) as err:
        await board.write(HIGH_PIN, energized=True)
    assert err.value.device == "gpio-relays"
    assert await board.read(HIGH_PIN) is False


async def test_pin_library_errors_are_driver_errors(
    board: GpioRelayBoard, buses: EmulatedBuses
) -> None:
    buses.gpio.kill(HIGH_PIN)
    with pytest.raises(DeviceRefusedError, match="GPIO5"):
        await board.write(HIGH_PIN, energized=True)
    with pytest.raises(DeviceRefusedError):
        await board.read(HIGH_PIN)
    with pytest.raises(DriverError, match="GPIO7 is not a relay"):
        await board.write(7, energized=True)


class _NoGpio(EmulatedBuses):
    def gpio_pin_factory(self) -> Any:
        raise BadPinFactory("Unable to load any default pin factory!")


async def test_no_gpio_on_this_machine_is_a_missing_bus() -> None:
    buses = _NoGpio()
    with pytest.raises(BusMissingError, match=r"^gpio-relays: no GPIO pins on this machine"):
        await GpioRelayBoard(DEV, ACTUATORS, buses).open()
    buses.close()


# ------------------------------------------------------------------ pulse flow

FLOW_DEV = gpio_device("flow-meter", MakeModel.PULSE_FLOW_METER, pulses_per_gallon=13.37)
FLOW_PIN = 17


@pytest.fixture
async def meter(buses: EmulatedBuses) -> AsyncIterator[tuple[PulseFlowMeter, ManualClock]]:
    clock = ManualClock()
    m = PulseFlowMeter(FLOW_DEV, [flow_channel("dist-flow", FLOW_DEV, FLOW_PIN)], buses, clock)
    await m.open()
    yield m, clock
    await m.close()


async def test_gallons_per_minute_from_a_pulse_train(
    meter: tuple[PulseFlowMeter, ManualClock], buses: EmulatedBuses
) -> None:
    m, clock = meter
    buses.gpio.pulse_train(FLOW_PIN, 2674)  # 200 gallons at 13.37 pulses per gallon
    clock.advance(120.0)
    assert (await m.read(["dist-flow"]))["dist-flow"] == pytest.approx(100.0)
    buses.gpio.pulse_train(FLOW_PIN, 267)  # 19.97 gallons
    clock.advance(30.0)
    assert (await m.read(["dist-flow"]))["dist-flow"] == pytest.approx(267 / 13.37 * 2)
    clock.advance(60.0)
    assert (await m.read(["dist-flow"]))["dist-flow"] == 0.0


async def test_one_second_reads_of_a_slow_reed_meter_are_evened_out_over_the_window(
    meter: tuple[PulseFlowMeter, ManualClock], buses: EmulatedBuses
) -> None:
    """1 gpm on a 13.37-pulse/gal reed meter is a pulse every 4.5 s: read every second, a
    per-interval rate would read 0 or 13.4 gpm. Over the window it stays near 1 gpm."""
    m, clock = meter
    due = 0.0
    readings = []
    for second in range(1, 121):
        while due <= second:
            buses.gpio.pulse_train(FLOW_PIN, 1)
            due += 60.0 / 13.37
        clock.advance(1.0)
        got = (await m.read(["dist-flow"]))["dist-flow"]
        assert isinstance(got, float)
        if second > 20:
            readings.append(got)
    assert min(readings) > 0.5
    assert max(readings) < 1.6
    assert sum(readings) / len(readings) == pytest.approx(1.0, rel=0.1)


async def test_a_bulk_pulse_train_counts_like_its_edges(
    meter: tuple[PulseFlowMeter, ManualClock], buses: EmulatedBuses
) -> None:
    """The simulator hands whole trains to the driver's counter; the rate is the same."""
    m, clock = meter
    buses.gpio.pulse_train(FLOW_PIN, 2000, bulk=True)
    buses.gpio.pulse_train(FLOW_PIN, 674)
    clock.advance(120.0)
    assert (await m.read(["dist-flow"]))["dist-flow"] == pytest.approx(100.0)
    await m.close()
    assert buses.gpio.pin(FLOW_PIN).pulse_counter is None  # a closed meter counts nothing


async def test_no_interval_yet_is_not_a_reading(
    meter: tuple[PulseFlowMeter, ManualClock], buses: EmulatedBuses
) -> None:
    m, clock = meter
    got = (await m.read(["dist-flow"]))["dist-flow"]
    assert isinstance(got, NotYetMeasuredError)
    buses.gpio.pulse_train(FLOW_PIN, 1337)
    clock.advance(60.0)
    assert (await m.read(["dist-flow"]))["dist-flow"] == pytest.approx(100.0)
    assert (await m.read(["dist-flow"]))["dist-flow"] == pytest.approx(100.0)  # same instant


async def test_pulses_before_open_do_not_count(buses: EmulatedBuses) -> None:
    clock = ManualClock()
    m = PulseFlowMeter(FLOW_DEV, [flow_channel("f", FLOW_DEV, FLOW_PIN)], buses, clock)
    buses.gpio.pulse_train(FLOW_PIN, 500)
    await m.open()
    clock.advance(60.0)
    assert (await m.read(["f"]))["f"] == 0.0
    await m.close()


def test_a_flow_meter_needs_pulses_per_gallon(buses: EmulatedBuses) -> None:
    dev = gpio_device("flow-meter", MakeModel.PULSE_FLOW_METER)
    with pytest.raises(ValueError, match="pulses_per_gallon"):
        PulseFlowMeter(dev, [], buses, ManualClock())
