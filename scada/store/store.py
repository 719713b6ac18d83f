"""The store: a durable outbox of the messages the ATN must acknowledge, with retention tiers.

One :class:`Store` owns one SQLite file (and a lock beside it) and one connection, used from
the event loop: every call is a short synchronous transaction (measured in
``bench/bench_store.py``). The life of a message:

``put`` -> pending -> ``next_batch`` hands it out -> ``mark_sent`` -> in flight -> ``ack``
deletes it (gone for good), or ``requeue_in_flight`` makes it pending again (a disconnect, an
ack timeout, a restart), or ``quarantine`` takes it out (the ATN rejected it, or it cannot be
decoded any more). An ack and the deletion are one transaction, so an acknowledged message is
never handed out again; a message leaves the outbox no other way than by an ack, a quarantine
or a counted drop (retention or the size cap), so nothing unacknowledged is lost silently.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Final

from scada.clock import Clock
from scada.protocol.readings import Status
from scada.protocol.snapshot import StoreStats
from scada.store.aggregate import status_digest
from scada.store.db import (
    StoreError,
    StoreLock,
    bump,
    connect_writer,
    counters,
    move_aside,
    set_counter,
    transaction,
)
from scada.store.encoding import (
    Kind,
    OutboxMessage,
    from_us,
    place,
    protocol_fingerprint,
    readable_payload,
    to_us,
)
from scada.store.retention import (
    CompactionReport,
    Retention,
    enforce_cap,
    expire,
    roll_up,
)
from scada.store.rows import insert_message, quarantine_rows
from scada.store.schema import SchemaError
from scada.store.stats import (
    FILL_ALARM,
    FILL_CLEAR,
    StoreDetails,
    read_details,
    stored_bytes,
)

log = logging.getLogger("scada.store")

STORE_FILE: Final = "store.sqlite3"
DEFAULT_CAP_BYTES: Final = 100_000_000
DEFAULT_MAX_ATTEMPTS: Final = 10
DEFAULT_COMPACT_ROWS: Final = 100
VACUUM_SLACK_BYTES: Final = 4 << 20
_CORRUPT: Final = frozenset({"SQLITE_CORRUPT", "SQLITE_NOTADB"})
_BATCH_ROUNDS: Final = 20


def store_path(data_dir: Path) -> Path:
    """Where the store lives in a data dir."""
    return data_dir / STORE_FILE


@dataclass(frozen=True, slots=True)
class OutboxItem:
    """A message handed out by :meth:`Store.next_batch`: ``payload`` is the codec JSON to
    publish as it is; ``attempts`` counts earlier sends (0 the first time)."""

    id: str
    kind: Kind
    tier: int
    start: datetime
    end: datetime
    created_at: datetime
    attempts: int
    payload: bytes


class Store:
    """The store-and-forward outbox and its retention tiers. Open with :meth:`open`."""

    def __init__(
        self,
        db: sqlite3.Connection,
        lock: StoreLock,
        path: Path,
        clock: Clock,
        *,
        cap_bytes: int,
        retention: Retention,
        max_attempts: int | None,
        on_drop: Callable[[CompactionReport], None] | None,
    ) -> None:
        self._db: sqlite3.Connection | None = db
        self._lock = lock
        self.path = path
        self._clock = clock
        self.cap_bytes = cap_bytes
        self.retention = retention
        self.max_attempts = max_attempts
        self._on_drop = on_drop

    # ------------------------------------------------------------------ open / close
    @classmethod
    def open(
        cls,
        path: Path | str,
        clock: Clock,
        *,
        cap_bytes: int = DEFAULT_CAP_BYTES,
        retention: Retention | None = None,
        max_attempts: int | None = DEFAULT_MAX_ATTEMPTS,
        on_drop: Callable[[CompactionReport], None] | None = None,
        durable: bool = True,
        recover_corrupt: bool = True,
    ) -> Store:
        """Open (creating, or migrating to the current schema) the store at ``path``.

        Args:
            cap_bytes: the most the stored data may weigh; compaction drops the oldest rows
                above it.
            max_attempts: a message sent this many times and never acknowledged while the
                ATN acknowledged others is quarantined at its next requeue (``None``: never).
            on_drop: called once per compaction that dropped anything (also logged).
            durable: ``synchronous=FULL`` (a commit is on disk when it returns, through a
                power cut; acks and sends excepted, see :meth:`ack_many`); ``False`` still
                survives a killed process (tests, benchmarks).
            recover_corrupt: a damaged file is moved aside (``<name>.corrupt-<time>``) and a
                new one started, so the SCADA keeps running; ``False`` raises instead.

        Raises:
            StoreError: the store is locked by another process, was written by a newer
                release, or cannot be opened.
        """
        if cap_bytes <= 0:
            raise ValueError("cap_bytes must be positive")
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        lock = StoreLock(path)
        lock.acquire()
        try:
            db = cls._connect(path, clock, durable=durable, recover_corrupt=recover_corrupt)
        except BaseException:
            lock.release()
            raise
        store = cls(
            db,
            lock,
            path,
            clock,
            cap_bytes=cap_bytes,
            retention=retention or Retention(),
            max_attempts=max_attempts,
            on_drop=on_drop,
        )
        with transaction(db):
            set_counter(db, "cap_bytes", cap_bytes)  # for `scada store stats`
        return store

    @staticmethod
    def _connect(
        path: Path, clock: Clock, *, durable: bool, recover_corrupt: bool
    ) -> sqlite3.Connection:
        try:
            return connect_writer(path, durable=durable)
        except SchemaError as exc:
            raise StoreError(f"{path}: {exc}") from None
        except sqlite3.DatabaseError as exc:
            if not (_damaged(exc) and recover_corrupt):
                raise StoreError(f"{path}: cannot open the store: {exc}") from exc
            move_aside(path, clock.now(), str(exc))
        db = connect_writer(path, durable=durable)
        with transaction(db):
            bump(db, "corrupt_moved_aside")
        return db

    def close(self) -> None:
        """Close the file and release the lock (idempotent)."""
        if self._db is not None:
            self._db.close()
            self._db = None
            self._lock.release()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def db(self) -> sqlite3.Connection:
        if self._db is None:
            raise StoreError(f"{self.path}: the store is closed")
        return self._db

    def _now_us(self) -> int:
        return to_us(self._clock.now())

    # ------------------------------------------------------------------ outbox
    def put(self, msg: OutboxMessage, *, encoded: bytes | None = None) -> bool:
        """Store ``msg`` (a status, aggregate report or problem event) until it is acked.

        ``encoded`` may pass ``encode(msg)`` when the caller has it already. Committed (on
        disk) when this returns. Idempotent: False if a message with this id is already
        there (it is left as it is).
        """
        where = place(msg, self.retention.tier3_period_s)
        digest = (
            status_digest(msg, self.retention.tier2_period_s) if isinstance(msg, Status) else None
        )
        with transaction(self.db) as db:
            return insert_message(db, msg, where, self._now_us(), encoded=encoded, digest=digest)

    def next_batch(self, limit: int, *, max_bytes: int | None = None) -> list[OutboxItem]:
        """Up to ``limit`` pending messages in the order they should go up: tier 1 (statuses
        and problem events, by the time they end) first, then the aggregates, oldest first.

        ``max_bytes`` stops the batch once its payloads reach that many bytes (it holds at
        least one message): it bounds both the call's time (each payload is decompressed, about
        0.15 ms for a 35 KB status here) and the bytes in flight. Does not mark them sent (see
        :meth:`mark_sent`).

        A row that cannot be read (a damaged payload, an unknown codec, or, for a row written
        by another release, a payload this release cannot decode) is quarantined here instead
        of being handed out.
        """
        if limit <= 0:
            return []
        fingerprint = protocol_fingerprint()
        items: list[OutboxItem] = []
        poison: list[tuple[int, str]] = []
        verified: list[int] = []
        after = (-1, -1, -1)
        size = 0
        for _ in range(_BATCH_ROUNDS):
            want = limit - len(items)
            cursor = self.db.execute(
                "SELECT seq, id, kind, tier, start_us, end_us, created_us, attempts, checked, "
                "codec, payload FROM outbox WHERE in_flight = 0 AND (tier > 1, end_us, seq) > "
                "(?, ?, ?) ORDER BY tier > 1, end_us, seq LIMIT ?",
                (*after, want),
            )
            seen, full = 0, False
            for seq, mid, kind, tier, start, end, created, attempts, checked, codec, blob in cursor:
                seen += 1
                after = (int(tier > 1), int(end), int(seq))
                payload, why = readable_payload(
                    str(mid), str(kind), int(codec), bytes(blob), checked == fingerprint
                )
                if payload is None:
                    poison.append((int(seq), why))
                    continue
                if checked != fingerprint:
                    verified.append(int(seq))
                items.append(
                    OutboxItem(
                        id=str(mid),
                        kind=kind,
                        tier=int(tier),
                        start=from_us(int(start)),
                        end=from_us(int(end)),
                        created_at=from_us(int(created)),
                        attempts=int(attempts),
                        payload=payload,
                    )
                )
                size += len(payload)
                full = max_bytes is not None and size >= max_bytes
                if full:
                    break
            cursor.close()  # the rows after a full batch are never read
            if full or seen < want or len(items) >= limit:
                break
        if poison or verified:
            with transaction(self.db) as db:
                quarantine_rows(db, poison, self._now_us())
                db.executemany(
                    "UPDATE outbox SET checked = ? WHERE seq = ?",
                    [(fingerprint, seq) for seq in verified],
                )
        return items

    def mark_sent(self, ids: Iterable[str]) -> int:
        """Mark messages in flight (sent, awaiting their ack) at the clock's now; returns how
        many of them are in the outbox. Marking one already in flight counts a new attempt."""
        now = self._now_us()
        # Not flushed (see ack_many): lost only to a power cut, which costs one uncounted
        # attempt, and the messages are pending again at start anyway.
        with transaction(self.db, flush=False) as db:
            return db.executemany(
                "UPDATE outbox SET in_flight = 1, sent_us = ?, attempts = attempts + 1, "
                "first_sent_us = COALESCE(first_sent_us, ?) WHERE id = ?",
                [(now, now, mid) for mid in ids],
            ).rowcount

    def ack(self, message_id: str) -> bool:
        """The ATN has the message: delete it. True if it was here; an ack for an id that is
        not (acked before, dropped, quarantined, never ours) is harmless and returns False."""
        return self.ack_many((message_id,)) == 1

    def ack_many(self, ids: Iterable[str]) -> int:
        """:meth:`ack` for many ids in one transaction; returns how many were here. The link
        should gather the acks that arrive together and ack them at once.

        The commit is not flushed to the disk (``synchronous=NORMAL``): a re-upload is one
        ack transaction per few messages, and a flush each (~5-10 ms on an SD card) was most
        of its time. It survives a killed process like any commit (the kill -9 tests);
        a power cut may undo the last acks before the next flushed commit (a put), and those
        messages go up again: the ATN sees an id twice, and nothing is lost, since every put
        is flushed, and with it every ack written before it.
        """
        with transaction(self.db, flush=False) as db:
            n = db.executemany("DELETE FROM outbox WHERE id = ?", [(mid,) for mid in ids]).rowcount
            if n:
                bump(db, "acked", n)
                set_counter(db, "last_ack_us", self._now_us())
            return n

    def requeue_in_flight(self, ids: Iterable[str] | None = None) -> int:
        """Make in-flight messages pending again (all of them, or those of ``ids``): after a
        disconnect, an ack timeout, or at start. Returns how many were requeued.

        A message sent ``max_attempts`` times that is still unacknowledged although the ATN
        acknowledged others since its last send is poison (defect 10 of the original replayed
        such a message forever): it is quarantined instead. Since its *last* send, not its
        first: an ATN that acked others and then went silent for ``max_attempts`` ack timeouts
        acknowledges nothing, and its messages are only waiting for it.
        """
        with transaction(self.db) as db:
            if ids is None:
                rows = db.execute(
                    "SELECT seq, attempts, sent_us FROM outbox WHERE in_flight = 1"
                ).fetchall()
            else:
                rows = []
                for mid in ids:
                    rows.extend(
                        db.execute(
                            "SELECT seq, attempts, sent_us FROM outbox "
                            "WHERE id = ? AND in_flight = 1",
                            (mid,),
                        ).fetchall()
                    )
            last_ack = counters(db).get("last_ack_us")
            poison: list[tuple[int, str]] = []
            requeue: list[tuple[int]] = []
            for seq, attempts, last_sent in rows:
                if (
                    self.max_attempts is not None
                    and attempts >= self.max_attempts
                    and last_ack is not None
                    and last_sent is not None
                    and last_ack >= last_sent
                ):
                    poison.append(
                        (
                            int(seq),
                            (
                                f"sent {attempts} times and never acknowledged, while the "
                                "ATN acknowledged other messages"
                            ),
                        )
                    )
                else:
                    requeue.append((int(seq),))
            db.executemany("UPDATE outbox SET in_flight = 0 WHERE seq = ?", requeue)
            quarantine_rows(db, poison, self._now_us())
            return len(requeue)

    def quarantine(self, message_id: str, reason: str) -> bool:
        """Take a poison message out of the outbox (kept aside with ``reason``, counted and
        reported; never sent again). True if it was here."""
        with transaction(self.db) as db:
            row = db.execute("SELECT seq FROM outbox WHERE id = ?", (message_id,)).fetchone()
            if row is None:
                return False
            return quarantine_rows(db, [(int(row[0]), reason)], self._now_us()) == 1

    # ------------------------------------------------------------------ retention
    def compact(
        self, now: datetime | None = None, *, max_rows: int = DEFAULT_COMPACT_ROWS
    ) -> CompactionReport:
        """Apply retention at ``now`` (default: the clock's): expire, aggregate, cap. See
        :mod:`scada.store.retention`. Call it every few minutes, and again at once while the
        report says it is not ``done``."""
        started = time.perf_counter()
        now = now or self._clock.now()
        now_us = to_us(now)
        with transaction(self.db) as db:
            expired = expire(db, now_us, self.retention)
            one = roll_up(
                db, source_tier=1, now_us=now_us, retention=self.retention, max_rows=max_rows
            )
            two = roll_up(
                db, source_tier=2, now_us=now_us, retention=self.retention, max_rows=max_rows
            )
            over_cap, size = enforce_cap(db, self.cap_bytes)
            set_counter(db, "last_compaction_us", now_us)
            alarm_was = bool(counters(db).get("fill_alarm", 0))
            if sum(over_cap) or size >= FILL_ALARM * self.cap_bytes:
                alarm = True
            elif size < FILL_CLEAR * self.cap_bytes:
                alarm = False
            else:
                alarm = alarm_was
            set_counter(db, "fill_alarm", int(alarm))
        self._vacuum()
        report = CompactionReport(
            at=now,
            statuses_aggregated=one.sources,
            tier2_written=one.written,
            tier2_merged=two.sources,
            tier3_written=two.written,
            expired=expired,
            over_cap=over_cap,
            quarantined=one.quarantined + two.quarantined,
            size_bytes=size,
            cap_bytes=self.cap_bytes,
            done=not (one.full or two.full),
            elapsed_ms=(time.perf_counter() - started) * 1000,
        )
        if alarm != alarm_was:
            level = logging.WARNING if alarm else logging.INFO
            log.log(
                level,
                "store: %.0f%% full (%.1f of %.1f MB)%s",
                100 * size / self.cap_bytes,
                size / 1e6,
                self.cap_bytes / 1e6,
                ": the oldest data goes first at the cap" if alarm else ": alarm cleared",
            )
        if report.dropped:
            log.warning("%s", report.summary())
            if self._on_drop is not None:
                self._on_drop(report)
        return report

    def _vacuum(self) -> None:
        """Give free pages back to the filesystem once there are many (the file shrinks after
        a backlog drains)."""
        page = int(self.db.execute("PRAGMA page_size").fetchone()[0])
        free = int(self.db.execute("PRAGMA freelist_count").fetchone()[0])
        total = int(self.db.execute("PRAGMA page_count").fetchone()[0])
        if free * page >= VACUUM_SLACK_BYTES and free * 4 >= total:
            # executescript steps it to the end: execute() would free a single page
            self.db.executescript("PRAGMA incremental_vacuum;")
            # the file shrinks when the WAL is written back; then the WAL is truncated too
            self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()

    # ------------------------------------------------------------------ visibility
    def details(self) -> StoreDetails:
        """Everything about the store (what ``scada store stats`` shows)."""
        return read_details(self.db, self.path, self.cap_bytes)

    def stats(self) -> StoreStats:
        """The wire summary for the snapshot and the local API."""
        return self.details().to_store_stats()

    def size_bytes(self) -> int:
        """What the cap bounds, now."""
        return stored_bytes(self.db)


def _damaged(exc: sqlite3.DatabaseError) -> bool:
    """The file itself is damaged (not, say, unreadable for lack of permission)."""
    return getattr(exc, "sqlite_errorname", None) in _CORRUPT or str(exc).startswith("quick_check")
