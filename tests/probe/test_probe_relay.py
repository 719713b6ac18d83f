"""`probe_relay`: read back, click, and always leave the relay as it was found."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from scada.drivers.mcp23008 import Mcp23008RelayBoard
from scada.probe import ProbeError, RelayStep, find_relay, probe_relay
from sim.buses.i2c import EmulatedMcp23008, EmulatedPcf8575
from tests.probe.probe_support import DW1, HW25, W, device, house, populated


def mcp(buses_chips: dict[int, object], address: int = 0x20) -> EmulatedMcp23008:
    chip = buses_chips[address]
    assert isinstance(chip, EmulatedMcp23008)
    return chip


async def test_read_only_switches_nothing(tmp_path: Path) -> None:
    layout = house(W)
    with populated(layout, tmp_path) as buses:
        chip = mcp(dict(buses.i2c_buses[1].chips))
        target = find_relay(layout, "a.elt1.relay")
        result = await probe_relay(layout, buses, target)
        assert (target.device.name, target.channel) == ("relay-board", 2)
        assert [s.action for s in result.steps] == ["read"]
        assert result.original is False
        assert result.ok
        assert all(level is not True for level in chip.driven)  # no pin ever driven high
        assert all(level is not True for h in chip.history for level in h)


async def test_click_pulses_and_leaves_it_released(tmp_path: Path) -> None:
    layout = house(DW1)
    with populated(layout, tmp_path) as buses:
        chip = mcp(dict(buses.i2c_buses[1].chips))
        seen: list[RelayStep] = []
        result = await probe_relay(
            layout,
            buses,
            find_relay(layout, "a.elt1.relay"),
            click=True,
            hold_s=0.0,
            report=seen.append,
        )
        assert [s.action for s in result.steps] == ["read", "on", "hold", "off"]
        assert seen == list(result.steps)  # reported live, in order
        assert [s.read_back for s in result.steps] == [False, True, None, False]
        assert result.ok
        assert result.restored
        assert result.final is False
        # GP0 went high once and came back low; no other relay pin moved.
        gp0 = [h[0] for h in chip.history if h[0] is not None]
        assert gp0 == [False, True, False]
        assert all(h[1] is not True and h[2] is not True for h in chip.history)
        assert all(s.elapsed_ms >= 0 for s in result.steps)


async def test_click_restores_a_relay_found_energized(tmp_path: Path) -> None:
    layout = house(DW1)
    with populated(layout, tmp_path) as buses:
        chip = mcp(dict(buses.i2c_buses[1].chips))
        board = Mcp23008RelayBoard(device(layout, "relay-board"), layout.actuators, buses)
        await board.write(1, energized=True)
        result = await probe_relay(
            layout, buses, find_relay(layout, "a.tank.out.pump.relay"), click=True, hold_s=0.0
        )
        assert [s.action for s in result.steps] == ["read", "on", "hold", "off", "restore"]
        assert result.original is True
        assert result.final is True
        assert result.ok
        assert chip.pin(1) is True


async def test_a_stuck_output_fails_the_click_and_the_relay_stays_as_found(
    tmp_path: Path,
) -> None:
    layout = house(W)
    with populated(layout, tmp_path) as buses:
        chip = mcp(dict(buses.i2c_buses[1].chips))
        chip.stuck = {3: False}
        result = await probe_relay(
            layout, buses, find_relay(layout, "a.tank.out.pump.relay"), click=True, hold_s=0.0
        )
        on = result.steps[1]
        assert on.action == "on"
        assert not on.ok
        assert on.error is not None
        assert on.error.startswith("relay-board (/dev/i2c-1 0x20): relay 3 was energized but GP3")
        assert "damaged driver chip" in on.error  # the fix hint
        assert "off" not in [s.action for s in result.steps]  # the click stopped there
        assert result.restored
        assert not result.ok
        assert chip.regs[0x0A] & 0x08 == 0  # the latch is back at released too


async def test_cancelled_mid_hold_the_relay_is_put_back(tmp_path: Path) -> None:
    layout = house(DW1)
    with populated(layout, tmp_path) as buses:
        chip = mcp(dict(buses.i2c_buses[1].chips))
        task = asyncio.create_task(
            probe_relay(layout, buses, find_relay(layout, "a.hp.relay"), click=True, hold_s=30)
        )
        for _ in range(1000):
            if chip.pin(2):
                break
            await asyncio.sleep(0)
        assert chip.pin(2), "the relay was never switched on"
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert chip.pin(2) is False


async def test_krida_board_active_low_click(tmp_path: Path) -> None:
    layout = house(HW25)
    with populated(layout, tmp_path) as buses:
        chip = buses.i2c_buses[1].chips[0x21]
        assert isinstance(chip, EmulatedPcf8575)
        target = find_relay(layout, "a.zone2.valve.relay")
        assert target.active_low
        result = await probe_relay(layout, buses, target, click=True, hold_s=0.0)
        assert result.ok
        assert [s.read_back for s in result.steps] == [False, True, None, False]
        # relay 2 (channel 1) is pin P06; low energises it: it went low once and came back.
        p06 = [bool(port & 1 << 6) for port in chip.history]
        assert p06 == [True, False, True]


async def test_board_and_channel_form(tmp_path: Path) -> None:
    layout = house(W)
    target = find_relay(layout, "relay-board:0")  # a relay the layout does not use
    assert (target.node, target.channel) == (None, 0)
    assert target.label == "relay-board:0"
    with populated(layout, tmp_path) as buses:
        result = await probe_relay(layout, buses, target, click=True, hold_s=0.0)
        assert result.ok
    assert find_relay(layout, "relay-board:2").node == "a.elt1.relay"
    krida = find_relay(house(HW25), "relays-2:9")  # unused on the board: Krida relays are low
    assert (krida.node, krida.active_low) == (None, True)


async def test_a_board_that_does_not_answer_is_one_line(tmp_path: Path) -> None:
    layout = house(W)
    with populated(layout, tmp_path) as buses:
        mcp(dict(buses.i2c_buses[1].chips)).answering = False
        with pytest.raises(ProbeError) as e:
            await probe_relay(layout, buses, find_relay(layout, "a.elt1.relay"), click=True)
    message = str(e.value)
    assert "\n" not in message
    assert message.startswith("relay-board (/dev/i2c-1 0x20): no answer at 0x20 on i2c-1")
    assert "check the board's power" in message


async def test_a_channel_off_the_board(tmp_path: Path) -> None:
    layout = house(W)
    with populated(layout, tmp_path) as buses, pytest.raises(ProbeError) as e:
        await probe_relay(layout, buses, find_relay(layout, "relay-board:6"))
    assert str(e.value) == (
        "relay-board (/dev/i2c-1 0x20): relay 6 is not on this board (relays 0-3)"
    )


@pytest.mark.parametrize(
    ("name", "message"),
    [
        (
            "a.elt1.relya",
            "no relay 'a.elt1.relya' in w.isone.nh.orange.1 (did you mean 'a.elt1.relay'?)",
        ),
        (
            "relay-board",
            (
                "relay-board is a relay board: name one of its relays (a.tank.out.pump.baseboard1"
                ".fan.relay, a.elt1.relay, a.tank.out.pump.relay) or relay-board:<channel>"
            ),
        ),
        ("relay-board:x", "'x' is not a channel number: use relay-board:0"),
    ],
)
def test_unknown_relays(name: str, message: str) -> None:
    with pytest.raises(ProbeError) as e:
        find_relay(house(W), name)
    assert str(e.value) == message
