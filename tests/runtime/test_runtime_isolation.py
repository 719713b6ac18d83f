"""A failing or hanging device costs the others nothing: they keep their sample periods, and
the controller and the consoles keep being served."""

from __future__ import annotations

import itertools

import pytest

from scada.actors.pass_schedule import CONTROL_PERIOD_S
from scada.protocol import CommandOutcome, CommandResult, RelayState, SetRelay, TakeHold
from tests.runtime.harness import BOARD, HW25, PUMP, Rig, house_layout, run_scenario

WINDOW_S = 600


def periods_kept(rig: Rig, device: str, since: float) -> bool:
    shortest = min(c.sample_period_s for c in rig.layout.channels if c.device == device)
    times = [t for t in rig.probes[device].times() if t >= since]
    gaps = {round(b - a, 6) for a, b in itertools.pairwise(times)}
    return gaps == {shortest}


@pytest.mark.parametrize("how", ["fails", "hangs"])
def test_one_bad_device_leaves_the_others_on_schedule(how: str) -> None:
    bad = "tank-adc-1"

    async def scenario(rig: Rig) -> None:
        await rig.advance(120)
        since = rig.clock.monotonic()
        if how == "fails":
            rig.fail_device(bad)
        else:
            rig.sensors[bad].hang = True
        await rig.advance(WINDOW_S)
        for device in rig.probes:
            if device != bad:
                assert periods_kept(rig, device, since), device
        # The controller still runs its passes and answers at once.
        assert (await rig.request(TakeHold(id=1, operator="alice", minutes=5))).ok
        t0 = rig.clock.monotonic()
        reply = await rig.request(SetRelay(id=2, node=PUMP, state=RelayState.ON, operator="alice"))
        assert reply.ok
        assert reply.result is not None
        assert CommandResult.model_validate(reply.result).outcome is CommandOutcome.CONFIRMED
        assert rig.clock.monotonic() - t0 < 0.01

    run_scenario(scenario)


def test_a_dead_relay_board_costs_the_sensors_nothing() -> None:
    async def scenario(rig: Rig) -> None:
        await rig.advance(60)
        since = rig.clock.monotonic()
        rig.fail_device(BOARD)
        await rig.advance(WINDOW_S)
        for device in rig.probes:
            assert periods_kept(rig, device, since), device
        assert rig.runtime.statuses

    run_scenario(scenario)


def test_every_device_of_the_largest_house_failing_but_one() -> None:
    layout = house_layout(HW25)
    survivor = "egauge"

    def fail_all_but_one(devices: object) -> None:
        from scada.drivers.factory import Devices

        assert isinstance(devices, Devices)
        assert devices.bench is not None
        for d in layout.devices:
            if d.name != survivor:
                devices.bench.fail(d.name)

    async def scenario(rig: Rig) -> None:
        await rig.advance(WINDOW_S)
        assert periods_kept(rig, survivor, 60)
        failing = {d.device for d in rig.snapshot().devices if d.state.value == "failing"}
        assert failing == {d.name for d in layout.devices} - {survivor}
        await rig.advance(2 * CONTROL_PERIOD_S)
        assert not rig.restarts()

    run_scenario(scenario, house=HW25, prepare=fail_all_but_one)
