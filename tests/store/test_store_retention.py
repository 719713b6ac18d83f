"""Retention on small statuses: the tiers at a 5-minute compaction cadence, exact aggregates,
expiry, the size cap, in-flight rows, odd slot lengths, units, and the catch-up budget."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from scada.protocol.base import new_id
from scada.protocol.codec import decode, encode
from scada.protocol.readings import AggregateReport, ChannelSeries, Status
from scada.store import CompactionReport, Retention, Store
from scada.store.aggregate import Periods
from tests.store.store_support import (
    T0,
    House,
    ManualClock,
    aggregates_of,
    assert_same,
    hw25,
    insert_raw,
    problem,
    reference,
    small_status,
    status,
)

DAY = timedelta(days=1)
FIVE = timedelta(minutes=5)


def _status(
    slot_start: datetime, *, n: int = 0, duration_s: int = 300, unit: str = "degC"
) -> Status:
    """Two channels, one reading a minute, values that differ from slot to slot."""
    k_max = duration_s // 60
    return Status(
        id=new_id(),
        house_alias="test.house",
        scada_alias="test.house.scada",
        boot_id="00000000-0000-4000-8000-000000000000",
        seq=n + 1,
        slot_start=slot_start,
        slot_duration_s=duration_s,
        channels=tuple(
            ChannelSeries.of(
                f"ch-{i}",
                unit,
                [
                    (
                        slot_start + timedelta(seconds=60 * k + 13 + i),
                        ((n * 37 + k * 11 + i * 5) % 23) / 7 - 1.5,
                    )
                    for k in range(k_max)
                ],
                slot_start,
            )
            for i in range(2)
        ),
    )


def _everything(store: Store) -> list[bytes]:
    store.requeue_in_flight()
    return [i.payload for i in store.next_batch(100_000)]


def test_seven_and_a_half_days_at_a_five_minute_cadence(path: Path, clock: ManualClock) -> None:
    statuses = []
    with Store.open(path, clock, durable=False) as store:
        slots = int((7 * DAY + timedelta(hours=12)) / FIVE)
        for n in range(slots):
            s = _status(T0 + n * FIVE, n=n)
            clock.at = s.slot_start + FIVE
            store.put(s)
            statuses.append(s)
            assert store.compact().done
        d = store.details()
        payloads = _everything(store)
    end = clock.now()
    rows = {t.name: t.rows for t in d.tiers}
    assert rows == {
        "statuses": 288,
        "problems": 0,
        "5-min aggregates": 6 * 288,
        "hourly aggregates": 12,  # built up 5 minutes at a time, still one row per hour
    }
    assert d.tier("statuses").oldest == end - DAY
    assert d.tier("5-min aggregates").oldest == end - 7 * DAY
    assert d.tier("5-min aggregates").newest == end - DAY
    assert d.tier("hourly aggregates").oldest == T0
    assert d.tier("hourly aggregates").newest == end - 7 * DAY
    assert d.statuses_aggregated == len(statuses) - 288
    assert sum(d.dropped_expired) == sum(d.dropped_cap) == 0
    tier2 = [s for s in statuses if end - 7 * DAY <= s.slot_start < end - DAY]
    tier3 = [s for s in statuses if s.slot_start < end - 7 * DAY]
    assert_same(aggregates_of(payloads, 300), reference(tier2, 300))
    assert_same(aggregates_of(payloads, 3600), reference(tier3, 3600))
    whole = [decode(p) for p in payloads[:288]]
    assert whole == statuses[-288:]


def test_older_than_28_days_is_dropped_and_counted(path: Path, clock: ManualClock) -> None:
    with Store.open(path, clock, durable=False) as store:
        for n in range(24):  # two hours
            store.put(_status(T0 + n * FIVE, n=n))
        store.put(problem(T0 + timedelta(minutes=3)))
        store.compact(T0 + 8 * DAY)  # all of it is hourly now
        assert store.stats().tier3_aggregates == 2
        report = store.compact(T0 + 28 * DAY + timedelta(hours=1))
        assert report.expired == (1, 0, 1)  # the problem event and the first hour
        assert store.stats().tier3_aggregates == 1
        d = store.details()
        assert d.dropped_expired == (1, 0, 1)
        assert store.compact(T0 + 28 * DAY + timedelta(hours=2)).expired == (0, 0, 1)
        assert store.stats().pending_uplink == 0


def test_statuses_already_past_28_days_go_without_being_aggregated(
    path: Path, clock: ManualClock
) -> None:
    with Store.open(path, clock, durable=False) as store:
        store.put(_status(T0))
        report = store.compact(T0 + 30 * DAY)
        assert (report.expired, report.statuses_aggregated) == ((1, 0, 0), 0)


def _sizes(data_dir: Path, clock: ManualClock, house: House) -> tuple[int, int]:
    """The pages in use of an empty store, and what a full-size status adds on average."""
    with Store.open(data_dir / "store.sqlite3", clock, durable=False) as store:
        empty = store.size_bytes()
        for n in range(10):
            store.put(status(house, T0 + n * FIVE, fast=True))
        return empty, (store.size_bytes() - empty) // 10


def test_over_the_cap_the_oldest_go_first_and_are_counted(
    path: Path, clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    house = hw25()
    empty, one = _sizes(path.parent / "probe", clock, house)
    cap = empty + int(10.5 * one)
    reports: list[CompactionReport] = []
    statuses = [status(house, T0 + n * FIVE, fast=True) for n in range(40)]
    with Store.open(path, clock, durable=False, cap_bytes=cap, on_drop=reports.append) as store:
        store.put(problem(T0 + timedelta(minutes=1)))  # older than all but the first status
        for s in statuses:
            store.put(s)
        caplog.set_level(logging.WARNING, logger="scada.store")
        report = store.compact(T0 + 40 * FIVE)
        kept = [i.id for i in store.next_batch(100)]
        d = store.details()
    assert [r.over_cap for r in reports] == [report.over_cap]
    assert sum(report.over_cap) == report.over_cap[0] == 41 - len(kept)
    assert kept == [s.id for s in statuses[-len(kept) :]]  # the newest stay
    assert 8 <= len(kept) <= 10
    assert report.size_bytes == d.size_bytes <= cap
    assert d.dropped_cap == report.over_cap
    drops = [r for r in caplog.records if "dropped" in r.getMessage()]
    assert len(drops) == 1  # one line per compaction, not one per row
    assert f"over the {cap / 1e6:.1f} MB cap" in drops[0].getMessage()
    assert d.fill_alarm
    assert sum("full" in r.getMessage() for r in caplog.records) == 1


def test_the_fill_alarm_is_logged_once_per_crossing(
    path: Path, clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="scada.store")
    house = hw25()
    empty, one = _sizes(path.parent / "probe", clock, house)
    with Store.open(path, clock, durable=False, cap_bytes=empty + 4 * one) as store:
        for n in range(8):  # fills up, then stays at the cap
            store.put(status(house, T0 + n * FIVE, fast=True))
            store.compact(T0 + (n + 1) * FIVE)
        assert store.details().fill_alarm
        assert sum(sum(r.over_cap) for r in [store.compact(T0 + 9 * FIVE)]) == 0
        assert sum("full" in r.getMessage() for r in caplog.records) == 1
        for item in store.next_batch(10):  # the backlog goes up: the alarm clears
            store.ack(item.id)
        store.compact(T0 + 10 * FIVE)
        assert not store.details().fill_alarm


def test_in_flight_rows_are_left_alone(path: Path, clock: ManualClock) -> None:
    with Store.open(path, clock, durable=False) as store:
        a, b = _status(T0, n=0), _status(T0 + FIVE, n=1)
        store.put(a)
        store.put(b)
        store.mark_sent([a.id])
        report = store.compact(T0 + 2 * DAY)
        assert report.statuses_aggregated == 1
        assert store.details().tier("statuses").in_flight == 1
        assert store.ack(a.id)  # its ack still finds it
        store.put(_status(T0, n=7))  # a resend of the same slot from another boot...
        store.compact(T0 + 2 * DAY)
        aggs = [decode(i.payload) for i in store.next_batch(10)]
        assert [type(m) for m in aggs] == [AggregateReport, AggregateReport]


def test_a_merge_never_reuses_an_id_nor_touches_an_in_flight_aggregate(
    path: Path, clock: ManualClock
) -> None:
    with Store.open(path, clock, durable=False) as store:
        first, second = _status(T0, n=0), _status(T0 + FIVE, n=1)
        store.put(first)
        store.compact(T0 + 8 * DAY)  # the hour 00:00 as an hourly aggregate
        [hour] = store.next_batch(10)
        store.mark_sent([hour.id])
        store.put(second)
        store.compact(T0 + 8 * DAY)
        store.requeue_in_flight()
        items = store.next_batch(10)
        assert len(items) == 2  # the in-flight one, and a new one beside it
        assert hour.id in {i.id for i in items}
        store.ack(hour.id)
        [rest] = store.next_batch(10)
        store.put(_status(T0 + 2 * FIVE, n=2))
        store.compact(T0 + 8 * DAY)
        [merged] = store.next_batch(10)
        assert merged.id not in {hour.id, rest.id}  # new content, new id
        msg = decode(merged.payload)
        assert isinstance(msg, AggregateReport)
        assert list(msg.counts) == [10, 10]


def test_the_catch_up_is_spread_over_calls(path: Path, clock: ManualClock) -> None:
    with Store.open(path, clock, durable=False) as store:
        for n in range(50):
            store.put(_status(T0 + n * FIVE, n=n))
        calls = 0
        while not store.compact(T0 + 3 * DAY, max_rows=8).done:
            calls += 1
        assert calls == 6
        assert store.stats().tier2_aggregates == 50


def test_a_long_slot_is_cut_into_five_minute_periods(path: Path, clock: ManualClock) -> None:
    s = _status(T0, duration_s=900)  # 15 readings a channel across three 5-minute periods
    with Store.open(path, clock, durable=False) as store:
        store.put(s)
        store.compact(T0 + 2 * DAY)
        payloads = _everything(store)
    assert len(payloads) == 3
    assert_same(aggregates_of(payloads, 300), reference([s], 300))


def test_a_slot_with_no_readings_still_says_so(path: Path, clock: ManualClock) -> None:
    empty = small_status(T0, channels=0)
    with Store.open(path, clock, durable=False) as store:
        store.put(empty)
        store.compact(T0 + 2 * DAY)
        [item] = _everything(store)
    msg = decode(item)
    assert isinstance(msg, AggregateReport)
    assert (msg.period_start, msg.period_s, msg.channels) == (T0, 300, ())


def test_a_unit_change_is_never_averaged_across(path: Path, clock: ManualClock) -> None:
    minute = timedelta(minutes=1)
    parts = [_status(T0 + k * minute, n=k, duration_s=60) for k in range(3)]
    parts.append(_status(T0 + 3 * minute, n=3, duration_s=60, unit="degF"))
    with Store.open(path, clock, durable=False) as store:
        for s in parts:
            store.put(s)
        store.compact(T0 + 2 * DAY)
        msgs = [decode(p) for p in _everything(store)]
    units = sorted({c.unit for m in msgs if isinstance(m, AggregateReport) for c in m.aggregates()})
    assert units == ["degC", "degF"]
    assert len(msgs) == 2
    counts = sorted(
        (c.unit, c.count) for m in msgs if isinstance(m, AggregateReport) for c in m.aggregates()
    )
    assert counts == [("degC", 3), ("degC", 3), ("degF", 1), ("degF", 1)]


def test_the_last_value_is_the_latest_read_and_the_later_one_on_a_tie(
    path: Path, clock: ManualClock
) -> None:
    t = T0 + timedelta(seconds=30)
    s = Status(
        id=new_id(),
        house_alias="test.house",
        scada_alias="test.house.scada",
        boot_id=new_id(),
        seq=1,
        slot_start=T0,
        channels=(
            ChannelSeries.of(
                "ch-0",
                "W",
                [
                    (t + timedelta(seconds=60), 5.0),
                    (t, 1.0),
                    (t + timedelta(seconds=60), 2.0),
                    (t, 3.0),
                ],
                T0,
            ),
        ),
    )
    with Store.open(path, clock, durable=False) as store:
        store.put(s)
        store.compact(T0 + 2 * DAY)
        [raw] = _everything(store)
    msg = decode(raw)
    assert isinstance(msg, AggregateReport)
    [c] = msg.aggregates()
    assert (c.count, c.min, c.max, c.mean, c.last) == (4, 1.0, 5.0, 2.75, 2.0)
    assert c.last_read_at == t + timedelta(seconds=60)


def test_retention_settings_are_checked() -> None:
    with pytest.raises(ValueError, match="tier1_keep_s"):
        Retention(tier1_keep_s=8 * 86_400)
    with pytest.raises(ValueError, match="multiple"):
        Retention(tier2_period_s=420)


def test_an_aggregate_put_from_outside_merges_by_its_payload(
    path: Path, clock: ManualClock
) -> None:
    # an aggregate with no digest: the store reads it back from the message itself
    base = _status(T0, n=0)
    with Store.open(path, clock, durable=False) as store:
        store.put(base)
        store.compact(T0 + 2 * DAY)
        [five] = [decode(p) for p in _everything(store)]
        assert isinstance(five, AggregateReport)
        store.ack(five.id)
        outside = five.model_copy(update={"id": new_id()})
        assert store.put(outside)
        store.put(_status(T0 + FIVE, n=1))
        store.compact(T0 + 9 * DAY)
        [hour] = [decode(p) for p in _everything(store)]
    assert isinstance(hour, AggregateReport)
    assert (hour.period_s, list(hour.counts)) == (3600, [10, 10])
    want = reference([base, _status(T0 + FIVE, n=1)], 3600)
    assert_same(aggregates_of([encode(hour)], 3600), want)


def test_a_damaged_digest_falls_back_to_the_message(path: Path, clock: ManualClock) -> None:
    s = _status(T0)
    with Store.open(path, clock, durable=False) as store:
        store.put(s)
        store.db.execute("UPDATE outbox SET digest = x'00ff'")
        report = store.compact(T0 + 2 * DAY)
        assert (report.statuses_aggregated, report.quarantined) == (1, 0)
        assert_same(aggregates_of(_everything(store), 300), reference([s], 300))


def test_a_status_that_cannot_be_read_is_quarantined_by_compaction(
    path: Path, clock: ManualClock
) -> None:
    with Store.open(path, clock, durable=False) as store:
        insert_raw(store.db, mid=new_id(), payload=b'{"type":"status","version":9}')
        store.put(_status(T0 + FIVE))
        report = store.compact(T0 + 2 * DAY)
        assert (report.statuses_aggregated, report.quarantined) == (1, 1)
        d = store.details()
        assert d.quarantined == 1
        assert d.recent_quarantine[0].reason.startswith("cannot be aggregated: undecodable")
        assert d.tier("5-min aggregates").rows == 1


def test_an_aggregate_across_an_hours_end_is_quarantined_and_compaction_goes_on(
    path: Path, clock: ManualClock
) -> None:
    # a well-formed 1000 s aggregate from 00:56:40 (put from outside) runs past 01:00: it
    # cannot be folded into one hour, so it is quarantined, and the rest is compacted as usual
    start = T0 + timedelta(seconds=3400)
    across = AggregateReport(
        id=new_id(),
        house_alias="test.house",
        scada_alias="test.house.scada",
        period_start=start,
        period_s=1000,
        channels=("ch-0",),
        units=("degC",),
        counts=(3,),
        mins=(1.0,),
        means=(2.0,),
        maxs=(3.0,),
        lasts=(3.0,),
        last_offsets_ms=(999_000,),
    )
    s = _status(T0)
    with Store.open(path, clock, durable=False) as store:
        assert store.put(across)
        store.put(s)
        store.compact(T0 + 2 * DAY)  # the status becomes a 5-minute aggregate
        report = store.compact(T0 + 9 * DAY)  # and both are due to become hourly ones
        assert report.quarantined == 1
        d = store.details()
        [q] = d.recent_quarantine
        assert q.id == across.id
        assert "does not fit in one 3600 s period" in q.reason
        assert_same(aggregates_of(_everything(store), 3600), reference([s], 3600))


def test_a_digest_with_a_last_reading_outside_its_period_is_refused() -> None:
    digest = (
        '[{"h":"test.house","s":"test.house.scada","b":0,'
        '"c":[["ch-0","degC",1,2.0,2.0,2.0,2.0,3600000000]]}]'
    )
    hourly = Periods(3600)
    with pytest.raises(ValueError, match="last reading of ch-0 outside its period"):
        hourly.add_digest(digest)
    assert hourly.periods == {}
