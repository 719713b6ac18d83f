"""Opening the store's SQLite file: the writer (one per file, locked) and read-only readers.

The writer's connection is in autocommit mode; every change goes through :func:`transaction`
(``BEGIN IMMEDIATE`` ... ``COMMIT``), so a change is all there or not at all after a kill -9.
WAL mode lets ``scada store stats`` read while the SCADA writes. ``synchronous=FULL`` makes a
commit reach the disk before it returns (so it also survives a power cut), except those made
with ``transaction(flush=False)`` (acks and sends, see :meth:`Store.ack_many`); ``durable=False``
(``NORMAL``) still survives a killed process and is for tests and benchmarks.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import sqlite3
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import IO, Final
from urllib.parse import quote

from scada.store.schema import SchemaError, migrate

log = logging.getLogger("scada.store")

WAL_LIMIT_BYTES: Final = 4 << 20
"""The WAL file is truncated back to this after a checkpoint (it can grow past it meanwhile)."""
_NORMAL: Final = 1  # PRAGMA synchronous levels: 0 OFF, 1 NORMAL, 2 FULL, 3 EXTRA


class StoreError(Exception):
    """The store cannot be opened or used (the message names the file and what to do)."""


class StoreLock:
    """An exclusive ``flock`` on ``<store>.lock``: one SCADA writes a store at a time."""

    def __init__(self, path: Path) -> None:
        self.path = path.with_name(path.name + ".lock")
        self._file: IO[str] | None = None

    def acquire(self) -> None:
        f = self.path.open("a+", encoding="utf-8")
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            f.seek(0)
            holder = f.read().strip() or "another process"
            f.close()
            raise StoreError(f"{self.path.parent}: the store is in use by pid {holder}") from None
        f.seek(0)
        f.truncate()
        f.write(str(os.getpid()))
        f.flush()
        self._file = f

    def release(self) -> None:
        if self._file is not None:
            self._file.close()  # closing drops the flock
            self._file = None


def connect_writer(path: Path, *, durable: bool) -> sqlite3.Connection:
    """Open (creating or migrating) the store at ``path`` for writing; raises ``sqlite3`` errors
    for a damaged file and :class:`SchemaError` for a newer one."""
    db = sqlite3.connect(path, isolation_level=None, timeout=5.0)
    try:
        if db.execute("PRAGMA page_count").fetchone()[0] == 0:
            # a new file: freed pages go back to the filesystem on `incremental_vacuum`
            db.execute("PRAGMA auto_vacuum = INCREMENTAL")
        _use_wal(db, path)
        db.execute(f"PRAGMA synchronous = {'FULL' if durable else 'NORMAL'}")
        db.execute(f"PRAGMA journal_size_limit = {WAL_LIMIT_BYTES}")
        db.execute("PRAGMA foreign_keys = ON")
        _quick_check(db)
        migrate(db)
    except BaseException:
        db.close()
        raise
    return db


def _use_wal(db: sqlite3.Connection, path: Path) -> None:
    mode = db.execute("PRAGMA journal_mode = WAL").fetchone()[0]
    if str(mode).lower() != "wal":
        raise StoreError(f"{path}: cannot use WAL mode (got {mode})")


def _quick_check(db: sqlite3.Connection) -> None:
    """Raise ``sqlite3.DatabaseError`` (message starting ``quick_check``) if the file is
    damaged. Reads every page: about 0.1 s for a full 28-day store."""
    check = db.execute("PRAGMA quick_check").fetchone()[0]
    if check != "ok":
        raise sqlite3.DatabaseError(f"quick_check: {check}")


def connect_reader(path: Path) -> sqlite3.Connection:
    """Open the store at ``path`` read-only (never creates, migrates or changes it)."""
    if not path.is_file():
        raise StoreError(f"no store at {path} (has the SCADA run with this data dir?)")
    uri = f"file:{quote(str(path.resolve()))}?mode=ro"
    try:
        return sqlite3.connect(uri, uri=True, isolation_level=None, timeout=5.0)
    except sqlite3.Error as exc:
        raise StoreError(f"{path}: cannot open the store read-only: {exc}") from exc


def move_aside(path: Path, now: datetime, why: str) -> Path:
    """Rename a damaged store (and its WAL and shared-memory files) out of the way."""
    stamp = now.strftime("%Y%m%dT%H%M%SZ")
    target = path.with_name(f"{path.name}.corrupt-{stamp}")
    for suffix in ("", "-wal", "-shm"):
        src = path.with_name(path.name + suffix)
        if src.exists():
            src.replace(target.with_name(target.name + suffix))
    log.error("store %s is damaged (%s): moved aside to %s, starting empty", path, why, target)
    return target


@contextlib.contextmanager
def transaction(db: sqlite3.Connection, *, flush: bool = True) -> Iterator[sqlite3.Connection]:
    """``BEGIN IMMEDIATE`` ... ``COMMIT`` (``ROLLBACK`` on any exception).

    ``flush=False`` commits at ``synchronous=NORMAL`` whatever the connection's level: the
    commit is in the WAL (so it survives a killed process) but not flushed to the disk; the
    next flushed commit (or checkpoint) takes it to the disk with it, since the WAL is
    written and synced in order. A power cut can lose only such commits, newest first.
    """
    level = None
    if not flush:
        level = int(db.execute("PRAGMA synchronous").fetchone()[0])
        if level > _NORMAL:
            db.execute(f"PRAGMA synchronous = {_NORMAL}")
    try:
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
    finally:
        if level is not None and level > _NORMAL:
            db.execute(f"PRAGMA synchronous = {level}")


def bump(db: sqlite3.Connection, name: str, by: int = 1) -> None:
    """Add ``by`` to counter ``name`` (inside the caller's transaction)."""
    if by:
        db.execute(
            "INSERT INTO counters (name, value) VALUES (?, ?) "
            "ON CONFLICT (name) DO UPDATE SET value = value + excluded.value",
            (name, by),
        )


def set_counter(db: sqlite3.Connection, name: str, value: int) -> None:
    db.execute(
        "INSERT INTO counters (name, value) VALUES (?, ?) "
        "ON CONFLICT (name) DO UPDATE SET value = excluded.value",
        (name, value),
    )


def counters(db: sqlite3.Connection) -> dict[str, int]:
    return {str(n): int(v) for n, v in db.execute("SELECT name, value FROM counters")}


__all__ = [
    "SchemaError",
    "StoreError",
    "StoreLock",
    "bump",
    "connect_reader",
    "connect_writer",
    "counters",
    "move_aside",
    "set_counter",
    "transaction",
]
