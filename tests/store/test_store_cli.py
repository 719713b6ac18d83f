"""`scada store stats`: per-tier figures, JSON, read-only beside a running SCADA, and errors."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from scada.cli.main import app
from scada.store import Store, store_path
from tests.store.store_support import T0, ManualClock, problem, small_status

SCADA = Path(sys.executable).parent / "scada"


def _stats(*args: str) -> Result:
    return CliRunner().invoke(app, ["store", "stats", *args])


@pytest.fixture
def data_dir(tmp_path: Path, clock: ManualClock) -> Path:
    """A store with 2 statuses (one in flight), a problem, 2 aggregates, an ack, a quarantine."""
    with Store.open(store_path(tmp_path), clock, cap_bytes=1_000_000) as store:
        for k in range(5):
            store.put(small_status(T0 + timedelta(minutes=5 * k)))
        store.compact(T0 + timedelta(days=1, minutes=10))  # the first two -> 5-min aggregates
        store.put(problem(T0 + timedelta(days=1, minutes=1)))
        batch = store.next_batch(2)
        store.mark_sent(i.id for i in batch)
        clock.at = T0 + timedelta(days=1, minutes=20)
        store.ack(batch[0].id)
        bad = small_status(T0 + timedelta(minutes=30))
        store.put(bad)
        store.quarantine(bad.id, "atn: rejected (unknown channel ch-1)")
    return tmp_path


def test_the_text_report(data_dir: Path) -> None:
    result = _stats("--data-dir", str(data_dir))
    assert result.exit_code == 0, result.output
    lines = [line.rstrip() for line in result.output.splitlines()]
    assert lines[0] == f"store {store_path(data_dir)} (schema v1)"
    header = ["tier", "holds", "rows", "in", "flight", "bytes", "oldest", "newest"]
    assert lines[1].split() == header
    rows = [line.split() for line in lines[2:7]]
    # tier, name, rows, in flight, bytes, "MB", oldest (date, time), newest (date, time)
    assert rows[0][:4] + rows[0][6:] == [
        "1", "statuses", "2", "1", "2025-01-06", "00:15:00Z", "2025-01-06", "00:25:00Z",
    ]  # fmt: skip
    assert rows[1][:4] + rows[1][6:] == [
        "1", "problems", "1", "0", "2025-01-07", "00:01:00Z", "2025-01-07", "00:01:00Z",
    ]  # fmt: skip
    assert rows[2][:5] + rows[2][7:] == [
        "2", "5-min", "aggregates", "2", "0", "2025-01-06", "00:00:00Z", "2025-01-06", "00:10:00Z",
    ]  # fmt: skip
    assert rows[3] == ["3", "hourly", "aggregates", "0", "0", "0.00", "MB", "—", "—"]
    assert rows[4][:3] == ["total", "5", "1"]
    assert lines[7].startswith("size: ")
    assert "of a 1.00 MB cap" in lines[7]
    assert lines[8] == (
        "oldest pending: 2025-01-06 00:00:00Z; acked: 1, last ack: 2025-01-07 00:20:00Z; "
        "last compaction: 2025-01-07 00:10:00Z"
    )
    assert lines[9] == (
        "dropped: 0 past the last tier (tiers 1/2/3: 0/0/0), 0 over the cap (0/0/0); "
        "statuses aggregated: 2"
    )
    assert lines[10] == "quarantined: 1 kept, 1 in all"
    assert lines[11].endswith(": atn: rejected (unknown channel ch-1)")
    assert lines[11].startswith("  2025-01-07 00:20:00Z status ")


def test_the_json_report(data_dir: Path) -> None:
    result = _stats("--data-dir", str(data_dir), "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert [(t["name"], t["rows"], t["in_flight"]) for t in doc["tiers"]] == [
        ("statuses", 2, 1),
        ("problems", 1, 0),
        ("5-min aggregates", 2, 0),
        ("hourly aggregates", 0, 0),
    ]
    assert (doc["pending"], doc["in_flight"], doc["quarantined"]) == (5, 1, 1)
    assert doc["oldest_pending_at"] == "2025-01-06T00:00:00Z"
    assert doc["last_ack_at"] == "2025-01-07T00:20:00Z"
    assert doc["cap_bytes"] == 1_000_000
    assert doc["dropped_cap"] == {"tier1": 0, "tier2": 0, "tier3": 0}
    assert doc["recent_quarantine"][0]["reason"] == "atn: rejected (unknown channel ch-1)"
    assert doc["data_bytes"] == sum(t["size_bytes"] for t in doc["tiers"])
    assert doc["size_bytes"] % 4096 == 0  # pages in use


def test_it_reads_beside_a_running_scada_and_changes_nothing(
    data_dir: Path, clock: ManualClock
) -> None:
    with Store.open(store_path(data_dir), clock, cap_bytes=1_000_000) as store:
        before = store.details()
        store.put(small_status(T0 + timedelta(days=1, minutes=30)))  # committed, in the WAL
        result = _stats("--data-dir", str(data_dir), "--json")
        assert result.exit_code == 0, result.output
        assert json.loads(result.output)["pending"] == before.pending + 1
        after = store.details()
    assert after.pending == before.pending + 1
    assert after.acked_total == before.acked_total


def test_the_data_dir_comes_from_the_environment(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SCADA_DATA_DIR", str(data_dir))
    result = _stats("--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["path"] == str(store_path(data_dir))


def test_no_store_is_one_line_and_exit_1(tmp_path: Path) -> None:
    result = _stats("--data-dir", str(tmp_path / "nowhere"))
    assert result.exit_code == 1
    assert "no store at" in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "nowhere").exists()  # nothing created


def test_a_store_of_another_version_is_refused(data_dir: Path) -> None:
    db = sqlite3.connect(store_path(data_dir))
    db.execute("PRAGMA user_version = 99")
    db.close()
    result = _stats("--data-dir", str(data_dir))
    assert result.exit_code == 1
    assert "schema version 99" in result.output


def test_the_installed_command(data_dir: Path) -> None:
    run = subprocess.run(
        [str(SCADA), "store", "stats", "--data-dir", str(data_dir), "--json"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["pending"] == 5
