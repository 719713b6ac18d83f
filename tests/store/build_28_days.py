"""Build the 28-day store of the largest house: ``python -m tests.store.build_28_days DIR``.

Puts a status of hw25 (40 channels x 60 readings) every 5 simulated minutes for 28 days and
2 hours, compacting every simulated hour, into ``DIR/store.sqlite3``; writes the ids of the
last day's statuses to ``DIR/last_day_ids.json``. About 8,000 puts: the store tests start it
in a child process at the beginning of the session, so it runs beside the other tests.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Final

from scada.store import Store, store_path
from tests.store.store_support import ROOT, SLOT_S, T0, ManualClock, hw25, status

DAY: Final = timedelta(days=1)
END: Final = T0 + 28 * DAY + timedelta(hours=2)
SLOTS: Final = int((END - T0).total_seconds()) // SLOT_S
IDS_FILE: Final = "last_day_ids.json"


def build(data_dir: Path) -> None:
    house = hw25()
    clock = ManualClock()
    ids: list[str] = []
    with Store.open(store_path(data_dir), clock, durable=False) as store:
        for n in range(SLOTS):
            s = status(house, T0 + n * timedelta(seconds=SLOT_S), seq=n + 1, fast=True)
            clock.at = s.slot_start + timedelta(seconds=SLOT_S)
            store.put(s)
            ids.append(s.id)
            if n % 12 == 11 and not store.compact().done:
                raise SystemExit("a compaction did not finish in one call")
    (data_dir / IDS_FILE).write_text(json.dumps(ids[-288:]), encoding="utf-8")


class Build28Days:
    """The child process building the 28-day store (``tests.store.build_28_days``)."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self._child = subprocess.Popen(
            [sys.executable, "-m", "tests.store.build_28_days", str(data_dir)],
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            stderr=subprocess.PIPE,
            text=True,
        )

    def wait(self) -> Path:
        _, err = self._child.communicate(timeout=600)
        assert self._child.returncode == 0, err
        return self.data_dir

    def stop(self) -> None:
        if self._child.poll() is None:
            self._child.kill()
            self._child.communicate()


if __name__ == "__main__":
    build(Path(sys.argv[1]))
