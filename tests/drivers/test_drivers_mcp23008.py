"""The MCP23008 relay board driver against the emulated chip on an emulated I2C bus."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator

import pytest

from scada.drivers.buses import SystemBuses
from scada.drivers.errors import (
    BusMissingError,
    DeviceGarbageError,
    DeviceTimeoutError,
    DriverError,
    ReadBackMismatchError,
)
from scada.drivers.i2c_io import bus_lock
from scada.drivers.mcp23008 import GPIO, IODIR, OLAT, Mcp23008RelayBoard
from sim.buses.i2c import EmulatedMcp23008
from sim.buses.machine import EmulatedBuses
from tests.drivers.hw_support import i2c_device, relay

BOARD = i2c_device()
ACTUATORS = [relay(BOARD, ch) for ch in range(4)]


@pytest.fixture(params=[True, False], ids=["inline", "threads"])
def buses(request: pytest.FixtureRequest) -> EmulatedBuses:
    """Both code paths: inline calls (emulated) and the real-bus path through worker threads."""
    return EmulatedBuses(emulated=request.param)


@pytest.fixture
def chip(buses: EmulatedBuses) -> EmulatedMcp23008:
    return buses.add_i2c(1).attach(0x20, EmulatedMcp23008())


@pytest.fixture
async def board(buses: EmulatedBuses, chip: EmulatedMcp23008) -> AsyncIterator[Mcp23008RelayBoard]:
    b = Mcp23008RelayBoard(BOARD, ACTUATORS, buses)
    await b.open()
    yield b
    await b.close()


async def test_open_after_power_up_makes_outputs_without_energizing(
    buses: EmulatedBuses, chip: EmulatedMcp23008
) -> None:
    b = Mcp23008RelayBoard(BOARD, ACTUATORS, buses)
    await b.open()
    assert chip.regs[IODIR] == 0xF0
    assert chip.regs[OLAT] == 0x00
    for driven in chip.history:
        assert all(level is not True for level in driven[:4]), chip.history
    assert [await b.read(ch) for ch in range(4)] == [False] * 4


async def test_restart_keeps_the_latch_and_never_pulses(
    buses: EmulatedBuses, chip: EmulatedMcp23008
) -> None:
    chip.regs[IODIR] = 0xF0
    chip.regs[OLAT] = 0b0101  # relays 0 and 2 on before the SCADA restarted
    chip.history = [chip.driven]
    b = Mcp23008RelayBoard(BOARD, ACTUATORS, buses)
    await b.open()
    await b.open()  # idempotent
    assert chip.history == [chip.driven]  # nothing the chip drives ever changed
    assert [await b.read(ch) for ch in range(4)] == [True, False, True, False]


async def test_power_up_latches_active_low_relays_released_before_outputs(
    buses: EmulatedBuses, chip: EmulatedMcp23008
) -> None:
    acts = [relay(BOARD, 0), relay(BOARD, 1, active_low=True)]
    b = Mcp23008RelayBoard(BOARD, acts, buses)
    await b.open()
    assert chip.regs[OLAT] == 0b0010  # GP1 high = its relay released
    assert all(driven[1] is not False for driven in chip.history), chip.history
    assert await b.read(1) is False
    await b.write(1, energized=True)
    assert chip.pin(1) is False
    assert await b.read(1) is True


async def test_write_and_read_back(board: Mcp23008RelayBoard, chip: EmulatedMcp23008) -> None:
    await board.write(2, energized=True)
    assert chip.regs[OLAT] == 0b0100
    assert chip.pin(2)
    assert await board.read(2) is True
    await board.write(2, energized=True)  # already there: no write needed
    await board.write(2, energized=False)
    assert not chip.pin(2)
    assert await board.read(2) is False


async def test_reading_the_whole_board_reads_the_pins_once(
    board: Mcp23008RelayBoard, chip: EmulatedMcp23008
) -> None:
    await board.write(1, energized=True)
    await board.write(3, energized=True)
    assert await board.read_all([0, 1, 2, 3]) == {0: False, 1: True, 2: False, 3: True}
    assert await board.read_all([3]) == {3: await board.read(3)}


async def test_concurrent_toggles_never_lose_a_relay(
    buses: EmulatedBuses, chip: EmulatedMcp23008
) -> None:
    # Two driver objects for the same board (defect 3) and a second board on the same bus.
    other_dev = i2c_device("relay-board-2", address=0x21)
    other_chip = buses.add_i2c(1).attach(0x21, EmulatedMcp23008())
    buses.add_i2c(1).latency_s = 0.0001  # in worker threads, transactions could interleave
    a = Mcp23008RelayBoard(BOARD, ACTUATORS, buses)
    b = Mcp23008RelayBoard(BOARD, ACTUATORS, buses)
    c = Mcp23008RelayBoard(other_dev, [relay(other_dev, ch) for ch in range(4)], buses)
    for d in (a, b, c):
        await d.open()
    rng = random.Random(7)
    ops = [(rng.choice((a, b, c)), rng.randrange(4), rng.random() < 0.5) for _ in range(100)]
    await asyncio.gather(*(d.write(ch, energized=on) for d, ch, on in ops))
    want = {(d.name, ch): on for d, ch, on in ops}  # the lock is FIFO: the last write wins
    for (name, ch), on in want.items():
        target = other_chip if name == "relay-board-2" else chip
        assert target.pin(ch) is on, (name, ch)


async def test_stuck_bit_is_a_read_back_mismatch(
    board: Mcp23008RelayBoard, chip: EmulatedMcp23008
) -> None:
    chip.stuck[3] = False
    with pytest.raises(ReadBackMismatchError) as err:
        await board.write(3, energized=True)
    assert err.value.device == "relay-board"
    assert "relay 3" in err.value.reason
    assert await board.read(3) is False
    await board.write(1, energized=True)  # the other relays still work
    assert await board.read(1) is True


async def test_no_answer_is_a_timeout_naming_the_device(
    board: Mcp23008RelayBoard, chip: EmulatedMcp23008
) -> None:
    chip.answering = False
    with pytest.raises(DeviceTimeoutError) as err:
        await board.write(0, energized=True)
    assert err.value.device == "relay-board"
    assert "0x20 on i2c-1" in err.value.reason
    assert "Remote I/O error" in err.value.reason
    with pytest.raises(DeviceTimeoutError):
        await board.read(0)
    chip.answering = True
    await board.write(0, energized=True)
    assert await board.read(0) is True


async def test_empty_address_is_a_timeout(buses: EmulatedBuses) -> None:
    buses.add_i2c(1)
    b = Mcp23008RelayBoard(BOARD, ACTUATORS, buses)
    with pytest.raises(DeviceTimeoutError, match="no answer at 0x20 on i2c-1"):
        await b.open()


async def test_a_chip_that_ignores_iodir_is_garbage(
    buses: EmulatedBuses, chip: EmulatedMcp23008
) -> None:
    chip.ignore_writes = True
    b = Mcp23008RelayBoard(BOARD, ACTUATORS, buses)
    with pytest.raises(DeviceGarbageError, match=r"IODIR reads 0xff after writing 0xf0"):
        await b.open()


async def test_a_board_reset_is_set_up_again_without_a_pulse(
    board: Mcp23008RelayBoard, chip: EmulatedMcp23008
) -> None:
    await board.write(0, energized=True)
    chip.power_cycle()  # the board lost its supply: every pin an input, relays released
    assert await board.read(0) is False  # read-back shows the truth, and set-up ran again
    assert chip.regs[IODIR] == 0xF0
    assert all(driven[0] is not True for driven in chip.history)
    await board.write(0, energized=True)
    assert chip.pin(0)


async def test_relays_off_the_board_are_errors(board: Mcp23008RelayBoard) -> None:
    with pytest.raises(DriverError, match="relay 4 is not on this board"):
        await board.write(4, energized=True)
    with pytest.raises(ValueError, match="relay 6 is not on this board"):
        Mcp23008RelayBoard(BOARD, [relay(BOARD, 6)], EmulatedBuses())


async def test_a_missing_i2c_bus_is_one_clear_line() -> None:
    dev = i2c_device(bus=29)
    b = Mcp23008RelayBoard(dev, [relay(dev, 0)], SystemBuses())
    with pytest.raises(BusMissingError) as err:
        await b.open()
    text = str(err.value)
    assert "\n" not in text
    assert text.startswith("relay-board: /dev/i2c-29 does not exist")
    emulated = Mcp23008RelayBoard(dev, [relay(dev, 0)], EmulatedBuses())
    with pytest.raises(BusMissingError, match=r"^relay-board: /dev/i2c-29 does not exist"):
        await emulated.open()


def test_register_addresses_match_the_datasheet() -> None:
    assert (IODIR, GPIO, OLAT) == (0x00, 0x09, 0x0A)


async def test_a_cancelled_switch_keeps_the_bus_locked_until_its_thread_is_done() -> None:
    buses = EmulatedBuses(emulated=False)
    i2c = buses.add_i2c(1)
    chip = i2c.attach(0x20, EmulatedMcp23008())
    b = Mcp23008RelayBoard(BOARD, ACTUATORS, buses)
    await b.open()
    i2c.latency_s = 0.05  # a slow bus: the switch's four transactions take ~200 ms
    before = i2c.transactions
    first = asyncio.create_task(b.write(0, energized=True))
    for _ in range(5000):  # until the worker thread is in the middle of the switch
        if i2c.transactions != before:
            break
        await asyncio.sleep(0.001)
    first.cancel()  # the caller gave up (a timeout); the worker thread cannot be stopped
    with pytest.raises(asyncio.CancelledError):
        await first
    assert bus_lock(1).locked()
    await b.write(1, energized=True)  # waits for the first thread instead of interleaving
    assert chip.pin(0)
    assert chip.pin(1)
    assert not bus_lock(1).locked()
