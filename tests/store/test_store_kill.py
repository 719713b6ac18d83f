"""Kill -9 at any moment: what was committed is there exactly once, and the file is sound.

Also: a damaged file, a file of a newer release, and the migration path.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from scada.protocol.codec import decode
from scada.protocol.readings import AggregateReport, Status
from scada.store import SCHEMA_VERSION, Store, StoreError
from scada.store.schema import MIGRATIONS, SchemaError, migrate, user_version
from tests.store.store_support import ROOT, T0, ManualClock, fixed_id, small_status

WRITER = Path(__file__).with_name("store_writer.py")


def _run_until(mode: str, path: Path, n: int, prefix: str, lines: int) -> list[str]:
    """Start the writer, read ``lines`` lines starting with ``prefix``, SIGKILL it; return
    every line read."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    child = subprocess.Popen(
        [sys.executable, str(WRITER), mode, str(path), str(n)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env=env,
    )
    assert child.stdout is not None
    seen: list[str] = []
    try:
        for line in _lines(child.stdout):
            seen.append(line)
            if sum(s.startswith(prefix) for s in seen) >= lines or line == "done":
                break
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
        # What the writer printed before it died is still in the pipe: an ack it committed
        # after the line we stopped at must be counted, not taken for a loss.
        seen.extend(_lines(child.stdout))
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(timeout=30)
        child.stdout.close()
    assert child.returncode in (-signal.SIGKILL, 0), child.returncode
    return seen


def _lines(stream: object) -> Iterator[str]:
    for line in stream:  # type: ignore[attr-defined]
        yield str(line).strip()


def _ids(path: Path) -> list[str]:
    db = sqlite3.connect(path)
    try:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        return [str(r[0]) for r in db.execute("SELECT id FROM outbox ORDER BY seq")]
    finally:
        db.close()


@pytest.mark.parametrize("kill_after", [3, 11])
def test_kill_during_puts_keeps_every_committed_status_once(
    path: Path, clock: ManualClock, kill_after: int
) -> None:
    lines = _run_until("put", path, 200, "put ", kill_after)
    reported = [line.split()[1] for line in lines]
    # the writer may commit (and print) another put before the kill lands
    assert len(reported) >= kill_after
    stored = _ids(path)
    # committed in order: a prefix of the ids, each once, including every reported one
    assert stored == [fixed_id(i) for i in range(len(stored))]
    assert len(stored) >= len(reported)
    with Store.open(path, clock) as store:  # the lock died with the process
        assert store.requeue_in_flight() == 0
        assert [i.id for i in store.next_batch(500)] == stored


def test_kill_during_a_reupload_loses_nothing_and_resends_nothing_acked(
    path: Path, clock: ManualClock
) -> None:
    statuses = [small_status(T0 + timedelta(minutes=5 * k)) for k in range(60)]
    with Store.open(path, clock, durable=False) as store:
        for s in statuses:
            store.put(s)
    lines = _run_until("upload", path, 0, "acked ", 21)
    acked = {line.split()[1] for line in lines if line.startswith("acked ")}
    sent = {line.split()[1] for line in lines if line.startswith("sent ")}
    stored = set(_ids(path))
    assert not acked & stored  # acknowledged: never handed out again
    missing = {s.id for s in statuses} - stored - acked
    assert missing <= sent - acked  # at most an ack committed just before the kill
    assert len(missing) <= 1
    with Store.open(path, clock) as store:
        store.requeue_in_flight()  # what the runtime does at start
        again = [i.id for i in store.next_batch(100)]
    assert sorted(again) == sorted(stored)
    assert again == [s.id for s in statuses if s.id in stored]  # still oldest first


def test_kill_during_compaction_keeps_every_reading_somewhere(
    path: Path, clock: ManualClock
) -> None:
    statuses = [small_status(T0 + timedelta(minutes=5 * k)) for k in range(300)]
    with Store.open(path, clock, durable=False) as store:
        for s in statuses:
            store.put(s)
    _run_until("compact", path, 0, "compacted ", 7)
    with Store.open(path, clock) as store:
        readings = 0
        for item in store.next_batch(1000):
            msg = decode(item.payload)
            if isinstance(msg, Status):
                readings += sum(len(c.values) for c in msg.channels)
            elif isinstance(msg, AggregateReport):
                readings += sum(msg.counts)
    assert readings == sum(sum(len(c.values) for c in s.channels) for s in statuses)


def test_a_damaged_file_is_moved_aside(path: Path, clock: ManualClock) -> None:
    path.parent.mkdir(parents=True)
    path.write_bytes(b"this is not a database" * 500)
    with Store.open(path, clock) as store:
        store.put(small_status(T0))
        assert store.details().pending == 1
        assert store.details().moved_aside == 1
    aside = list(path.parent.glob("store.sqlite3.corrupt-*"))
    assert [p.name for p in aside] == ["store.sqlite3.corrupt-20250106T000000Z"]
    assert aside[0].read_bytes().startswith(b"this is not a database")


def test_a_damaged_file_can_be_refused(path: Path, clock: ManualClock) -> None:
    path.parent.mkdir(parents=True)
    path.write_bytes(b"\x00" * 100 + b"junk" * 2000)
    with pytest.raises(StoreError, match="cannot open the store"):
        Store.open(path, clock, recover_corrupt=False)


def test_a_newer_release_file_is_refused_and_left_alone(path: Path, clock: ManualClock) -> None:
    Store.open(path, clock).close()
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    db.close()
    before = path.read_bytes()
    with pytest.raises(StoreError, match="newer"):
        Store.open(path, clock)
    assert path.read_bytes() == before
    assert not list(path.parent.glob("*.corrupt-*"))


def _v2(db: sqlite3.Connection) -> None:
    db.execute("ALTER TABLE outbox ADD COLUMN note TEXT")


def _v2_broken(db: sqlite3.Connection) -> None:
    db.execute("ALTER TABLE outbox ADD COLUMN note TEXT")
    raise RuntimeError("power cut")


def test_migrations_run_in_order_and_keep_the_data(path: Path, clock: ManualClock) -> None:
    s = small_status(T0)
    with Store.open(path, clock) as store:
        store.put(s)
    db = sqlite3.connect(path, isolation_level=None)
    try:
        with pytest.raises(RuntimeError, match="power cut"):
            migrate(db, (*MIGRATIONS, _v2_broken))
        assert user_version(db) == SCHEMA_VERSION  # rolled back, untouched
        assert "note" not in [r[1] for r in db.execute("PRAGMA table_info(outbox)")]
        assert migrate(db, (*MIGRATIONS, _v2)) == SCHEMA_VERSION
        assert user_version(db) == SCHEMA_VERSION + 1
        assert db.execute("SELECT id FROM outbox").fetchall() == [(s.id,)]
        with pytest.raises(SchemaError, match="newer"):
            migrate(db)  # this release's code no longer matches the file
    finally:
        db.close()


def test_a_new_file_starts_at_the_current_version(path: Path, clock: ManualClock) -> None:
    Store.open(path, clock).close()
    db = sqlite3.connect(path)
    try:
        assert user_version(db) == SCHEMA_VERSION
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert db.execute("PRAGMA auto_vacuum").fetchone()[0] == 2  # incremental
    finally:
        db.close()
