"""A whole simulated day of the largest house, on memory drivers and virtual time."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest

import scada.runtime
from scada.protocol import ChannelHealth, DeviceHealthState, EventKind, Mode
from tests.runtime.harness import HW25, Rig, house_layout, run_scenario

DAY_S = 24 * 3600
PERIOD_S = 300


@pytest.fixture(autouse=True)
def _a_day_of_statuses(monkeypatch: pytest.MonkeyPatch) -> None:
    # What the runtime produced is read from its ring of recent statuses: keep a day of them.
    monkeypatch.setattr(scada.runtime, "RECENT_STATUSES", 288)


@pytest.mark.slow
def test_a_day_of_the_largest_house() -> None:
    layout = house_layout(HW25)
    periods = {c.name: c.sample_period_s for c in layout.channels}
    start = datetime(2025, 1, 15, 0, 0, 7, tzinfo=UTC)

    async def scenario(rig: Rig) -> None:
        await rig.advance(DAY_S)
        statuses = rig.runtime.statuses
        assert rig.runtime.reporter.seq == DAY_S // PERIOD_S == 288
        assert len(statuses) == 288
        assert statuses[0].slot_start == datetime(2025, 1, 15, 0, 0, tzinfo=UTC)
        assert statuses[-1].slot_start == datetime(2025, 1, 15, 23, 55, tzinfo=UTC)
        for prev, st in itertools.pairwise(statuses):
            assert st.slot_start - prev.slot_start == timedelta(seconds=PERIOD_S)
            assert st.seq == prev.seq + 1
        for st in statuses[1:]:
            counts = {c.channel: len(c.values) for c in st.channels}
            assert set(counts) == set(periods)
            for name, n in counts.items():
                expected = PERIOD_S / periods[name]
                assert expected - 1 <= n <= expected + 1, (st.slot_start, name, n)
        snap = rig.snapshot()
        assert snap.mode is Mode.LOCAL
        assert {c.health for c in snap.channels} == {ChannelHealth.OK}
        assert all(c.age_s is not None and c.age_s <= periods[c.channel] for c in snap.channels)
        assert {d.state for d in snap.devices} == {DeviceHealthState.OK}
        # A calm house for a day: no problem worth reporting, no relay moved but the failsafe
        # relays, energised once at the start to take the loads from their own controls.
        assert rig.rec.problems() == []
        failsafes = {layout.actuator(n) for n in layout.control.failsafe_relays}
        energised = [(dev, ch) for dev, ch, on in rig.bench.writes if on]
        assert sorted(energised) == sorted((a.device, a.board_channel) for a in failsafes)
        assert len(rig.bench.writes) <= len(layout.actuators)

    run_scenario(
        scenario,
        house=HW25,
        start=start,
        record=frozenset({EventKind.PROBLEM, EventKind.MODE}),
        watch=False,
    )
