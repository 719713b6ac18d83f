"""The aggregation itself (pure): any split of readings into statuses and periods, in any
order, gives the aggregates of the readings; digests round-trip bit for bit."""

from __future__ import annotations

import math
import random
from datetime import timedelta

from hypothesis import given
from hypothesis import strategies as st

from scada.protocol.base import new_id
from scada.protocol.codec import encode
from scada.protocol.readings import ChannelSeries, Status
from scada.store.aggregate import Periods, digest_text, status_digest
from scada.store.encoding import to_us
from tests.store.store_support import T0, aggregates_of, assert_same, reference

HOUR_MS = 3_600_000
finite = st.floats(allow_nan=False, allow_infinity=False)
# (ms after T0, channel, value, late): a late reading goes out with the next slot's status,
# at a negative offset from its start
readings = st.lists(
    st.tuples(st.integers(0, 2 * HOUR_MS - 1), st.sampled_from(["a", "b"]), finite, st.booleans()),
    min_size=1,
    max_size=80,
)


def _statuses(rs: list[tuple[int, str, float, bool]], rnd: random.Random) -> list[Status]:
    """Each reading into the status of its 5-minute slot (or the next one if it is late), in a
    shuffled order."""
    slots: dict[int, dict[str, list[tuple[int, float]]]] = {}
    for ms, ch, v, late in rs:
        slots.setdefault(ms // 300_000 + late, {}).setdefault(ch, []).append((ms, v))
    out = []
    for slot, chans in slots.items():
        series = []
        slot_start = T0 + timedelta(minutes=5 * slot)
        for ch, items in sorted(chans.items()):
            rnd.shuffle(items)
            pairs = [(T0 + timedelta(milliseconds=ms), v) for ms, v in items]
            series.append(ChannelSeries.of(ch, "W", pairs, slot_start))
        out.append(
            Status(
                id=new_id(),
                house_alias="h",
                scada_alias="h.scada",
                boot_id=new_id(),
                seq=1,
                slot_start=slot_start,
                channels=tuple(series),
            )
        )
    rnd.shuffle(out)
    return out


@given(readings, st.randoms(use_true_random=False))
def test_any_split_and_order_gives_the_aggregates_of_the_readings(
    rs: list[tuple[int, str, float, bool]], rnd: random.Random
) -> None:
    statuses = _statuses(rs, rnd)
    five = Periods(300)
    for s in statuses:
        five.add_digest(status_digest(s, 300))  # as stored at put
    five_reports = five.reports(new_id)
    assert_same(aggregates_of([encode(r) for r, _ in five_reports], 300), reference(statuses, 300))
    rnd.shuffle(five_reports)
    hourly = Periods(3600)
    for i, (report, digest) in enumerate(five_reports):
        if i % 2:
            hourly.add_digest(digest)
        else:
            hourly.add_report(report)  # an aggregate with no digest (put from outside)
    got = aggregates_of([encode(r) for r, _ in hourly.reports(new_id)], 3600)
    want = reference(statuses, 3600)
    assert got.keys() == want.keys()
    for key, w in want.items():
        g = got[key]
        assert (g.count, g.min, g.max) == (w.count, w.min, w.max)
        assert g.last_read_at == w.last_read_at
        scale = max(abs(w.min), abs(w.max), 1e-300)
        assert math.isclose(g.mean, w.mean, rel_tol=1e-12, abs_tol=1e-12 * scale)
        assert g.min <= g.mean <= g.max


@given(st.lists(finite, min_size=1, max_size=20))
def test_digests_round_trip_bit_for_bit(values: list[float]) -> None:
    s = Status(
        id=new_id(),
        house_alias="h",
        scada_alias="h.scada",
        boot_id=new_id(),
        seq=1,
        slot_start=T0,
        channels=(
            ChannelSeries(
                channel="x",
                unit="W",
                values=tuple(values),
                offsets_ms=tuple(1000 * i for i in range(len(values))),
            ),
        ),
    )
    once = Periods(300)
    once.add_status(s)
    again = Periods(300)
    again.add_digest(status_digest(s, 300))
    assert once.periods == again.periods
    key = ("h", "h.scada", to_us(T0))
    channels = [(c, u, a) for (c, u), a in again.periods[key].items()]
    assert digest_text(key, channels) == status_digest(s, 300)


def test_huge_values_do_not_overflow_the_mean() -> None:
    big = 1.7e308
    s = _statuses(
        [(1000, "a", big, False), (2000, "a", big, False), (3000, "a", -1.0, False)],
        random.Random(1),
    )[0]
    p = Periods(300)
    p.add_digest(status_digest(s, 300))
    [(report, _)] = p.reports(new_id)
    [c] = report.aggregates()
    assert math.isfinite(c.mean)
    assert math.isclose(c.mean, (big / 3) * 2, rel_tol=1e-12)
