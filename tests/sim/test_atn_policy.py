"""The simulated ATN's pure parts: price bands, the dispatch policy, its log and readings."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from scada.layout import ControlSettings, Zone, load_layout
from scada.protocol import (
    Ack,
    ChannelHealth,
    ChannelSeries,
    RelayState,
    SnapshotRequest,
    Status,
)
from scada.protocol.examples import example_snapshot
from sim.atn import (
    AtnLog,
    AtnTiming,
    DispatchInputs,
    DispatchPolicy,
    LatestReadings,
    PriceBand,
    PriceBands,
    decide,
    simple_price_profile,
)
from tests.sim.atn_support import CIRC, DW1, ELT, HP, ROOT, tank

NH = ZoneInfo("America/New_York")
ON, OFF = RelayState.ON, RelayState.OFF
DW1_SETTINGS = load_layout(DW1).control
NOW = datetime(2025, 1, 15, 12, 0, tzinfo=UTC)


def local(hour: int, minute: int = 0, day: int = 15, month: int = 1) -> datetime:
    return datetime(2025, month, day, hour, minute, tzinfo=NH)


# ------------------------------------------------------------------------ prices


@pytest.mark.parametrize(
    ("hour", "band"),
    [
        (3, PriceBand.CHEAPEST),
        (23, PriceBand.CHEAP),
        (6, PriceBand.SHOULDER),
        (12, PriceBand.SHOULDER),
        (8, PriceBand.PEAK),
        (18, PriceBand.PEAK),
        (21, PriceBand.PEAK),
    ],
)
def test_simple_profile_bands(hour: int, band: PriceBand) -> None:
    bands = PriceBands(simple_price_profile(NH), NH)
    assert bands.band(local(hour, 30)) is band


def test_bands_rank_within_the_local_day_even_on_a_dst_day() -> None:
    bands = PriceBands(simple_price_profile(NH), NH)
    spring = local(3, 30, day=9, month=3)  # 23 hours that day
    assert bands.band(spring) is PriceBand.CHEAPEST
    th = bands.thresholds(spring)
    assert th.cheapest_max <= th.cheap_max < th.peak_min


def test_a_flat_price_is_cheapest_all_day() -> None:
    bands = PriceBands(lambda _t: 42.0, UTC)
    assert {bands.band(NOW + timedelta(hours=h)) for h in range(24)} == {PriceBand.CHEAPEST}


def test_peak_ahead_and_next_change() -> None:
    bands = PriceBands(simple_price_profile(NH), NH)
    assert bands.peak_within(local(15, 30), 2.0)  # 17:00 is a peak
    assert not bands.peak_within(local(12, 0), 2.0)
    assert bands.next_change(local(15, 30)) == local(16)
    assert bands.next_change(local(16)) == local(17)


# ------------------------------------------------------------------------ policy


def orders(
    readings: dict[str, float],
    band: PriceBand,
    *,
    peak_ahead: bool = False,
    previous: dict[str, RelayState] | None = None,
    settings: ControlSettings = DW1_SETTINGS,
) -> dict[str, RelayState]:
    inputs = DispatchInputs(readings, band, peak_ahead=peak_ahead, now=NOW, previous=previous or {})
    return {o.node: o.state for o in decide(inputs, settings)}


COLD = {"garage-temp": 15.0}


def test_cheap_hours_charge_the_tank() -> None:
    got = orders({**tank(55, 53, 51, 50, 49), **COLD}, PriceBand.CHEAP)
    assert got == {HP: ON, ELT: OFF, CIRC: ON}


def test_elements_only_in_the_cheapest_hours_with_the_tank_far_below_target() -> None:
    far = {**tank(50, 45, 42, 40, 38), **COLD}
    assert orders(far, PriceBand.CHEAPEST)[ELT] is ON
    assert orders(far, PriceBand.CHEAP)[ELT] is OFF
    assert orders({**tank(55, 53, 51, 50, 49), **COLD}, PriceBand.CHEAPEST)[ELT] is OFF
    # Hysteresis: once on, they run until the average is element_release_c higher.
    mid = {**tank(50, 49, 47, 46, 45), **COLD}  # average 47.4
    assert orders(mid, PriceBand.CHEAPEST)[ELT] is OFF
    assert orders(mid, PriceBand.CHEAPEST, previous={ELT: ON})[ELT] is ON
    # Never close to the tank's maximum.
    hot_top = {**tank(79, 30, 30, 30, 30), **COLD}
    assert orders(hot_top, PriceBand.CHEAPEST)[ELT] is OFF


def test_peak_hours_coast_unless_the_tank_nears_its_minimum() -> None:
    assert orders({**tank(50, 45, 42, 40, 38), **COLD}, PriceBand.PEAK)[HP] is OFF
    near_min = {**tank(42, 41, 40, 40, 40), **COLD}
    assert orders(near_min, PriceBand.PEAK)[HP] is ON
    assert orders(near_min, PriceBand.PEAK)[ELT] is OFF
    recovering = {**tank(45, 41, 40, 40, 40), **COLD}
    assert orders(recovering, PriceBand.PEAK)[HP] is OFF
    assert orders(recovering, PriceBand.PEAK, previous={HP: ON})[HP] is ON


def test_shoulder_hours_keep_a_reserve_or_charge_before_a_peak() -> None:
    low = {**tank(50, 48, 47, 46, 45), **COLD}  # average 47.2 < reserve 50
    ok = {**tank(56, 54, 52, 51, 50), **COLD}  # average 52.6 in the reserve band
    assert orders(low, PriceBand.SHOULDER)[HP] is ON
    assert orders(ok, PriceBand.SHOULDER)[HP] is OFF
    assert orders(ok, PriceBand.SHOULDER, previous={HP: ON})[HP] is ON
    assert orders(ok, PriceBand.SHOULDER, peak_ahead=True)[HP] is ON
    full = {**tank(61, 60, 60, 60, 60), **COLD}
    assert orders(full, PriceBand.SHOULDER, peak_ahead=True)[HP] is OFF
    assert orders(full, PriceBand.CHEAPEST)[HP] is OFF


def test_unknown_tank() -> None:
    assert orders(COLD, PriceBand.CHEAP) == {HP: ON, ELT: OFF, CIRC: ON}
    assert orders(COLD, PriceBand.PEAK)[HP] is OFF


def test_zones_drive_the_circulator_with_a_dead_band() -> None:
    base = tank(55, 53, 51, 50, 49)  # garage setpoint 18 °C, comfort band 1 °C
    assert orders({**base, "garage-temp": 17.4}, PriceBand.PEAK)[CIRC] is ON
    assert orders({**base, "garage-temp": 18.6}, PriceBand.CHEAP)[CIRC] is OFF
    inside = {**base, "garage-temp": 18.0}
    assert orders(inside, PriceBand.CHEAP)[CIRC] is OFF
    assert orders(inside, PriceBand.CHEAP, previous={CIRC: ON})[CIRC] is ON


def test_unknown_room_heats_half_the_time() -> None:
    base = tank(55, 53, 51, 50, 49)
    first_half = DispatchInputs(
        base, PriceBand.CHEAP, peak_ahead=False, now=NOW + timedelta(minutes=5)
    )
    second_half = DispatchInputs(
        base, PriceBand.CHEAP, peak_ahead=False, now=NOW + timedelta(minutes=20)
    )
    assert {o.node: o.state for o in decide(first_half, DW1_SETTINGS)}[CIRC] is ON
    assert {o.node: o.state for o in decide(second_half, DW1_SETTINGS)}[CIRC] is OFF


def test_zone_relays_follow_their_zones() -> None:
    layout = load_layout(ROOT / "input_data" / "houses" / "hw25.isone.me.versant.keene.beech.json")
    s = layout.control
    readings = {z.room_channel: z.setpoint_c for z in s.zones}
    cold = s.zones[1]
    readings[cold.room_channel] = cold.setpoint_c - 2
    got = orders(readings, PriceBand.SHOULDER, settings=s)
    assert got[cold.relay or ""] is ON
    assert [got[z.relay or ""] for z in s.zones if z is not cold] == [OFF] * (len(s.zones) - 1)
    assert s.circulator is not None
    assert got[s.circulator] is ON
    assert set(got) == {
        *(z.relay for z in s.zones if z.relay),
        s.circulator,
        s.heat_pump,
        *s.boost_elements,
    }


def test_a_house_without_heat_pump_or_circulator() -> None:
    s = ControlSettings(zones=(Zone(name="Garage", room_channel="room"),), tank_layers=("top",))
    assert orders({"top": 30.0, "room": 10.0}, PriceBand.CHEAP, settings=s) == {}


def test_room_dead_band_is_a_policy_setting() -> None:
    inputs = DispatchInputs(
        {**tank(55, 53, 51, 50, 49), "garage-temp": 17.2},
        PriceBand.CHEAP,
        peak_ahead=False,
        now=NOW,
    )
    wide = DispatchPolicy(room_deadband_c=1.0)
    assert {o.node: o.state for o in decide(inputs, DW1_SETTINGS, wide)}[CIRC] is OFF
    assert {o.node: o.state for o in decide(inputs, DW1_SETTINGS)}[CIRC] is ON


# -------------------------------------------------------------- log, readings, timing


def test_log_counts_everything_and_keeps_the_latest() -> None:
    log = AtnLog(keep=3)
    for i in range(10):
        log.record_in(NOW + timedelta(seconds=i), SnapshotRequest(from_alias="a.b", at=NOW))
    log.record_out(NOW, Ack(message_ids=("00000000-0000-4000-8000-000000000000",), at=NOW))
    assert log.counts["snapshot.request"] == 10
    assert 3 <= len(log.received) <= 6
    assert log.received[-1].at == NOW + timedelta(seconds=9)
    assert len(log.of_type(Ack, sent=True)) == 1
    assert log.of_type(Ack) == []


def test_log_listeners_hear_every_entry_received_kept_or_not() -> None:
    log = AtnLog(keep=3)
    heard: list[datetime] = []
    log.listeners.append(lambda entry: heard.append(entry.at))
    times = [NOW + timedelta(seconds=i) for i in range(10)]
    for t in times:
        log.record_in(t, SnapshotRequest(from_alias="a.b", at=NOW))
    log.record_out(NOW, Ack(message_ids=("00000000-0000-4000-8000-000000000000",), at=NOW))
    assert heard == times  # the sent Ack is not heard; the trimmed entries were
    assert len(log.received) < len(times)


def test_latest_readings_from_statuses_and_snapshots() -> None:
    r = LatestReadings()
    status = Status(
        id="00000000-0000-4000-8000-000000000001",
        house_alias="h.x",
        scada_alias="h.x.ta.scada",
        boot_id="00000000-0000-4000-8000-000000000002",
        seq=1,
        slot_start=NOW,
        channels=(
            ChannelSeries.of(
                "tank-temp0", "degC", [(NOW, 50.0), (NOW + timedelta(seconds=5), 51.0)], NOW
            ),
        ),
    )
    r.from_status(status)
    assert r.latest == {"tank-temp0": (51.0, NOW + timedelta(seconds=5))}
    assert r.fresh(NOW + timedelta(seconds=60), 900) == {"tank-temp0": 51.0}
    assert r.fresh(NOW + timedelta(hours=1), 900) == {}
    snap = example_snapshot(n_channels=4)
    stale = snap.channels[2]
    assert stale.health is ChannelHealth.STALE
    r.update(stale.channel, 1.0, NOW)
    r.from_snapshot(snap)
    assert stale.channel not in r.latest  # the SCADA says it is stale: forget it
    ok = [c for c in snap.channels if c.health is ChannelHealth.OK]
    assert ok
    assert all(r.latest[c.channel][0] == c.value for c in ok)


def test_timing_is_checked() -> None:
    with pytest.raises(ValueError, match="command_ttl_s"):
        AtnTiming(command_period_s=600, command_ttl_s=300)
    with pytest.raises(ValueError, match="positive"):
        AtnTiming(heartbeat_s=0)
