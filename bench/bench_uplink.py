"""Uplink benchmark: re-upload of a 28-day backlog of the largest house over MQTT, the store's
size for those 28 days, and the CPU the MQTT link adds at real time.

    .venv/bin/python bench/bench_uplink.py [--days 28] [--cpu-seconds 60]

1. Builds 28 days of hw25 statuses outside RemoteControl (as ``bench_store.py`` does: a status
   every 5 minutes, compaction each time), then uploads the whole backlog (tier 1 statuses and
   the tier 2/3 aggregates) through the real :class:`Forwarder` and :class:`MqttLink` to a
   mosquitto on loopback, with a peer that acknowledges each message. Target >= 2,000 msg/s,
   every message acknowledged; store size target <= 100 MB.
2. Runs ``scada serve --house hw25 --sim --no-atn`` for N seconds alone, then with
   ``--broker`` and a ``sim atn --broker`` peer, and compares the serve process's CPU time
   (``/proc/<pid>/stat``). Target: the link adds <= 1% of one core.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.bench_store import Clock, Statuses, build  # noqa: E402
from scada.actors.forwarder import Forwarder  # noqa: E402
from scada.clock import SystemClock  # noqa: E402
from scada.link import MqttLink, MqttSettings  # noqa: E402
from scada.protocol import Ack, LinkState, WireMessage  # noqa: E402
from scada.store import Store, store_path  # noqa: E402
from tests.mqtt_support import Mosquitto, require_mosquitto  # noqa: E402

HW25 = "hw25.isone.me.versant.keene.beech"
RATE_TARGET = 2_000.0
SIZE_TARGET = 100_000_000
CPU_TARGET = 0.01


async def reupload(path: Path, url: str) -> tuple[int, float, int, int]:
    """(messages acknowledged, seconds, messages at start, left in the store)."""
    statuses = Statuses()
    scada, atn = statuses.scada, statuses.alias
    store = Store.open(path, Clock(), durable=True)
    total = int(store.stats().pending_uplink)
    settings = MqttSettings(url=url, reconnect_min_s=1, reconnect_max_s=2)
    link = MqttLink(settings, scada, atn, SystemClock())
    # The ATN is another machine in real life: give it its own process, so its decoding does
    # not share the forwarder's core. It acknowledges every status, aggregate and problem.
    peer = subprocess.Popen(  # noqa: ASYNC220 - started once, before the measurement
        [
            str(Path(sys.executable).parent / "sim"),
            "atn",
            "--house",
            atn,
            "--broker",
            url,
            "--log-level",
            "warning",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "SCADA_MQTT_CLIENT_ID": "bench-atn"},
    )
    go = False
    fwd = Forwarder(store, link, Clock(), may_send=lambda: go)
    link.add_state_listener(lambda *_: fwd.link_changed())

    async def acks(msg: WireMessage) -> None:
        if isinstance(msg, Ack):
            for message_id in msg.message_ids:
                fwd.ack(message_id)

    tasks = [
        asyncio.create_task(link.run(acks)),
        asyncio.create_task(fwd.run()),
    ]
    try:
        async with asyncio.timeout(30):
            await link.wait_for_state(LinkState.UP)
            while link.peer_presence is None:  # noqa: ASYNC110 - the ATN's retained "online"
                await asyncio.sleep(0.05)
        start = time.perf_counter()
        go = True
        fwd.link_changed()
        async with asyncio.timeout(600):
            while fwd.acked < total:  # noqa: ASYNC110 - polled, not awaited
                await asyncio.sleep(0.01)
        seconds = time.perf_counter() - start
        left = int(store.stats().pending_uplink)
        return fwd.acked, seconds, total, left
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        peer.terminate()
        peer.wait(timeout=10)
        store.close()


def cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def serve_cpu(seconds: float, work: Path, broker_url: str | None) -> float:
    """CPU seconds per second of ``scada serve`` over ``seconds`` (after a warm-up)."""
    bin_dir = Path(sys.executable).parent
    data = work / ("mqtt" if broker_url else "plain")
    cmd = [str(bin_dir / "scada"), "serve", "--house", HW25, "--sim", "--no-atn"]
    cmd += ["--data-dir", str(data), "--socket", str(data / "s.sock")]
    atn = None
    if broker_url:
        cmd += ["--broker", broker_url]
        atn = subprocess.Popen(
            [str(bin_dir / "sim"), "atn", "--house", HW25, "--broker", broker_url],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    data.mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(10)  # start-up, first contract, first backlog
        c0, t0 = cpu_s(proc.pid), time.monotonic()
        time.sleep(seconds)
        return (cpu_s(proc.pid) - c0) / (time.monotonic() - t0)
    finally:
        for p in (proc, atn):
            if p is not None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=28)
    parser.add_argument("--cpu-seconds", type=float, default=60.0)
    parser.add_argument("--skip-cpu", action="store_true")
    args = parser.parse_args()
    print(f"uplink benchmark -- Python {platform.python_version()} on {platform.machine()}")
    binary = require_mosquitto()
    with tempfile.TemporaryDirectory(prefix="bench-uplink-") as tmp:
        work = Path(tmp)
        with Mosquitto(work / "broker", binary=binary) as broker:
            path = store_path(work / "28days")
            built = build(path, args.days, Statuses())
            with Store.open(path, Clock()) as store:
                d = store.details()
            verdict = "ok" if d.file_bytes <= SIZE_TARGET else "ABOVE TARGET"
            print(f"\nstore for {args.days} days of hw25 (built in {built:.0f} s):")
            for t in d.tiers:
                print(f"  tier {t.tier} {t.kind:<10}{t.rows:>6} rows {t.size_bytes / 1e6:8.2f} MB")
            print(f"  file {d.file_bytes / 1e6:.2f} MB -- target <= 100 MB: {verdict}")
            acked, seconds, total, left = asyncio.run(reupload(path, broker.url))
            rate = acked / seconds
            ok = "ok" if rate >= RATE_TARGET and acked == total and left == 0 else "BELOW TARGET"
            print(
                f"\nre-upload to mosquitto on loopback: {acked}/{total} acknowledged "
                f"in {seconds:.2f} s = {rate:,.0f} msg/s, {left} left -- "
                f"target >= {RATE_TARGET:,.0f} msg/s: {ok}"
            )
            if not args.skip_cpu:
                n = args.cpu_seconds
                plain = serve_cpu(n, work / "cpu", None)
                mqtt = serve_cpu(n, work / "cpu", broker.url)
                added = mqtt - plain
                ok = "ok" if added <= CPU_TARGET else "ABOVE TARGET"
                print(
                    f"\nsteady state, hw25 at real time, {n:.0f} s each: serve alone "
                    f"{plain * 100:.2f}% of a core, with the MQTT uplink + sim atn peer "
                    f"{mqtt * 100:.2f}% -- the link adds {added * 100:.2f}% "
                    f"(target <= {CPU_TARGET * 100:.0f}%): {ok}"
                )
        shutil.rmtree(work / "cpu", ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
