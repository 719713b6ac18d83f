"""The store: its size for 28 days of the largest house, the time of each call, and put / ack
throughput.

Run: ``python bench/bench_store.py [--dir DIR] [--days 28]``. Figures are printed, never
asserted (exit status 0 whatever the machine). The store lives in ``--dir`` (default: a
temporary directory under the current one, so on the disk the data dir would be on, not a
tmpfs); every timing uses ``synchronous=FULL`` (each commit reaches the disk) except the 28-day
build, whose size does not depend on it.

* **Size**: hw25 (40 channels), a status every 300 s with 60 readings a channel (5 s), for
  ``--days`` days outside RemoteControl, compacted every simulated 5 minutes; then the rows and
  bytes of each tier, the stored bytes the cap counts, and the file size. Target <= 100 MB.
* **Latency** of each call (median and worst of many), as the event loop pays it.
* **Throughput**: puts per second; the re-upload of the whole 28-day backlog from the store
  (next_batch + mark_sent + ack_many, 100 at a time) in messages per second, and the same with
  one ack (one transaction, one disk flush) per message.
"""

from __future__ import annotations

import argparse
import math
import platform
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVar

from scada.layout.load import load_layout
from scada.protocol.base import new_id
from scada.protocol.enums import ProblemKind, Severity
from scada.protocol.events import ProblemEvent
from scada.protocol.readings import ChannelSeries, Status
from scada.store import Store, store_path

HOUSE = (
    Path(__file__).resolve().parents[1] / "input_data/houses/hw25.isone.me.versant.keene.beech.json"
)
T0 = datetime(2025, 1, 6, tzinfo=UTC)
SLOT = timedelta(seconds=300)
SIZE_TARGET = 100_000_000
A = TypeVar("A")
R = TypeVar("R")


class Clock:
    def __init__(self) -> None:
        self.at = T0

    def now(self) -> datetime:
        return self.at

    def monotonic(self) -> float:
        return (self.at - T0).total_seconds()

    async def sleep(self, seconds: float) -> None:
        self.at += timedelta(seconds=seconds)


class Statuses:
    """Statuses of the largest house: 60 readings a channel, values like a real house's."""

    def __init__(self) -> None:
        layout = load_layout(HOUSE)
        self.alias, self.scada = layout.house.alias, layout.house.scada
        self.channels = [(c.name, c.unit.value) for c in layout.channels]
        self.boot = new_id()
        # read times in ms after the slot's start: every 5 s, each channel at its own phase
        self.offsets = [
            tuple(5000 * k + (i * 97) % 5000 for k in range(60)) for i in range(len(self.channels))
        ]

    def at(self, n: int) -> Status:
        start = T0 + n * SLOT
        series = []
        for i, (name, unit) in enumerate(self.channels):
            values = tuple(
                round(20 + i + 15 * math.sin((n * 60 + k) / 500 + i) + (k % 7) / 100, 3)
                for k in range(60)
            )
            series.append(
                ChannelSeries.model_construct(
                    channel=name, unit=unit, values=values, offsets_ms=self.offsets[i]
                )
            )
        return Status.model_construct(
            type="status",
            version=2,
            id=new_id(),
            house_alias=self.alias,
            scada_alias=self.scada,
            boot_id=self.boot,
            seq=n + 1,
            slot_start=start,
            slot_duration_s=300,
            channels=tuple(series),
            is_backlog=False,
        )


def _problem(n: int) -> ProblemEvent:
    return ProblemEvent(
        id=new_id(),
        at=T0 + n * SLOT,
        kind=ProblemKind.SENSOR_STALE,
        subject="tank-temp1",
        summary="tank-temp1 silent for 12 s",
        severity=Severity.WARNING,
    )


def _ms(samples: list[float]) -> str:
    return f"median {statistics.median(samples) * 1e3:7.2f} ms   worst {max(samples) * 1e3:7.2f} ms"


def _call(fn: Callable[[A], R], arg: A) -> tuple[float, R]:
    start = time.perf_counter()
    result = fn(arg)
    return time.perf_counter() - start, result


def _timed(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def build(path: Path, days: int, statuses: Statuses) -> float:
    """``days`` of statuses, compacted every 5 minutes, as outside RemoteControl."""
    clock = Clock()
    start = time.perf_counter()
    with Store.open(path, clock, durable=False) as store:
        for n in range(days * 288):
            s = statuses.at(n)
            clock.at = s.slot_start + SLOT
            store.put(s)
            while not store.compact().done:
                pass
    return time.perf_counter() - start


def size(path: Path, days: int, seconds: float) -> None:
    with Store.open(path, Clock()) as store:
        d = store.details()
    print(f"\n28-day size ({days} days of hw25 built in {seconds:.0f} s):")
    for t in d.tiers:
        print(f"  tier {t.tier} {t.name:<18}{t.rows:>6} rows {t.size_bytes / 1e6:>8.2f} MB")
    verdict = "ok" if d.file_bytes <= SIZE_TARGET else "ABOVE TARGET"
    print(
        f"  stored (what the cap counts) {d.size_bytes / 1e6:.2f} MB; "
        f"file {d.file_bytes / 1e6:.2f} MB -- target <= {SIZE_TARGET / 1e6:.0f} MB: {verdict}"
    )


def latency(directory: Path, backlog: Path, statuses: Statuses) -> None:
    print("\nlatency of each call (synchronous=FULL):")
    clock = Clock()
    t_open = _timed(lambda: Store.open(backlog, clock).close())
    print(f"  open the 28-day store (quick_check)   {t_open * 1e3:7.1f} ms")
    path = store_path(directory / "latency")
    with Store.open(path, clock) as store:
        put_status = [_call(store.put, statuses.at(n))[0] for n in range(200)]
        print(f"  put(status 40 ch x 60)   {_ms(put_status)}")
        put_problem = [_call(store.put, _problem(n))[0] for n in range(200)]
        print(f"  put(problem)             {_ms(put_problem)}")
        nb: list[float] = []
        ms: list[float] = []
        ak: list[float] = []
        am: list[float] = []
        for _ in range(7):
            seconds, items = _call(store.next_batch, 50)
            nb.append(seconds)
            ids = [i.id for i in items]
            ms.append(_call(store.mark_sent, ids)[0])
            ak.extend(_call(store.ack, i)[0] for i in ids[:10])
            am.append(_call(store.ack_many, ids[10:])[0])
        print(f"  next_batch(50)           {_ms(nb)}")
        print(f"  mark_sent(50)            {_ms(ms)}")
        print(f"  ack(1)                   {_ms(ak)}")
        print(f"  ack_many(40)             {_ms(am)}")
        print(f"  stats()                  {_ms([_timed(store.stats) for _ in range(50)])}")
    path = store_path(directory / "steady")
    with Store.open(path, clock) as store:  # steady state: a status to roll up each time
        for n in range(8 * 288 - 300, 8 * 288):
            store.put(statuses.at(n))
        clock.at = T0 + 8 * 288 * SLOT
        while not store.compact().done:
            pass
        compact = []
        for n in range(8 * 288, 8 * 288 + 24):
            clock.at = T0 + (n + 1) * SLOT
            store.put(statuses.at(n))
            compact.append(_timed(store.compact))
        print(f"  compact() steady state   {_ms(compact)}")


def throughput(directory: Path, backlog: Path, statuses: Statuses) -> None:
    print("\nthroughput (synchronous=FULL):")
    clock = Clock()
    path = store_path(directory / "puts")
    with Store.open(path, clock) as store:
        msgs = [statuses.at(n) for n in range(150)]
        seconds = _timed(lambda: [store.put(s) for s in msgs])
        print(f"  put statuses (40 ch x 60)   {len(msgs) / seconds:>9,.0f} msg/s")
        problems = [_problem(n) for n in range(1000)]
        seconds = _timed(lambda: [store.put(p) for p in problems])
        print(f"  put problems                {len(problems) / seconds:>9,.0f} msg/s")
    for label, per_ack in (("ack_many per batch", False), ("one ack per message", True)):
        copy = directory / f"upload-{per_ack}"
        copy.mkdir()
        copy_path = store_path(copy)
        copy_path.write_bytes(backlog.read_bytes())
        with Store.open(copy_path, clock) as store:
            n = 0
            start = time.perf_counter()
            while batch := store.next_batch(100):
                ids = [i.id for i in batch]
                store.mark_sent(ids)
                if per_ack:
                    for i in ids:
                        store.ack(i)
                else:
                    store.ack_many(ids)
                n += len(ids)
            seconds = time.perf_counter() - start
        print(
            f"  re-upload 28-day backlog, {label}: {n} msg in {seconds:.2f} s "
            f"= {n / seconds:,.0f} msg/s"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, default=None, help="where to put the stores")
    parser.add_argument("--days", type=int, default=28, help="days of data for the size figure")
    args = parser.parse_args()
    print(f"scada.store benchmark -- Python {platform.python_version()} on {platform.machine()}")
    statuses = Statuses()
    with tempfile.TemporaryDirectory(dir=args.dir or Path.cwd(), prefix=".bench-store-") as tmp:
        directory = Path(tmp)
        backlog = store_path(directory / "28days")
        seconds = build(backlog, args.days, statuses)
        size(backlog, args.days, seconds)
        latency(directory, backlog, statuses)
        throughput(directory, backlog, statuses)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
