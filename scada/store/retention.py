"""Retention: whole statuses for a day, 5-minute aggregates for a week, hourly for four weeks.

One compaction (``Store.compact``) runs these steps in one transaction, on rows that are not
in flight (a message on its way to the ATN is left alone until it is acked or requeued):

1. **Expire**: rows whose data ended ``tier3_keep_s`` (28 days) ago or more are dropped.
2. **Tier 1 -> 2**: statuses whose slot ended ``tier1_keep_s`` (24 h) ago or more become
   per-channel ``tier2_period_s`` (5-minute) :class:`AggregateReport` messages.
3. **Tier 2 -> 3**: 5-minute aggregates that ended ``tier2_keep_s`` (7 days) ago or more are
   merged into ``tier3_period_s`` (hourly) ones.
4. **Cap**: while the store weighs more than its cap, the oldest rows (by the end of their
   data, whatever their tier) are dropped.

Steps 2 and 3 merge into a pending aggregate of the same period if there is one (compaction
runs every few minutes, so an hour is built up from twelve 5-minute periods over an hour of
compactions). A merged aggregate is a new message with a new id: the ATN may already hold the
old one, and the same id must never name two contents. Each step takes at most ``max_rows``
source rows; ``CompactionReport.done`` is False when one stopped early, and the caller runs
another compaction soon (after a long gap the catch-up is spread over several calls, each
short enough for the event loop). Every drop is counted per reason and tier.
"""

from __future__ import annotations

import sqlite3
import zlib
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from scada.protocol.base import new_id
from scada.protocol.codec import decode
from scada.protocol.errors import ProtocolError
from scada.protocol.readings import AggregateReport, Status
from scada.store.aggregate import Periods
from scada.store.db import bump
from scada.store.encoding import decompress, place, unpack_digest
from scada.store.rows import delete_counted, insert_message, quarantine_rows
from scada.store.stats import ROW_OVERHEAD_BYTES, stored_bytes

_S: Final = 1_000_000
_CAP_ROUNDS: Final = 8


@dataclass(frozen=True, slots=True)
class Retention:
    """How long each tier keeps its data, and the aggregate periods (seconds)."""

    tier1_keep_s: int = 86_400
    tier2_keep_s: int = 7 * 86_400
    tier3_keep_s: int = 28 * 86_400
    tier2_period_s: int = 300
    tier3_period_s: int = 3_600

    def __post_init__(self) -> None:
        if not 0 < self.tier1_keep_s <= self.tier2_keep_s <= self.tier3_keep_s:
            raise ValueError("retention: need 0 < tier1_keep_s <= tier2_keep_s <= tier3_keep_s")
        if not 0 < self.tier2_period_s < self.tier3_period_s <= 86_400:
            raise ValueError("retention: need 0 < tier2_period_s < tier3_period_s <= 86400")
        if self.tier3_period_s % self.tier2_period_s:
            raise ValueError("retention: tier3_period_s must be a multiple of tier2_period_s")


@dataclass(frozen=True, slots=True)
class CompactionReport:
    """What one compaction did. Drop tuples are per tier (1, 2, 3)."""

    at: datetime
    statuses_aggregated: int
    tier2_written: int
    tier2_merged: int
    tier3_written: int
    expired: tuple[int, int, int]
    over_cap: tuple[int, int, int]
    quarantined: int
    size_bytes: int
    cap_bytes: int
    done: bool
    elapsed_ms: float

    @property
    def dropped(self) -> int:
        return sum(self.expired) + sum(self.over_cap)

    def summary(self) -> str:
        """One line for the log."""

        def tiers(t: tuple[int, int, int]) -> str:
            return "/".join(str(n) for n in t)

        return (
            f"store compaction: dropped {self.dropped} rows (older than the last tier, per tier "
            f"{tiers(self.expired)}; over the {self.cap_bytes / 1e6:.1f} MB cap, per tier "
            f"{tiers(self.over_cap)}); {self.statuses_aggregated} statuses -> "
            f"{self.tier2_written} 5-min aggregates, {self.tier2_merged} -> "
            f"{self.tier3_written} hourly; {self.size_bytes / 1e6:.1f} MB"
        )


@dataclass(frozen=True, slots=True)
class RollUp:
    sources: int
    written: int
    quarantined: int
    full: bool


def expire(db: sqlite3.Connection, now_us: int, retention: Retention) -> tuple[int, int, int]:
    """Step 1: drop every pending row whose data ended ``tier3_keep_s`` ago or more."""
    cutoff = now_us - retention.tier3_keep_s * _S
    seqs = [
        int(r[0])
        for r in db.execute(
            "SELECT seq FROM outbox WHERE in_flight = 0 AND end_us <= ?", (cutoff,)
        ).fetchall()
    ]
    return delete_counted(db, seqs, "expired")


def roll_up(
    db: sqlite3.Connection,
    *,
    source_tier: int,
    now_us: int,
    retention: Retention,
    max_rows: int,
) -> RollUp:
    """Step 2 (``source_tier`` 1) or 3 (``source_tier`` 2)."""
    if source_tier == 1:
        kind, keep_s, period_s = "status", retention.tier1_keep_s, retention.tier2_period_s
    else:
        kind, keep_s, period_s = "aggregate", retention.tier2_keep_s, retention.tier3_period_s
    rows = db.execute(
        # by tier first: the age index would visit every older row of the other tiers
        "SELECT seq, kind, digest FROM outbox INDEXED BY outbox_tier "
        "WHERE tier = ? AND kind = ? AND in_flight = 0 AND end_us <= ? "
        "ORDER BY end_us, seq LIMIT ?",
        (source_tier, kind, now_us - keep_s * _S, max_rows),
    ).fetchall()
    if not rows:
        return RollUp(0, 0, 0, full=False)
    fresh = Periods(period_s)
    used: list[int] = []
    poison: list[tuple[int, str]] = []
    for seq, row_kind, digest in rows:
        loaded = _load(db, int(seq), str(row_kind), _blob(digest), period_s)
        if isinstance(loaded, str):
            poison.append((int(seq), f"cannot be aggregated: {loaded}"))
        else:
            fresh.absorb(loaded)
            used.append(int(seq))
    # a pending aggregate of the same period, house and SCADA is merged in (before the new data)
    combined = Periods(period_s)
    target_tier = source_tier + 1
    for start in sorted({key[2] for key in fresh.periods}):
        for seq, row_kind, digest in db.execute(
            "SELECT seq, kind, digest FROM outbox WHERE tier = ? AND start_us = ? "
            "AND kind = 'aggregate' AND in_flight = 0 ORDER BY seq",
            (target_tier, start),
        ).fetchall():
            loaded = _load(db, int(seq), str(row_kind), _blob(digest), period_s)
            if isinstance(loaded, str) or not set(loaded.periods) <= set(fresh.periods):
                continue  # leave it be: it is sent as it is, or quarantined when read
            combined.absorb(loaded)
            used.append(int(seq))
    combined.absorb(fresh)
    db.executemany("DELETE FROM outbox WHERE seq = ?", [(seq,) for seq in used])
    written = 0
    for report, digest in combined.reports(new_id):
        where = place(report, retention.tier3_period_s)
        written += insert_message(db, report, where, now_us, digest=digest)
    quarantined = quarantine_rows(db, poison, now_us)
    bump(db, f"aggregated_t{source_tier}", len(rows) - len(poison))
    return RollUp(len(rows) - len(poison), written, quarantined, full=len(rows) >= max_rows)


def _blob(value: object) -> bytes | None:
    return None if value is None else bytes(value)  # type: ignore[call-overload]


def _load(
    db: sqlite3.Connection, seq: int, kind: str, digest: bytes | None, period_s: int
) -> Periods | str:
    """Row ``seq`` as periods of ``period_s``, or why it cannot be read. The payload (a status
    is ~13 KB on disk) is read only when the digest is missing or damaged."""
    periods = Periods(period_s)
    if digest is not None:
        try:
            periods.add_digest(unpack_digest(digest))
        except ValueError:
            periods = Periods(period_s)  # fall back to the message itself
        else:
            return periods
    payload = db.execute("SELECT payload FROM outbox WHERE seq = ?", (seq,)).fetchone()[0]
    try:
        msg = decode(decompress(bytes(payload)))
    except zlib.error as exc:
        return f"damaged payload ({exc})"
    except ProtocolError as exc:
        return f"undecodable ({exc})"
    if isinstance(msg, Status) and kind == "status":
        periods.add_status(msg)
    elif isinstance(msg, AggregateReport) and kind == "aggregate":
        try:
            periods.add_report(msg)
        except ValueError as exc:
            return str(exc)
    else:
        return f"a {msg.type} message stored as a {kind}"
    return periods


def enforce_cap(db: sqlite3.Connection, cap_bytes: int) -> tuple[tuple[int, int, int], int]:
    """Step 4: drop the oldest pending rows until the pages in use weigh no more than
    ``cap_bytes``. Returns the drops per tier and the weight after."""
    dropped = [0, 0, 0]
    size = stored_bytes(db)
    for _ in range(_CAP_ROUNDS):  # each round frees about the excess; pages may need a second
        if size <= cap_bytes:
            break
        excess, freed = size - cap_bytes, 0
        victims: list[int] = []
        cur = db.execute(
            "SELECT seq, size_bytes FROM outbox WHERE in_flight = 0 ORDER BY end_us, seq"
        )
        while freed < excess and (batch := cur.fetchmany(256)):
            for seq, row_bytes in batch:
                victims.append(int(seq))
                freed += int(row_bytes) + ROW_OVERHEAD_BYTES
                if freed >= excess:
                    break
        cur.close()
        if not victims:
            break  # only messages in flight are left
        for i, n in enumerate(delete_counted(db, victims, "cap")):
            dropped[i] += n
        size = stored_bytes(db)
    return (dropped[0], dropped[1], dropped[2]), size
