"""A child process for the kill -9 tests: writes to a store and says what it committed.

Usage: ``python store_writer.py MODE PATH N``. Each stdout line is printed only after the
commit it reports returned, so whatever the parent read is on disk.

* ``put``: puts N full-size statuses of the largest house with ids ``fixed_id(0..N-1)``.
* ``upload``: re-uploads what the store holds, 8 at a time: ``sent <id>`` after mark_sent,
  ``acked <id>`` after each ack (as if the ATN acked at once), ``done`` when empty.
* ``compact``: runs compactions of at most 5 rows at a far-future time, ``compacted <n>``.
"""

from __future__ import annotations

import sys
from datetime import timedelta
from pathlib import Path

from scada.store import Store
from tests.store.store_support import T0, ManualClock, fixed_id, hw25, status


def main() -> None:
    mode, path, n = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3])
    clock = ManualClock()
    with Store.open(path, clock) as store:
        if mode == "put":
            house = hw25()
            for i in range(n):
                s = status(house, T0 + timedelta(minutes=5 * i), fast=True)
                store.put(s.model_copy(update={"id": fixed_id(i)}))
                print(f"put {fixed_id(i)}", flush=True)
        elif mode == "upload":
            store.requeue_in_flight()
            while batch := store.next_batch(8):
                store.mark_sent(i.id for i in batch)
                for item in batch:
                    print(f"sent {item.id}", flush=True)
                for item in batch:
                    store.ack(item.id)
                    print(f"acked {item.id}", flush=True)
            print("done", flush=True)
        elif mode == "compact":
            far = T0 + timedelta(days=8)
            while not (report := store.compact(far, max_rows=5)).done:
                print(f"compacted {report.statuses_aggregated + report.tier2_merged}", flush=True)
            print("done", flush=True)


if __name__ == "__main__":
    main()
