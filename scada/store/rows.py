"""Row-level writes shared by the outbox and the retention: insert, quarantine, delete counted.

Every function runs inside the caller's transaction and never commits.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterable, Sequence
from typing import Final

from scada.protocol.codec import encode
from scada.store.db import bump
from scada.store.encoding import (
    CODEC_ZLIB_JSON,
    OutboxMessage,
    Placement,
    compress,
    pack_digest,
    protocol_fingerprint,
)

log = logging.getLogger("scada.store")

QUARANTINE_KEEP: Final = 200
"""Quarantined rows kept with their payload (newest first); the total is counted apart."""


def insert_message(
    db: sqlite3.Connection,
    msg: OutboxMessage,
    where: Placement,
    created_us: int,
    *,
    encoded: bytes | None = None,
    digest: str | None = None,
) -> bool:
    """Insert ``msg`` unless a row with its id is already there; True if inserted."""
    payload = compress(encoded if encoded is not None else encode(msg))
    packed = pack_digest(digest) if digest is not None else None
    size = len(payload) + (len(packed) if packed is not None else 0)
    cur = db.execute(
        "INSERT OR IGNORE INTO outbox (id, kind, tier, start_us, end_us, created_us, checked, "
        "codec, size_bytes, digest, payload) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            msg.id,
            where.kind,
            where.tier,
            where.start_us,
            where.end_us,
            created_us,
            protocol_fingerprint(),
            CODEC_ZLIB_JSON,
            size,
            packed,
            payload,
        ),
    )
    return cur.rowcount == 1


def quarantine_rows(db: sqlite3.Connection, poison: Sequence[tuple[int, str]], now_us: int) -> int:
    """Move the rows ``seq`` of ``poison`` (with their reasons) to the quarantine; return how
    many were still there. Logs one line per row: quarantines are rare and each one matters."""
    moved = 0
    for seq, reason in poison:
        row = db.execute(
            "SELECT id, kind, tier, start_us, attempts FROM outbox WHERE seq = ?", (seq,)
        ).fetchone()
        if row is None:
            continue
        db.execute(
            "INSERT INTO quarantine (id, kind, tier, start_us, quarantined_us, attempts, reason, "
            "codec, payload) SELECT id, kind, tier, start_us, ?, attempts, ?, codec, payload "
            "FROM outbox WHERE seq = ?",
            (now_us, reason, seq),
        )
        db.execute("DELETE FROM outbox WHERE seq = ?", (seq,))
        moved += 1
        log.warning("store: quarantined %s %s (tier %d): %s", row[1], row[0], row[2], reason)
    if moved:
        bump(db, "quarantined", moved)
        db.execute(
            "DELETE FROM quarantine WHERE seq <= "
            "(SELECT seq FROM quarantine ORDER BY seq DESC LIMIT 1 OFFSET ?)",
            (QUARANTINE_KEEP,),
        )
    return moved


def delete_counted(
    db: sqlite3.Connection, seqs: Iterable[int], reason: str
) -> tuple[int, int, int]:
    """Delete rows ``seqs`` and count them per tier under ``dropped_<reason>_t<tier>``."""
    per_tier = [0, 0, 0]
    for seq in seqs:
        row = db.execute("SELECT tier FROM outbox WHERE seq = ?", (seq,)).fetchone()
        if row is None:
            continue
        db.execute("DELETE FROM outbox WHERE seq = ?", (seq,))
        per_tier[int(row[0]) - 1] += 1
    for i, n in enumerate(per_tier):
        bump(db, f"dropped_{reason}_t{i + 1}", n)
    return (per_tier[0], per_tier[1], per_tier[2])
