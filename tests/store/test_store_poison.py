"""Poison messages are quarantined, counted and reported, never retried forever (defect 10)."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from scada.protocol.codec import encode
from scada.store import Store
from scada.store.encoding import protocol_fingerprint
from scada.store.rows import QUARANTINE_KEEP
from tests.store.store_support import T0, ManualClock, insert_raw, small_status

OLD_ID = "00000000-0000-4000-8000-000000000001"


def _first_release_status() -> bytes:
    """A status as the first release stored it (before an upgrade): version 1, with an
    ISO-8601 ``read_at`` per reading where version 2 has millisecond offsets."""
    s = small_status(T0)
    frame = json.loads(encode(s)) | {"id": OLD_ID, "version": 1}
    for c, series in zip(frame["channels"], s.channels, strict=True):
        del c["offsets_ms"]
        c["read_at"] = [t.isoformat().replace("+00:00", "Z") for t in s.read_times(series)]
    return json.dumps(frame, separators=(",", ":")).encode()


def _future_release_status() -> bytes:
    # what a later release might have stored before a downgrade: a version this one refuses
    frame = json.loads(encode(small_status(T0))) | {"id": OLD_ID, "version": 3}
    return json.dumps(frame, separators=(",", ":")).encode()


@pytest.mark.parametrize(
    ("payload", "why"),
    [
        (_first_release_status(), "unsupported version 1; this SCADA speaks version 2"),
        (_future_release_status(), "unsupported version 3; this SCADA speaks version 2"),
    ],
    ids=["after-an-upgrade", "after-a-downgrade"],
)
def test_an_undecodable_row_is_quarantined_not_handed_out(
    store: Store, payload: bytes, why: str
) -> None:
    good = small_status(T0 + timedelta(minutes=5))
    store.put(good)
    insert_raw(store.db, mid=OLD_ID, payload=payload)
    batch = store.next_batch(10)
    assert [i.id for i in batch] == [good.id]
    d = store.details()
    assert (d.quarantined, d.quarantined_total, d.pending) == (1, 1, 1)
    [q] = d.recent_quarantine
    assert q.id == OLD_ID
    assert "cannot be decoded by this release" in q.reason
    assert why in q.reason
    assert store.next_batch(10) == batch  # gone for good


def test_a_decodable_row_of_another_release_is_verified_once(store: Store) -> None:
    s = small_status(T0)
    insert_raw(store.db, mid=s.id, payload=encode(s))
    [item] = store.next_batch(1)
    assert item.payload == encode(s)
    checked = store.db.execute("SELECT checked FROM outbox WHERE id = ?", (s.id,)).fetchone()[0]
    assert checked == protocol_fingerprint()


@pytest.mark.parametrize(
    ("payload", "compressed", "codec", "reason"),
    [
        (b"\x78\x01garbage", True, 1, "damaged payload"),
        (b"{}", False, 7, "unknown codec 7"),
        (b'{"type": "status"', False, 1, "cannot be decoded"),
        (encode(small_status(T0)), False, 1, "not the status"),  # filed under another id
    ],
)
def test_unreadable_rows_are_quarantined_with_the_reason(
    store: Store, payload: bytes, compressed: bool, codec: int, reason: str
) -> None:
    insert_raw(store.db, mid=OLD_ID, payload=payload, compressed=compressed, codec=codec)
    assert store.next_batch(5) == []
    [q] = store.details().recent_quarantine
    assert reason in q.reason


def test_a_batch_is_filled_past_poison_rows(store: Store) -> None:
    for k in range(3):
        insert_raw(
            store.db,
            mid=f"00000000-0000-4000-8000-00000000000{k}",
            payload=b"not json",
            start=T0 + timedelta(minutes=k),
        )
    good = [small_status(T0 + timedelta(minutes=5 * k)) for k in range(1, 4)]
    for s in good:
        store.put(s)
    assert [i.id for i in store.next_batch(3)] == [s.id for s in good]
    assert store.details().quarantined == 3


def test_the_atn_rejects_a_message(store: Store, clock: ManualClock) -> None:
    s = small_status(T0)
    store.put(s)
    store.mark_sent([s.id])
    assert store.quarantine(s.id, "atn: unknown channel ch-0")
    assert not store.quarantine(s.id, "again")
    assert store.requeue_in_flight() == 0
    assert store.next_batch(5) == []
    d = store.details()
    assert [(q.id, q.reason, q.at) for q in d.recent_quarantine] == [
        (s.id, "atn: unknown channel ch-0", clock.now())
    ]
    assert not store.ack(s.id)  # a late ack of a quarantined message changes nothing


def test_never_acked_while_others_are_is_poison_after_max_attempts(
    path: Path, clock: ManualClock
) -> None:
    with Store.open(path, clock, max_attempts=3) as store:
        poison = small_status(T0)
        store.put(poison)
        for attempt in range(1, 4):
            clock.advance(1)
            store.put(small_status(T0 + timedelta(minutes=5 * attempt + 5)))
            batch = store.next_batch(10)
            assert batch[0].id == poison.id
            store.mark_sent(i.id for i in batch)
            store.ack_many(i.id for i in batch[1:])  # the ATN acks all but the poison one
            clock.advance(5)
            store.requeue_in_flight()  # ack timeout
        assert store.next_batch(10) == []
        d = store.details()
        assert d.quarantined == 1
        assert "sent 3 times and never acknowledged" in d.recent_quarantine[0].reason


def test_an_absent_atn_quarantines_nothing(path: Path, clock: ManualClock) -> None:
    # resends while nobody acks anything are not evidence of poison
    with Store.open(path, clock, max_attempts=3) as store:
        s = small_status(T0)
        store.put(s)
        for _ in range(10):
            store.mark_sent([s.id])
            clock.advance(5)
            store.requeue_in_flight()
        assert [i.attempts for i in store.next_batch(1)] == [10]
        assert store.details().quarantined == 0


def test_an_atn_gone_silent_after_acking_others_quarantines_nothing(
    path: Path, clock: ManualClock
) -> None:
    # It acked others after this one's first send, then heard nothing: no evidence of poison
    # (the soak found statuses lost so while the ATN was stopped for 15 minutes).
    with Store.open(path, clock, max_attempts=3) as store:
        waiting, other = small_status(T0), small_status(T0 + timedelta(minutes=5))
        store.put(waiting)
        store.put(other)
        store.mark_sent([waiting.id, other.id])
        clock.advance(1)
        store.ack_many([other.id])
        for _ in range(5):
            clock.advance(5)
            store.requeue_in_flight()  # ack timeout: the ATN is silent
            store.mark_sent([waiting.id])
        assert [i.attempts for i in store.next_batch(1)] == []  # in flight, not quarantined
        assert store.details().quarantined == 0


def test_the_quarantine_keeps_the_newest_payloads_and_counts_all(
    path: Path, clock: ManualClock
) -> None:
    with Store.open(path, clock, durable=False) as store:
        for k in range(QUARANTINE_KEEP + 5):
            s = small_status(T0 + timedelta(minutes=5 * k))
            store.put(s)
            store.quarantine(s.id, f"reject {k}")
        d = store.details()
        assert (d.quarantined, d.quarantined_total) == (QUARANTINE_KEEP, QUARANTINE_KEEP + 5)
        assert [q.reason for q in d.recent_quarantine][:2] == [
            f"reject {QUARANTINE_KEEP + 4}",
            f"reject {QUARANTINE_KEEP + 3}",
        ]
