"""Twenty-eight days (and two hours) outside RemoteControl, for the largest house shipped.

hw25 has 40 channels; a status every 300 s carries 60 readings a channel (every 5 s), about
90 KB of JSON. Compaction runs every simulated hour. At the end the tiers must hold exactly:
tier 1 the last 24 h of statuses whole (288), tier 2 the 5-minute aggregates of the 6 days
before (1,728), tier 3 the hourly aggregates of the 21 days before that (504); the two oldest
hours are past 28 days, dropped and counted. Every aggregate is checked against one computed
from the readings themselves. Then the backlog uploads completely, tier 1 first.

The store is built once (about 8,000 puts, by ``tests.store.build_28_days`` in a child process
started with the session, see ``conftest.py``); each test that changes it works on a copy.
"""

from __future__ import annotations

import itertools
import json
import math
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from scada.cli.main import app
from scada.protocol.codec import decode
from scada.protocol.readings import Status
from scada.store import Store, store_path
from tests.store.build_28_days import DAY, END, IDS_FILE, SLOTS, Build28Days
from tests.store.store_support import (
    READINGS,
    SLOT_S,
    T0,
    Expected,
    House,
    ManualClock,
    aggregates_of,
    assert_same,
    hw25,
    last_read_at,
    slot_values,
    status,
)

pytestmark = pytest.mark.slow

HOUR = timedelta(hours=1)


@dataclass(frozen=True)
class Run:
    house: House
    data_dir: Path
    last_day_ids: list[str]

    def copy(self, to: Path) -> Path:
        """A copy of the store's data dir in ``to`` (the tests may change theirs)."""
        shutil.copytree(self.data_dir, to / "data")
        return to / "data"


@pytest.fixture(scope="module")
def run(build_28_days: Build28Days | None) -> Run:
    assert build_28_days is not None
    data_dir = build_28_days.wait()
    ids = json.loads((data_dir / IDS_FILE).read_text("utf-8"))
    return Run(hw25(), data_dir, ids)


def _expected(
    house: House, start: datetime, period: timedelta
) -> dict[tuple[datetime, str], Expected]:
    """The aggregate of every channel over [start, start + period), from the readings."""
    step = timedelta(seconds=SLOT_S)
    slots = [start + k * step for k in range(period // step)]
    parts = [slot_values(house, s) for s in slots]
    out = {}
    for i, (name, _) in enumerate(house.channels):

        def values() -> Iterator[float]:
            return itertools.chain.from_iterable(p[i] for p in parts)  # noqa: B023

        count = sum(len(p[i]) for p in parts)
        assert count == len(slots) * READINGS
        out[(start, name)] = Expected(
            count,
            math.fsum(values()) / count,
            min(values()),
            max(values()),
            parts[-1][i][-1],
            last_read_at(house, slots[-1], i),
        )
    return out


def test_the_tiers_hold_what_they_should(run: Run) -> None:
    with Store.open(store_path(run.data_dir), ManualClock(END)) as store:
        d = store.details()
    rows = {t.name: (t.rows, t.oldest, t.newest) for t in d.tiers}
    assert rows == {
        "statuses": (288, END - DAY, END),
        "problems": (0, None, None),
        "5-min aggregates": (1728, END - 7 * DAY, END - DAY),
        "hourly aggregates": (504, END - 28 * DAY, END - 7 * DAY),
    }
    assert d.dropped_expired == (0, 0, 2)  # the first two hours
    assert d.dropped_cap == (0, 0, 0)
    assert d.statuses_aggregated == SLOTS - 288
    assert d.size_bytes <= 100_000_000
    assert d.quarantined_total == 0


def test_tier_1_keeps_the_last_day_of_statuses_whole(run: Run, tmp_path: Path) -> None:
    with Store.open(store_path(run.copy(tmp_path)), ManualClock(END)) as store:
        items = store.next_batch(288)
    assert [i.id for i in items] == run.last_day_ids
    for n, item in zip(range(SLOTS - 288, SLOTS), items, strict=True):
        if n % 37:  # rebuilding every status is slow; a spread sample says as much
            continue
        msg = decode(item.payload)
        assert isinstance(msg, Status)
        want = status(run.house, T0 + n * timedelta(seconds=SLOT_S), seq=n + 1)
        assert msg == want.model_copy(update={"id": item.id, "boot_id": msg.boot_id})


def test_aggregates_are_exact(run: Run, tmp_path: Path) -> None:
    with Store.open(store_path(run.copy(tmp_path)), ManualClock(END)) as store:
        payloads = [i.payload for i in store.next_batch(10_000)]
    five: dict[tuple[datetime, str], Expected] = {}
    start = END - 7 * DAY
    while start < END - DAY:
        five |= _expected(run.house, start, timedelta(seconds=SLOT_S))
        start += timedelta(seconds=SLOT_S)
    assert_same(aggregates_of(payloads, 300), five)
    hourly: dict[tuple[datetime, str], Expected] = {}
    start = END - 28 * DAY
    while start < END - 7 * DAY:
        hourly |= _expected(run.house, start, HOUR)
        start += HOUR
    assert_same(aggregates_of(payloads, 3600), hourly)


def test_the_backlog_uploads_completely_tier_1_first(run: Run, tmp_path: Path) -> None:
    data = run.copy(tmp_path)
    clock = ManualClock(END)
    with Store.open(store_path(data), clock) as store:
        before = store.details().file_bytes
        store.requeue_in_flight()
        sent = []
        while batch := store.next_batch(100):
            store.mark_sent(i.id for i in batch)
            sent.extend(batch)
            assert store.ack_many(i.id for i in batch) == len(batch)
        assert [(i.tier, i.kind) for i in sent] == (
            [(1, "status")] * 288 + [(3, "aggregate")] * 504 + [(2, "aggregate")] * 1728
        )
        ends = [i.end for i in sent]
        assert ends[:288] == sorted(ends[:288])
        assert ends[288:] == sorted(ends[288:])  # the aggregates oldest first
        store.compact()
        d = store.details()
    assert (d.pending, d.acked_total, d.last_ack_at) == (0, 2520, END)
    assert d.file_bytes < before / 4  # free pages went back to the filesystem


def test_scada_store_stats_on_it(run: Run) -> None:
    result = CliRunner().invoke(app, ["store", "stats", "--data-dir", str(run.data_dir)])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == f"store {store_path(run.data_dir)} (schema v1)"
    assert lines[2].split() == [
        "1", "statuses", "288", "0", lines[2].split()[4], "MB",
        "2025-02-02", "02:00:00Z", "2025-02-03", "02:00:00Z",
    ]  # fmt: skip
    assert lines[4].split()[:3] == ["2", "5-min", "aggregates"]
    assert lines[4].split()[3] == "1728"
    assert lines[5].split()[3] == "504"
    assert "past the last tier (tiers 1/2/3: 0/0/2)" in result.output
