"""The store's SQLite schema and its migrations, versioned by ``PRAGMA user_version``.

Version N of the schema is what ``MIGRATIONS[:N]`` build, applied in order from an empty file.
Each migration runs in its own ``BEGIN IMMEDIATE`` transaction together with the
``user_version`` bump, so a kill -9 half-way leaves the file at the previous version, intact.
A file of a *newer* version than this code knows is refused, never touched.

To change the schema: append a function to :data:`MIGRATIONS` (never edit an old one) and
write a test that opens a file of the previous version.

Tables (version 1):

``outbox``
    One row per message awaiting the ATN's acknowledgement. ``seq`` is the insertion order;
    ``id`` the message id; ``kind`` its type (status / aggregate / problem); ``tier`` 1 (whole
    statuses and problem events), 2 (5-minute aggregates) or 3 (hourly); ``start_us`` /
    ``end_us`` the time the data covers (µs since the epoch; a problem's instant twice);
    ``created_us`` when the row was written; ``in_flight`` 1 between a send and its ack or
    requeue, with ``sent_us`` (last send), ``first_sent_us`` and ``attempts``; ``checked`` the
    protocol fingerprint the payload was last verified against; ``codec`` 1 = zlib JSON;
    ``size_bytes`` what the row weighs (payload plus digest); ``digest`` the store's own
    aggregation summary (statuses and aggregates, zlib JSON); ``payload`` last (it may spill
    to overflow pages, which a scan of the columns before it never reads).
``quarantine``
    Poison messages taken out of the outbox, with the reason; only the newest few hundred
    are kept (the count in ``counters`` is the total).
``counters``
    Named integers that survive restarts: acks, drops per reason and tier, quarantines,
    aggregations, last ack and last compaction times.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from typing import Final

Migration = Callable[[sqlite3.Connection], None]


def _v1(db: sqlite3.Connection) -> None:
    db.execute(
        """
        CREATE TABLE outbox (
            seq INTEGER PRIMARY KEY,
            id TEXT NOT NULL UNIQUE,
            kind TEXT NOT NULL CHECK (kind IN ('status', 'aggregate', 'problem')),
            tier INTEGER NOT NULL CHECK (tier IN (1, 2, 3)),
            start_us INTEGER NOT NULL,
            end_us INTEGER NOT NULL,
            created_us INTEGER NOT NULL,
            in_flight INTEGER NOT NULL DEFAULT 0 CHECK (in_flight IN (0, 1)),
            sent_us INTEGER,
            first_sent_us INTEGER,
            attempts INTEGER NOT NULL DEFAULT 0,
            checked TEXT NOT NULL,
            codec INTEGER NOT NULL,
            size_bytes INTEGER NOT NULL,
            digest BLOB,
            payload BLOB NOT NULL
        )
        """
    )
    # next_batch: pending rows, tier 1 before the aggregates, oldest first
    db.execute("CREATE INDEX outbox_send_order ON outbox (in_flight, tier > 1, end_us, seq)")
    # expiry and the size cap: pending rows by age
    db.execute("CREATE INDEX outbox_age ON outbox (in_flight, end_us)")
    # compaction (a tier's pending rows by age) and stats: covering, so neither reads the rows
    # themselves (their payloads fill whole pages)
    db.execute(
        "CREATE INDEX outbox_tier ON outbox (tier, kind, in_flight, end_us, start_us, size_bytes)"
    )
    # compaction: the aggregate of a period, to merge into
    db.execute("CREATE INDEX outbox_period ON outbox (tier, start_us)")
    db.execute(
        """
        CREATE TABLE quarantine (
            seq INTEGER PRIMARY KEY,
            id TEXT NOT NULL,
            kind TEXT NOT NULL,
            tier INTEGER NOT NULL,
            start_us INTEGER NOT NULL,
            quarantined_us INTEGER NOT NULL,
            attempts INTEGER NOT NULL,
            reason TEXT NOT NULL,
            codec INTEGER NOT NULL,
            payload BLOB NOT NULL
        )
        """
    )
    db.execute(
        "CREATE TABLE counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID"
    )


MIGRATIONS: Final[tuple[Migration, ...]] = (_v1,)
SCHEMA_VERSION: Final = len(MIGRATIONS)
"""The schema version this code writes and reads."""


class SchemaError(Exception):
    """The file's schema is not one this code can use."""


def user_version(db: sqlite3.Connection) -> int:
    row = db.execute("PRAGMA user_version").fetchone()
    return int(row[0])


def migrate(db: sqlite3.Connection, migrations: Sequence[Migration] = MIGRATIONS) -> int:
    """Bring ``db`` (in autocommit mode) up to ``len(migrations)``; return the old version."""
    start = user_version(db)
    if start > len(migrations):
        raise SchemaError(
            f"schema version {start} is newer than this SCADA knows ({len(migrations)}); "
            "it was written by a newer release"
        )
    for version in range(start, len(migrations)):
        db.execute("BEGIN IMMEDIATE")
        try:
            migrations[version](db)
            db.execute(f"PRAGMA user_version = {version + 1}")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
    return start
