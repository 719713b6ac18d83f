"""Runtime figures, measured against `scada serve` running as a real process.

1. reading produced -> delivered to each of 3 attached clients (largest house, every sample
   period cut to 1 s): p50/p99 latency from the reading's read time to its arrival;
2. relay command round trip (client -> runtime -> driver -> read-back -> event at the client);
3. the largest house at real time with in-memory drivers: CPU share of one core and RSS.

Run: `.venv/bin/python bench/bench_runtime.py [--seconds N]`. Prints the figures; exits 0.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from scada.api.client import ApiClient
from scada.protocol.commands import CommandResult
from scada.protocol.enums import EventKind, RelayState
from scada.protocol.readings import Reading

ROOT = Path(__file__).resolve().parent.parent
BIG = ROOT / "input_data" / "houses" / "hw25.isone.me.versant.keene.beech.json"
BIN = Path(sys.executable).parent
TICKS = os.sysconf("SC_CLK_TCK")


@contextmanager
def serve(layout: Path) -> Iterator[tuple[subprocess.Popen[bytes], Path]]:
    work = Path(tempfile.mkdtemp(prefix="gwb"))
    sock = work / "s.sock"
    proc = subprocess.Popen(
        [
            str(BIN / "scada"),
            "serve",
            "--layout",
            str(layout),
            "--sim",
            "--socket",
            str(sock),
            "--log-level",
            "warning",
            # The runtime alone: in-memory devices, no simulator or ATN sharing its process.
            "--drivers",
            "memory",
            "--no-atn",
            "--data-dir",
            str(work / "data"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 20
        while not sock.exists():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("scada serve did not start")
            time.sleep(0.02)
        yield proc, sock
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=10)
        shutil.rmtree(work, ignore_errors=True)


def fast_layout(dst: Path) -> Path:
    doc = json.loads(BIG.read_text())
    for ch in doc["channels"]:
        ch["sample_period_s"] = 1.0
    dst.write_text(json.dumps(doc))
    return dst


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, round(p / 100 * (len(s) - 1)))]


async def one_client(sock: Path, seconds: float) -> list[float]:
    """Latencies (ms) of every reading one console receives in ``seconds``."""
    c = await ApiClient.connect(sock)
    await c.subscribe((EventKind.READING,))
    lat: list[float] = []

    async def drain() -> None:
        async for ev in c.events():
            p = getattr(ev, "payload", None)
            if isinstance(p, Reading):
                lat.append((datetime.now(UTC) - p.read_at).total_seconds() * 1000)

    task = asyncio.create_task(drain())
    await asyncio.sleep(seconds)
    task.cancel()
    await c.close()
    return lat


def reading_latency(sock: Path, seconds: float) -> list[list[float]]:
    """Three consoles, each its own process (as three installers' SSH sessions would be)."""
    procs = [
        subprocess.Popen(
            [sys.executable, __file__, "--client", str(sock), "--seconds", str(seconds)],
            stdout=subprocess.PIPE,
        )
        for _ in range(3)
    ]
    return [json.loads(p.communicate()[0]) for p in procs]


async def relay_round_trip(sock: Path, n: int) -> list[float]:
    c = await ApiClient.connect(sock)
    snap = await c.snapshot()
    node = next(a.node for a in snap.actuators if "zone" in a.node or "fan" in a.node)
    await c.take_hold("bench", 30)
    await c.subscribe((EventKind.ACTUATOR,))
    times: list[float] = []
    state = RelayState.ON
    events = c.events()
    for _ in range(n):
        t0 = time.perf_counter()
        await c.set_relay(node, state, "bench")
        async for ev in events:
            p = getattr(ev, "payload", None)
            if isinstance(p, CommandResult) and p.target == node:
                break
        times.append((time.perf_counter() - t0) * 1000)
        state = RelayState.OFF if state is RelayState.ON else RelayState.ON
    await c.release_hold("bench")
    await c.close()
    return times


def cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=20.0, help="length of each measurement")
    ap.add_argument("--client", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.client is not None:
        print(json.dumps(asyncio.run(one_client(args.client, args.seconds))))
        return
    with tempfile.TemporaryDirectory() as tmp:
        layout = fast_layout(Path(tmp) / "hw25-1s.json")
        with serve(layout) as (_, sock):
            time.sleep(2)
            lat = reading_latency(sock, args.seconds)
            for i, series in enumerate(lat):
                print(
                    f"reading -> client {i + 1}: n={len(series)} "
                    f"p50={statistics.median(series):.2f} ms "
                    f"p99={pct(series, 99):.2f} ms (target p99 <= 5 ms)"
                )
            rtt = asyncio.run(relay_round_trip(sock, 300))
            print(
                f"relay round trip: n={len(rtt)} p50={statistics.median(rtt):.2f} ms "
                f"p99={pct(rtt, 99):.2f} ms (target p99 <= 10 ms)"
            )
    with serve(BIG) as (proc, _):
        time.sleep(3)
        c0, t0 = cpu_s(proc.pid), time.monotonic()
        time.sleep(args.seconds * 3)
        share = (cpu_s(proc.pid) - c0) / (time.monotonic() - t0) * 100
        print(
            f"largest house at real time (memory drivers): CPU {share:.2f}% of one core "
            f"(target <= 2%), RSS {rss_mb(proc.pid):.1f} MB (target <= 80 MB)"
        )


if __name__ == "__main__":
    main()
