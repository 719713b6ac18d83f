"""What is in the store: per-tier rows, times and bytes, in flight, quarantine, drops, acks.

:func:`read_details` works on any connection (the writer's, or a read-only one opened by
``scada store stats`` beside a running SCADA); :func:`details_at` opens the file read-only.
:meth:`StoreDetails.to_store_stats` is the wire summary (:class:`StoreStats`) for the snapshot.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Final

from scada.protocol.snapshot import StoreStats, TierSummary
from scada.store.db import StoreError, connect_reader, counters
from scada.store.encoding import from_us
from scada.store.schema import SCHEMA_VERSION, user_version

ROW_OVERHEAD_BYTES: Final = 200
"""About what a row costs beyond its payload and digest (columns, indexes, page slack): used to
choose how many rows to drop at the cap, which is then measured again in pages."""

FILL_ALARM: Final = 0.9
"""Share of the cap at which the store raises its fill alarm (and logs it, once)..."""

FILL_CLEAR: Final = 0.7
"""... and below which the alarm clears (at the cap, the fill swings by a row's weight)."""

QUARANTINE_SHOWN: Final = 5

# (name, tier, kind) of each line of the report, in order
SECTIONS: Final = (
    ("statuses", 1, "status"),
    ("problems", 1, "problem"),
    ("5-min aggregates", 2, "aggregate"),
    ("hourly aggregates", 3, "aggregate"),
)


@dataclass(frozen=True, slots=True)
class TierStats:
    """One section of the outbox: ``rows`` of ``kind`` in ``tier``, ``in_flight`` of them sent
    and awaiting their ack, covering ``oldest`` (first start) to ``newest`` (last end)."""

    name: str
    tier: int
    kind: str
    rows: int
    in_flight: int
    size_bytes: int
    oldest: datetime | None
    newest: datetime | None


@dataclass(frozen=True, slots=True)
class Quarantined:
    id: str
    kind: str
    at: datetime
    reason: str


@dataclass(frozen=True, slots=True)
class StoreDetails:
    """Everything ``scada store stats`` shows. ``size_bytes`` is what the cap bounds: the
    database pages in use (what the file weighs once free pages are given back); a tier's
    ``size_bytes`` is its rows' data (compressed payloads and digests); ``file_bytes`` the
    database and WAL files on disk now."""

    path: str
    schema_version: int
    tiers: tuple[TierStats, ...]
    size_bytes: int
    cap_bytes: int
    file_bytes: int
    quarantined: int
    quarantined_total: int
    recent_quarantine: tuple[Quarantined, ...]
    dropped_expired: tuple[int, int, int]
    dropped_cap: tuple[int, int, int]
    statuses_aggregated: int
    acked_total: int
    last_ack_at: datetime | None
    last_compaction_at: datetime | None
    fill_alarm: bool
    moved_aside: int
    """Damaged files this store replaced (see ``Store.open(recover_corrupt=...)``)."""
    """Raised by a compaction at :data:`FILL_ALARM` of the cap (or a drop at the cap), cleared
    by one below :data:`FILL_CLEAR`."""

    @property
    def pending(self) -> int:
        """Rows awaiting an ack (in flight or not)."""
        return sum(t.rows for t in self.tiers)

    @property
    def data_bytes(self) -> int:
        """The rows' data (compressed payloads and digests), all tiers."""
        return sum(t.size_bytes for t in self.tiers)

    @property
    def in_flight(self) -> int:
        return sum(t.in_flight for t in self.tiers)

    @property
    def oldest_pending_at(self) -> datetime | None:
        return min((t.oldest for t in self.tiers if t.oldest is not None), default=None)

    @property
    def fill(self) -> float:
        return self.size_bytes / self.cap_bytes if self.cap_bytes else 0.0

    def tier(self, name: str) -> TierStats:
        return next(t for t in self.tiers if t.name == name)

    def to_store_stats(self) -> StoreStats:
        return StoreStats(
            pending_uplink=self.pending,
            tier1_statuses=self.tier("statuses").rows,
            tier2_aggregates=self.tier("5-min aggregates").rows,
            tier3_aggregates=self.tier("hourly aggregates").rows,
            size_bytes=self.size_bytes,
            cap_bytes=self.cap_bytes,
            oldest_pending_at=self.oldest_pending_at,
            in_flight=self.in_flight,
            quarantined=self.quarantined,
            dropped=sum(self.dropped_expired) + sum(self.dropped_cap),
            fill_alarm=self.fill_alarm,
            last_ack_at=self.last_ack_at,
            tiers=tuple(
                TierSummary(
                    name=t.name,
                    rows=t.rows,
                    in_flight=t.in_flight,
                    size_bytes=t.size_bytes,
                    oldest=t.oldest,
                    newest=t.newest,
                )
                for t in self.tiers
            ),
        )

    def to_json(self) -> dict[str, Any]:
        """Plain JSON-able data (times as ISO-8601 UTC)."""

        def t(when: datetime | None) -> str | None:
            return None if when is None else when.isoformat().replace("+00:00", "Z")

        return {
            "path": self.path,
            "schema_version": self.schema_version,
            "tiers": [
                {
                    "name": x.name,
                    "tier": x.tier,
                    "kind": x.kind,
                    "rows": x.rows,
                    "in_flight": x.in_flight,
                    "size_bytes": x.size_bytes,
                    "oldest": t(x.oldest),
                    "newest": t(x.newest),
                }
                for x in self.tiers
            ],
            "pending": self.pending,
            "in_flight": self.in_flight,
            "oldest_pending_at": t(self.oldest_pending_at),
            "size_bytes": self.size_bytes,
            "data_bytes": self.data_bytes,
            "cap_bytes": self.cap_bytes,
            "fill": round(self.fill, 4),
            "fill_alarm": self.fill_alarm,
            "file_bytes": self.file_bytes,
            "quarantined": self.quarantined,
            "quarantined_total": self.quarantined_total,
            "recent_quarantine": [
                {"id": q.id, "kind": q.kind, "at": t(q.at), "reason": q.reason}
                for q in self.recent_quarantine
            ],
            "dropped_expired": {f"tier{i + 1}": n for i, n in enumerate(self.dropped_expired)},
            "dropped_cap": {f"tier{i + 1}": n for i, n in enumerate(self.dropped_cap)},
            "statuses_aggregated": self.statuses_aggregated,
            "acked_total": self.acked_total,
            "last_ack_at": t(self.last_ack_at),
            "last_compaction_at": t(self.last_compaction_at),
            "moved_aside": self.moved_aside,
        }


def stored_bytes(db: sqlite3.Connection) -> int:
    """What the cap bounds: the database pages in use (inside a transaction, as it stands)."""
    pages = int(db.execute("PRAGMA page_count").fetchone()[0])
    free = int(db.execute("PRAGMA freelist_count").fetchone()[0])
    return (pages - free) * int(db.execute("PRAGMA page_size").fetchone()[0])


def file_bytes(path: Path) -> int:
    total = 0
    for suffix in ("", "-wal"):
        f = path.with_name(path.name + suffix)
        if f.exists():
            total += f.stat().st_size
    return total


def _time(us: object) -> datetime | None:
    return None if us is None else from_us(int(str(us)))


def read_details(db: sqlite3.Connection, path: Path, cap_bytes: int) -> StoreDetails:
    """Read the whole report in one read transaction (a consistent picture)."""
    db.execute("BEGIN")
    try:
        rows = {
            (int(tier), str(kind)): (int(n), int(inf), int(size), lo, hi)
            for tier, kind, n, inf, size, lo, hi in db.execute(
                "SELECT tier, kind, COUNT(*), SUM(in_flight), SUM(size_bytes), "
                "MIN(start_us), MAX(end_us) FROM outbox GROUP BY tier, kind"
            )
        }
        tiers = []
        for name, tier, kind in SECTIONS:
            n, inf, size, lo, hi = rows.get((tier, kind), (0, 0, 0, None, None))
            tiers.append(TierStats(name, tier, kind, n, inf, size, _time(lo), _time(hi)))
        quarantined = int(db.execute("SELECT COUNT(*) FROM quarantine").fetchone()[0])
        recent = tuple(
            Quarantined(str(i), str(k), from_us(int(at)), str(r))
            for i, k, at, r in db.execute(
                "SELECT id, kind, quarantined_us, reason FROM quarantine ORDER BY seq DESC LIMIT ?",
                (QUARANTINE_SHOWN,),
            )
        )
        c = counters(db)
        version = user_version(db)
        in_use = stored_bytes(db)
    finally:
        db.execute("COMMIT")
    return StoreDetails(
        path=str(path),
        schema_version=version,
        tiers=tuple(tiers),
        size_bytes=in_use,
        cap_bytes=c.get("cap_bytes", cap_bytes) if cap_bytes <= 0 else cap_bytes,
        file_bytes=file_bytes(path),
        quarantined=quarantined,
        quarantined_total=c.get("quarantined", 0),
        recent_quarantine=recent,
        dropped_expired=(
            c.get("dropped_expired_t1", 0),
            c.get("dropped_expired_t2", 0),
            c.get("dropped_expired_t3", 0),
        ),
        dropped_cap=(
            c.get("dropped_cap_t1", 0),
            c.get("dropped_cap_t2", 0),
            c.get("dropped_cap_t3", 0),
        ),
        statuses_aggregated=c.get("aggregated_t1", 0),
        acked_total=c.get("acked", 0),
        last_ack_at=_time(c.get("last_ack_us")),
        last_compaction_at=_time(c.get("last_compaction_us")),
        fill_alarm=bool(c.get("fill_alarm", 0)),
        moved_aside=c.get("corrupt_moved_aside", 0),
    )


def details_at(path: Path) -> StoreDetails:
    """Open the store at ``path`` read-only and report on it (the cap is the one the SCADA
    that writes it last recorded)."""
    db = connect_reader(path)
    try:
        try:
            version = user_version(db)
            if version != SCHEMA_VERSION:
                raise StoreError(
                    f"{path}: store schema version {version}, this scada reads {SCHEMA_VERSION}"
                    + (
                        " (the SCADA upgrades it when it next starts)"
                        if version < SCHEMA_VERSION
                        else ""
                    )
                )
            return read_details(db, path, 0)
        except sqlite3.Error as exc:
            raise StoreError(f"{path}: cannot read the store: {exc}") from exc
    finally:
        db.close()
