"""The outbox: put, next_batch, mark_sent, ack, requeue; order; idempotence; persistence."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from scada.protocol.codec import decode, encode
from scada.store import Store, StoreError
from scada.store.db import transaction
from tests.store.store_support import T0, ManualClock, problem, small_status


def test_put_then_next_batch_gives_the_same_bytes(store: Store) -> None:
    s = small_status(T0)
    assert store.put(s)
    [item] = store.next_batch(10)
    assert (item.id, item.kind, item.tier, item.attempts) == (s.id, "status", 1, 0)
    assert item.payload == encode(s)
    assert decode(item.payload) == s
    assert (item.start, item.end) == (T0, T0 + timedelta(seconds=300))


def test_put_is_idempotent_on_the_message_id(store: Store) -> None:
    s = small_status(T0)
    assert store.put(s)
    assert not store.put(s)
    assert [i.id for i in store.next_batch(10)] == [s.id]


def test_put_accepts_the_callers_encoding(store: Store) -> None:
    s = small_status(T0)
    store.put(s, encoded=encode(s))
    assert store.next_batch(1)[0].payload == encode(s)


def test_order_is_tier_1_first_then_aggregates_oldest_first(store: Store) -> None:
    # put out of order: an aggregate, then statuses and problems of different times
    s2 = small_status(T0 + timedelta(minutes=10))
    s1 = small_status(T0)
    p_mid = problem(T0 + timedelta(minutes=7))  # between s1 (ends 00:05) and s2 (ends 00:15)
    p_first = problem(T0 + timedelta(minutes=1))
    for msg in (s2, s1, p_mid, p_first):
        store.put(msg)
    store.compact(T0 + timedelta(days=1, minutes=6))  # s1 (ended 00:05) -> a 5-minute aggregate
    s3 = small_status(T0 + timedelta(days=1))
    store.put(s3)
    order = [(i.kind, i.tier, i.end) for i in store.next_batch(10)]
    assert order == [
        ("problem", 1, T0 + timedelta(minutes=1)),
        ("problem", 1, T0 + timedelta(minutes=7)),
        ("status", 1, T0 + timedelta(minutes=15)),
        ("status", 1, T0 + timedelta(days=1, minutes=5)),
        ("aggregate", 2, T0 + timedelta(minutes=5)),
    ]


def test_next_batch_respects_the_limit_and_skips_in_flight(store: Store) -> None:
    statuses = [small_status(T0 + timedelta(minutes=5 * k)) for k in range(7)]
    for s in reversed(statuses):
        store.put(s)
    first = store.next_batch(3)
    assert [i.id for i in first] == [s.id for s in statuses[:3]]
    assert store.next_batch(3) == first  # not marked sent: handed out again
    assert store.mark_sent(i.id for i in first) == 3
    second = store.next_batch(3)
    assert [i.id for i in second] == [s.id for s in statuses[3:6]]
    store.mark_sent(i.id for i in second)
    assert [i.id for i in store.next_batch(3)] == [statuses[6].id]
    assert store.next_batch(0) == []


def test_ack_deletes_and_is_idempotent(store: Store, clock: ManualClock) -> None:
    s = small_status(T0)
    store.put(s)
    store.mark_sent([s.id])
    clock.advance(2)
    assert store.ack(s.id)
    assert not store.ack(s.id)  # a duplicate ack is fine
    assert not store.ack("00000000-0000-4000-8000-00000000dead")  # so is one for an unknown id
    assert store.next_batch(10) == []
    assert store.requeue_in_flight() == 0  # acked: never comes back
    d = store.details()
    assert (d.pending, d.acked_total, d.last_ack_at) == (0, 1, clock.now())


def test_ack_many_in_one_transaction(store: Store) -> None:
    statuses = [small_status(T0 + timedelta(minutes=5 * k)) for k in range(5)]
    for s in statuses:
        store.put(s)
    store.mark_sent(s.id for s in statuses)
    assert store.ack_many([statuses[0].id, statuses[3].id, statuses[0].id, "nope"]) == 2
    assert store.requeue_in_flight() == 3
    assert [i.id for i in store.next_batch(10)] == [statuses[k].id for k in (1, 2, 4)]


def test_acks_and_sends_skip_the_flush_but_puts_keep_it(store: Store) -> None:
    # ack_many and mark_sent commit at synchronous=NORMAL (safe against a kill, see the kill
    # tests); the connection must be back at FULL for the next put.
    level = "PRAGMA synchronous"
    assert store.db.execute(level).fetchone()[0] == 2  # FULL
    s = small_status(T0)
    store.put(s)
    store.mark_sent([s.id])
    assert store.db.execute(level).fetchone()[0] == 2
    store.ack_many([s.id])
    assert store.db.execute(level).fetchone()[0] == 2
    # a failed transaction restores it too
    with pytest.raises(ZeroDivisionError), transaction(store.db, flush=False):
        raise ZeroDivisionError
    assert store.db.execute(level).fetchone()[0] == 2


def test_requeue_brings_in_flight_back_in_order(store: Store) -> None:
    statuses = [small_status(T0 + timedelta(minutes=5 * k)) for k in range(4)]
    for s in statuses:
        store.put(s)
    store.mark_sent(i.id for i in store.next_batch(4))
    assert store.next_batch(4) == []
    assert store.stats().pending_uplink == 4
    assert store.details().in_flight == 4
    assert store.requeue_in_flight([statuses[2].id]) == 1
    assert [i.id for i in store.next_batch(4)] == [statuses[2].id]
    assert store.requeue_in_flight() == 3
    batch = store.next_batch(4)
    assert [i.id for i in batch] == [s.id for s in statuses]
    assert [i.attempts for i in batch] == [1, 1, 1, 1]


def test_mark_sent_counts_attempts(store: Store) -> None:
    s = small_status(T0)
    store.put(s)
    for _ in range(3):
        store.mark_sent([s.id])
        store.requeue_in_flight()
    assert store.next_batch(1)[0].attempts == 3
    assert store.mark_sent(["not-here"]) == 0


def test_everything_survives_a_reopen(path: Path, clock: ManualClock) -> None:
    statuses = [small_status(T0 + timedelta(minutes=5 * k)) for k in range(3)]
    with Store.open(path, clock) as store:
        for s in statuses:
            store.put(s)
        store.mark_sent([statuses[0].id])
        store.ack(statuses[1].id)
    with Store.open(path, clock) as store:
        assert store.details().in_flight == 1  # as it was left
        assert store.requeue_in_flight() == 1  # what the runtime does at start
        assert [decode(i.payload) for i in store.next_batch(5)] == [statuses[0], statuses[2]]
        assert store.details().acked_total == 1


def test_one_writer_at_a_time(path: Path, clock: ManualClock) -> None:
    with Store.open(path, clock), pytest.raises(StoreError, match="in use by pid"):
        Store.open(path, clock)
    Store.open(path, clock).close()  # released on close


def test_a_closed_store_says_so(path: Path, clock: ManualClock) -> None:
    store = Store.open(path, clock)
    store.close()
    store.close()
    with pytest.raises(StoreError, match="closed"):
        store.put(small_status(T0))


def test_stats_is_the_wire_summary(store: Store, clock: ManualClock) -> None:
    store.put(small_status(T0))
    store.put(problem(T0 + timedelta(minutes=2)))
    st = store.stats()
    assert (st.pending_uplink, st.tier1_statuses, st.tier2_aggregates, st.tier3_aggregates) == (
        2,
        1,
        0,
        0,
    )
    assert st.oldest_pending_at == T0
    assert st.cap_bytes == 100_000_000
    assert 0 < st.size_bytes == store.size_bytes()


def test_next_batch_can_be_bounded_in_bytes(store: Store) -> None:
    statuses = [small_status(T0 + timedelta(minutes=5 * k)) for k in range(6)]
    for s in statuses:
        store.put(s)
    one = len(encode(statuses[0]))
    assert len(store.next_batch(10, max_bytes=1)) == 1  # at least one
    assert len(store.next_batch(10, max_bytes=2 * one)) == 2
    assert len(store.next_batch(10, max_bytes=2 * one + 1)) == 3
    assert len(store.next_batch(10, max_bytes=100 * one)) == 6
