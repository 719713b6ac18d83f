"""Every I2C, GPIO and 1-Wire device of the three houses, on populated emulated buses."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from scada.drivers.ads1115 import Ads1115Thermistors
from scada.drivers.base import RelayBoard, SensorDevice
from scada.drivers.ds18b20 import Ds18b20Probes
from scada.drivers.errors import DeviceGarbageError
from scada.drivers.gpio_relay import GpioRelayBoard
from scada.drivers.mcp23008 import Mcp23008RelayBoard
from scada.drivers.pcf8575 import Pcf8575RelayBoard
from scada.drivers.pulse_flow import PulseFlowMeter
from scada.layout import Layout, MakeModel, load_layout
from sim.buses.machine import EmulatedBuses
from tests.drivers.hw_support import ManualClock

HOUSES = Path(__file__).resolve().parents[2] / "input_data" / "houses"
MINE = {
    MakeModel.NCD_PR8_14_SPST,
    MakeModel.KRIDA_EMR16_I2C,
    MakeModel.GPIO_RELAY,
    MakeModel.ADAFRUIT_642,
    MakeModel.NCD_ADS1115,
    MakeModel.PULSE_FLOW_METER,
}


def build(
    layout: Layout, buses: EmulatedBuses, clock: ManualClock
) -> tuple[dict[str, SensorDevice], dict[str, RelayBoard]]:
    """What the driver factory does for these make/models: one driver per layout device."""
    sensors: dict[str, SensorDevice] = {}
    boards: dict[str, RelayBoard] = {}
    for dev in layout.devices:
        chans = [c for c in layout.channels if c.device == dev.name]
        match dev.make_model:
            case MakeModel.NCD_PR8_14_SPST:
                boards[dev.name] = Mcp23008RelayBoard(dev, layout.actuators, buses)
            case MakeModel.KRIDA_EMR16_I2C:
                boards[dev.name] = Pcf8575RelayBoard(dev, layout.actuators, buses)
            case MakeModel.GPIO_RELAY:
                boards[dev.name] = GpioRelayBoard(dev, layout.actuators, buses)
            case MakeModel.NCD_ADS1115:
                sensors[dev.name] = Ads1115Thermistors(dev, chans, buses)
            case MakeModel.ADAFRUIT_642:
                sensors[dev.name] = Ds18b20Probes(dev, chans, buses)
            case MakeModel.PULSE_FLOW_METER:
                sensors[dev.name] = PulseFlowMeter(dev, chans, buses, clock)
            case _:
                pass  # Modbus meters: not this suite's
    return sensors, boards


@pytest.fixture
def buses() -> Iterator[EmulatedBuses]:
    b = EmulatedBuses()
    yield b
    b.close()


@pytest.mark.parametrize("house", sorted(p.name for p in HOUSES.glob("*.json")))
async def test_every_device_of_the_house_opens_and_reads(
    house: str, buses: EmulatedBuses, tmp_path: Path
) -> None:
    layout = load_layout(HOUSES / house)
    buses.populate(layout, tmp_path / "w1")
    clock = ManualClock()
    sensors, boards = build(layout, buses, clock)
    assert set(sensors) | set(boards) == {d.name for d in layout.devices if d.make_model in MINE}
    devices: list[SensorDevice | RelayBoard] = [*sensors.values(), *boards.values()]
    for dev in devices:
        assert isinstance(dev, SensorDevice | RelayBoard)
        await dev.open()
    clock.advance(5.0)
    for name, sensor in sensors.items():
        chans = [c for c in layout.channels if c.device == name]
        values = await sensor.read([c.name for c in chans])
        for ch in chans:
            value = values[ch.name]
            assert not isinstance(value, DeviceGarbageError), value
            assert isinstance(value, float), value
            lo, hi = ch.plausible_range
            assert lo <= value <= hi, (ch.name, value)
    for act in layout.actuators:
        board = boards.get(act.device)
        if board is None:
            continue
        assert await board.read(act.board_channel) is False  # nothing energised at start
        await board.write(act.board_channel, energized=True)
        assert await board.read(act.board_channel) is True
    for dev in devices:
        await dev.close()
