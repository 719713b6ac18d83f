"""Readings flow: every channel is read at its sample period, published, and shown with its age."""

from __future__ import annotations

import itertools

import pytest

from scada.protocol import ChannelHealth, DeviceHealthState, EventKind, Reading
from tests.runtime.harness import DW1, HW25, Rig, house_layout, run_scenario

TOLERANCE_S = 1e-3


@pytest.mark.parametrize("house", [DW1, HW25])
def test_every_channel_gets_a_reading_within_one_sample_period(house: str) -> None:
    layout = house_layout(house)

    async def scenario(rig: Rig) -> None:
        longest = max(c.sample_period_s for c in layout.channels)
        await rig.advance(longest)
        for ch in layout.channels:
            got = rig.rec.readings(ch.name)
            assert got, f"{ch.name} never read"
            delay_s = (got[0].read_at - rig.start).total_seconds()
            assert delay_s <= ch.sample_period_s, ch.name
            assert got[0].node == ch.node
            assert got[0].unit == ch.unit.value
            assert got[0].value == rig.bench.values[ch.name]

    run_scenario(scenario, house=house)


@pytest.mark.parametrize("house", [DW1, HW25])
def test_each_channel_keeps_its_sample_period(house: str) -> None:
    layout = house_layout(house)

    async def scenario(rig: Rig) -> None:
        await rig.advance(600)
        for ch in layout.channels:
            times = [r.read_at for r in rig.rec.readings(ch.name)]
            gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(times[1:])]
            # The first gap may be shorter (each device settles into its phase); then the
            # period, exactly.
            assert gaps, ch.name
            assert all(abs(g - ch.sample_period_s) < TOLERANCE_S for g in gaps), (ch.name, gaps)
            expected = 600 / ch.sample_period_s
            assert expected - 1 <= len(times) <= expected + 2, ch.name

    run_scenario(scenario, house=house)


def test_devices_poll_at_staggered_phases() -> None:
    """Not every device reads in the same instant (a burst of every channel at once)."""

    async def scenario(rig: Rig) -> None:
        await rig.advance(60)
        firsts_after_start = {
            name: round(probe.times()[1] % 1.0, 6) for name, probe in rig.probes.items()
        }
        assert len(set(firsts_after_start.values())) > 1

    run_scenario(scenario, house=HW25)


def test_hub_publishes_readings_to_every_subscriber() -> None:
    async def scenario(rig: Rig) -> None:
        only_readings = rig.runtime.hub.subscribe("console", kinds=frozenset({EventKind.READING}))
        await rig.advance(30)
        seen: list[Reading] = []
        while only_readings.backlog:
            ev = await only_readings.get()
            assert ev is not None
            assert ev.kind is EventKind.READING
            if isinstance(ev.payload, Reading):
                seen.append(ev.payload)
        mine = [r for r in rig.rec.readings() if r.read_at > rig.start]
        assert [r.read_at for r in seen if r.read_at > rig.start] == [r.read_at for r in mine]
        assert not only_readings.dropped

    run_scenario(scenario)


def test_snapshot_shows_health_ok_value_and_age() -> None:
    layout = house_layout(DW1)

    async def scenario(rig: Rig) -> None:
        before = rig.snapshot()
        assert {c.health for c in before.channels} <= {ChannelHealth.OK, ChannelHealth.NEVER_READ}
        await rig.advance(125)
        snap = rig.snapshot()
        assert snap.house_alias == layout.house.alias
        assert snap.taken_at == rig.now()
        assert snap.simulated
        by_name = {c.channel: c for c in snap.channels}
        assert set(by_name) == {c.name for c in layout.channels}
        for ch in layout.channels:
            cs = by_name[ch.name]
            assert cs.health is ChannelHealth.OK, cs
            assert cs.value == rig.bench.values[ch.name]
            assert cs.age_s is not None
            assert cs.read_at is not None
            assert 0 <= cs.age_s <= ch.sample_period_s
            assert cs.age_s == pytest.approx((snap.taken_at - cs.read_at).total_seconds())
            assert cs.unit == ch.unit.value
        assert {d.state for d in snap.devices} == {DeviceHealthState.OK}
        assert {d.device for d in snap.devices} == {d.name for d in layout.devices}

    run_scenario(scenario)


def test_snapshot_before_any_reading_says_never_read() -> None:
    async def scenario(rig: Rig) -> None:
        # Nothing has run yet: the runtime task has not had its first turn.
        snap = rig.snapshot()
        assert {c.health for c in snap.channels} == {ChannelHealth.NEVER_READ}
        assert all(c.value is None and c.age_s is None for c in snap.channels)

    run_scenario(scenario)


def test_power_goes_out_on_change_only() -> None:
    """A power channel publishes a PowerReading when it moves by more than the share."""
    from scada.protocol import PowerReading

    async def scenario(rig: Rig) -> None:
        await rig.advance(10)
        first = rig.rec.payloads(EventKind.READING, PowerReading)
        assert {p.channel for p in first} == {"hp-power", "elt1-power", "pump-power"}
        rig.bench.values["hp-power"] = 50.0  # 2 % of 4 kW is 80 W: no report
        await rig.advance(10)
        assert len(rig.rec.payloads(EventKind.READING, PowerReading)) == len(first)
        rig.bench.values["hp-power"] = 3000.0
        await rig.advance(10)
        power = rig.rec.payloads(EventKind.READING, PowerReading)
        assert len(power) == len(first) + 1
        assert power[-1].channel == "hp-power"
        assert power[-1].power_w == 3000.0
        assert [p.seq for p in power] == list(range(1, len(power) + 1))
        assert {p.boot_id for p in power} == {rig.runtime.boot_id}

    run_scenario(scenario)
