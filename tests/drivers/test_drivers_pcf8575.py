"""The Krida (PCF8575) relay board driver against the emulated port expander."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator

import pytest

from scada.drivers.errors import DeviceTimeoutError, DriverError, ReadBackMismatchError
from scada.drivers.pcf8575 import KRIDA_EMR16_PINS, Pcf8575RelayBoard
from scada.layout import MakeModel
from sim.buses.i2c import EmulatedPcf8575
from sim.buses.machine import EmulatedBuses
from tests.drivers.hw_support import i2c_device, relay

BOARD = i2c_device("relays-1", MakeModel.KRIDA_EMR16_I2C, address=0x20)
ACTUATORS = [relay(BOARD, ch, active_low=True) for ch in range(16)]


@pytest.fixture(params=[True, False], ids=["inline", "threads"])
def buses(request: pytest.FixtureRequest) -> EmulatedBuses:
    return EmulatedBuses(emulated=request.param)


@pytest.fixture
def chip(buses: EmulatedBuses) -> EmulatedPcf8575:
    return buses.add_i2c(1).attach(0x20, EmulatedPcf8575())


@pytest.fixture
async def board(buses: EmulatedBuses, chip: EmulatedPcf8575) -> AsyncIterator[Pcf8575RelayBoard]:
    b = Pcf8575RelayBoard(BOARD, ACTUATORS, buses)
    await b.open()
    yield b
    await b.close()


def test_relays_one_to_eight_run_in_reverse_pin_order() -> None:
    assert KRIDA_EMR16_PINS[0] == 7  # relay 1 is P07
    assert KRIDA_EMR16_PINS[7] == 0  # relay 8 is P00
    assert KRIDA_EMR16_PINS[8] == 8  # relay 9 is P10
    assert KRIDA_EMR16_PINS[15] == 15  # relay 16 is P17
    assert sorted(KRIDA_EMR16_PINS) == list(range(16))


async def test_open_only_reads(board: Pcf8575RelayBoard, chip: EmulatedPcf8575) -> None:
    assert chip.latch == 0xFFFF
    assert chip.history == [0xFFFF]
    assert [await board.read(ch) for ch in range(16)] == [False] * 16


async def test_restart_reads_the_relays_as_they_are(
    buses: EmulatedBuses, chip: EmulatedPcf8575
) -> None:
    chip.latch = 0xFFFF & ~(1 << 7) & ~(1 << 9)  # relays 1 and 10 energised before the restart
    chip.history = [chip.port]
    b = Pcf8575RelayBoard(BOARD, ACTUATORS, buses)
    await b.open()
    assert chip.history == [chip.port]
    on = [ch for ch in range(16) if await b.read(ch)]
    assert on == [0, 9]


async def test_energise_pulls_the_mapped_pin_low(
    board: Pcf8575RelayBoard, chip: EmulatedPcf8575
) -> None:
    await board.write(0, energized=True)
    assert chip.pin(7) is False
    assert chip.port == 0xFFFF & ~(1 << 7)
    await board.write(8, energized=True)
    assert chip.pin(8) is False
    assert await board.read(0) is True
    assert await board.read(8) is True
    await board.write(0, energized=False)
    assert chip.pin(7) is True
    assert await board.read(8) is True


async def test_reading_the_whole_board_is_one_transaction(
    board: Pcf8575RelayBoard, chip: EmulatedPcf8575, buses: EmulatedBuses
) -> None:
    await board.write(3, energized=True)
    await board.write(12, energized=True)
    before = buses.i2c_buses[1].transactions
    coils = await board.read_all(range(16))
    assert buses.i2c_buses[1].transactions == before + 1
    assert coils == {ch: await board.read(ch) for ch in range(16)}
    assert [ch for ch, on in coils.items() if on] == [3, 12]
    with pytest.raises(DriverError, match="relay 16 is not on this board"):
        await board.read_all([0, 16])


async def test_concurrent_toggles_on_two_boards_never_lose_a_relay(
    buses: EmulatedBuses, chip: EmulatedPcf8575
) -> None:
    dev2 = i2c_device("relays-2", MakeModel.KRIDA_EMR16_I2C, address=0x21)
    chip2 = buses.add_i2c(1).attach(0x21, EmulatedPcf8575())
    buses.add_i2c(1).latency_s = 0.0001
    one = Pcf8575RelayBoard(BOARD, ACTUATORS, buses)
    two = Pcf8575RelayBoard(dev2, [relay(dev2, ch, active_low=True) for ch in range(16)], buses)
    rng = random.Random(3)
    ops = [(rng.choice((one, two)), rng.randrange(16), rng.random() < 0.5) for _ in range(100)]
    await asyncio.gather(*(b.write(ch, energized=on) for b, ch, on in ops))
    want = {(b.name, ch): on for b, ch, on in ops}
    for (name, ch), on in want.items():
        target = chip if name == "relays-1" else chip2
        assert target.pin(KRIDA_EMR16_PINS[ch]) is (not on), (name, ch)


async def test_stuck_pin_is_a_read_back_mismatch(
    board: Pcf8575RelayBoard, chip: EmulatedPcf8575
) -> None:
    chip.stuck[KRIDA_EMR16_PINS[4]] = True  # relay 5 cannot be energised
    with pytest.raises(ReadBackMismatchError, match=r"relay 4 \(pin P03\) was energized"):
        await board.write(4, energized=True)
    assert await board.read(4) is False


async def test_no_answer_is_a_timeout(board: Pcf8575RelayBoard, chip: EmulatedPcf8575) -> None:
    chip.answering = False
    with pytest.raises(DeviceTimeoutError) as err:
        await board.write(3, energized=True)
    assert err.value.device == "relays-1"
    assert "0x20 on i2c-1" in err.value.reason


async def test_relays_off_the_board_are_errors(board: Pcf8575RelayBoard) -> None:
    with pytest.raises(DriverError, match="relay 16 is not on this board"):
        await board.write(16, energized=True)


async def test_a_channel_without_an_actuator_is_active_low(
    buses: EmulatedBuses, chip: EmulatedPcf8575
) -> None:
    b = Pcf8575RelayBoard(BOARD, [], buses)
    await b.write(15, energized=True)
    assert chip.pin(15) is False
