"""gwtui figures: start to first full frame, reading-to-screen latency, memory over a long run,
CPU while it just watches.

1. **First frame**: a fresh ``gwtui`` process (headless) attached to a real ``scada serve --sim``
   subprocess, from the process's start to the first frame drawn with every channel's live
   value (target <= 1.0 s). Median and worst of a few runs.
2. **Latency**: a reading published by the SCADA side (the real ``ApiServer`` session over a
   real Unix socket, fed by the test suite's fake SCADA in this process) until the screen
   holding its new value has been refreshed; p50 / p99 / max (target p99 <= 100 ms).
3. **Memory**: RSS of this process (console and fake SCADA together) after 10,000 readings and
   after ``--readings`` (1,000,000 by default), streamed as fast as the console takes them
   (target: within 10 %).
4. **Steady-state CPU**: a real ``gwtui`` process on a 120x40 pseudo-terminal (what a tmux pane
   or an SSH session gives it), attached to ``scada serve --sim`` at real time, for the smallest
   and the largest house: its CPU seconds per minute once the first frames are drawn (target
   under 3 % of a core for dw1 and well under 10 % for hw25 on x86; a Pi 4 core is 3-4x slower).

Run: ``.venv/bin/python bench/bench_gwtui.py [--readings N] [--latency-samples N]
[--cpu-window-s S]``. Prints the figures and exits 0 whatever they are (figures are measured
here, never asserted in tests).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import fcntl
import gc
import os
import pty
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the fake SCADA lives with the tests

if TYPE_CHECKING:  # the first-frame child must import only what gwtui itself does
    from textual.pilot import Pilot

    from gwtui.app import GwtuiApp
    from gwtui.state import Changes
    from tests.gwtui.gwtui_fakes import FakeScada

BIN = Path(sys.executable).parent
SMALL_HOUSE = "dw1.isone.nh.orange.1"
LARGE_HOUSE = "hw25.isone.me.versant.keene.beech"


@contextlib.contextmanager
def sim_scada(house: str | None = None) -> Iterator[Path]:
    """``scada serve --sim`` (on ``house``, else its default) in a scratch folder; its socket."""
    workdir = Path(tempfile.mkdtemp(prefix="gwb", dir="/tmp"))
    sock = workdir / "s.sock"
    serve = subprocess.Popen(
        [
            str(BIN / "scada"),
            "serve",
            "--sim",
            *(["--house", house] if house else []),
            "--socket",
            str(sock),
            "--data-dir",
            str(workdir / "d"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while not sock.exists():
            if serve.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("scada serve --sim did not start")
            time.sleep(0.05)
        yield sock
    finally:
        serve.terminate()
        serve.wait(timeout=10)
        shutil.rmtree(workdir, ignore_errors=True)


# ---------------------------------------------------------------------- 1. first frame


def first_frame_child(socket: str, started: float) -> None:
    """Runs in the child: open the console headless, print seconds since ``started`` at the
    first refresh that shows every channel with a value."""
    from gwtui.app import GwtuiApp
    from gwtui.settings import ConsoleSettings

    app = GwtuiApp(ConsoleSettings(socket=Path(socket), offer_simulation=False))

    def on_flush(_changes: object) -> None:
        channels = app.state.channels
        if channels and all(c.value is not None for c in channels.values()) and app.state.live:
            app.flush_listeners.clear()
            app.call_after_refresh(lambda: print(f"{time.time() - started:.4f}", flush=True))
            app.call_after_refresh(app.exit)

    app.flush_listeners.append(on_flush)
    app.run(headless=True, size=(80, 24))


def first_frame(runs: int) -> list[float]:
    with sim_scada() as sock:
        time.sleep(6.0)  # every channel read at least once (5 s sample periods)
        out = []
        for _ in range(runs):
            started = time.time()
            child = subprocess.run(
                [sys.executable, __file__, "--first-frame-child", str(sock), repr(started)],
                capture_output=True,
                text=True,
                check=True,
                timeout=60,
            )
            out.append(float(child.stdout.strip().splitlines()[-1]))
        return out


# ---------------------------------------------------------------------- 2 and 3, in process


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def measure_latency(
    app: GwtuiApp, scada: FakeScada, pilot: Pilot[None], n: int
) -> list[float]:
    """Seconds from publishing a new value to the end of the refresh that drew it."""
    names = [c.channel for c in scada.snap.channels]
    latencies: list[float] = []
    pending: dict[str, float] = {}

    def on_flush(changes: Changes) -> None:
        due = [ch for ch in changes.channels if ch in pending]

        def drawn() -> None:
            now = time.perf_counter()
            for ch in due:
                produced = pending.pop(ch, None)
                if produced is not None:
                    latencies.append(now - produced)

        if due:
            app.call_after_refresh(drawn)

    app.flush_listeners.append(on_flush)
    for i in range(n):  # 50 readings a second, each a new value, round the channels
        name = names[i % len(names)]
        pending[name] = time.perf_counter()
        scada.push_reading(name, 20.0 + (i % 97) * 0.5)
        await asyncio.sleep(0.02)
    await pilot.pause(0.3)
    app.flush_listeners.clear()
    return latencies


async def measure_memory(
    app: GwtuiApp, scada: FakeScada, pilot: Pilot[None], readings: int
) -> dict[int, float]:
    """RSS (MB) once the console has taken 10,000 readings, and ``readings``."""
    names = [c.channel for c in scada.snap.channels]
    subscriber = scada.hub._subs[0]  # noqa: SLF001 -- the one console session
    memory: dict[int, float] = {}
    sent = 0
    value = 0.0
    for target in sorted({10_000, readings}):
        while sent < target:
            for _ in range(min(200, target - sent)):
                value += 0.01
                scada.push_reading(names[sent % len(names)], value)
                sent += 1
            await asyncio.sleep(0)
            # As fast as the console takes them, no faster (the hub drops a console that lags).
            while subscriber.backlog > 256:  # noqa: ASYNC110 -- polling the SCADA's queue
                await asyncio.sleep(0.0005)
        client = app.client
        while subscriber.backlog or getattr(client, "events_queued", 0):  # noqa: ASYNC110
            await asyncio.sleep(0.01)  # until the console has caught up
        await pilot.pause(0.3)
        gc.collect()
        memory[target] = rss_mb()
    return memory


async def streaming(
    latency_samples: int, readings: int
) -> tuple[list[float], dict[int, float], int]:
    from gwtui.app import GwtuiApp
    from gwtui.clock import SystemClock
    from scada.api.server import ApiServer
    from tests.gwtui.gwtui_fakes import FakeBackend, FakeScada
    from tests.gwtui.gwtui_support import SETTINGS

    clock = SystemClock()
    scada = FakeScada(now=clock.now)
    workdir = Path(tempfile.mkdtemp(prefix="gwb", dir="/tmp"))
    path = workdir / "s.sock"
    try:
        async with ApiServer(FakeBackend(scada), path):
            app = GwtuiApp(replace(SETTINGS, socket=path), clock=clock)
            async with app.run_test(size=(80, 24)) as pilot:
                while not (app.state.live and app.attach_complete):
                    await pilot.pause(0.02)
                latencies = await measure_latency(app, scada, pilot, latency_samples)
                memory = await measure_memory(app, scada, pilot, readings)
                if not app.state.live:
                    raise SystemExit("the console lost the SCADA while streaming")
                dropped = int(getattr(app.client, "events_dropped", 0))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return latencies, memory, dropped


# ---------------------------------------------------------------------- 4. steady-state CPU


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of process ``pid`` so far (Linux ``/proc``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def steady_cpu(house: str, window_s: float, size: tuple[int, int] = (120, 40)) -> float:
    """CPU seconds per minute of a console on a pseudo-terminal of ``size`` watching ``house``."""
    with sim_scada(house) as sock:
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", size[1], size[0], 0, 0))
        console = subprocess.Popen(
            [str(BIN / "gwtui"), "--socket", str(sock), "--no-sim-offer"],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env={**os.environ, "TERM": "xterm-256color"},
            start_new_session=True,
        )
        os.close(slave)

        def drain() -> None:  # the terminal: read and forget what the console draws
            with contextlib.suppress(OSError):
                while os.read(master, 65536):
                    pass

        threading.Thread(target=drain, daemon=True).start()
        try:
            time.sleep(10.0)  # attached, history in, every channel read a few times
            if console.poll() is not None:
                raise SystemExit(f"gwtui stopped at start (exit {console.returncode})")
            before = cpu_seconds(console.pid)
            time.sleep(window_s)
            used = cpu_seconds(console.pid) - before
        finally:
            console.terminate()
            console.wait(timeout=10)
            os.close(master)
    return used / window_s * 60


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--readings", type=int, default=1_000_000)
    parser.add_argument("--latency-samples", type=int, default=500)
    parser.add_argument("--first-frame-runs", type=int, default=5)
    parser.add_argument("--cpu-window-s", type=float, default=60.0)
    parser.add_argument("--first-frame-child", nargs=2, metavar=("SOCKET", "STARTED"))
    args = parser.parse_args()
    if args.first_frame_child:
        first_frame_child(args.first_frame_child[0], float(args.first_frame_child[1]))
        return

    print(f"gwtui bench on {os.cpu_count()} CPUs, Python {sys.version.split()[0]}")
    frames = first_frame(args.first_frame_runs)
    print(
        f"first full frame with live values: median {statistics.median(frames):.3f} s,"
        f" worst {max(frames):.3f} s over {len(frames)} runs (target <= 1.0 s)"
    )
    started = time.perf_counter()
    latencies, memory, dropped = asyncio.run(streaming(args.latency_samples, args.readings))
    ms = [x * 1000 for x in latencies]
    print(
        f"reading -> screen: p50 {percentile(ms, 50):.1f} ms, p99 {percentile(ms, 99):.1f} ms,"
        f" max {max(ms):.1f} ms over {len(ms)} readings (target p99 <= 100 ms)"
    )
    first_n, last_n = min(memory), max(memory)
    growth = (memory[last_n] - memory[first_n]) / memory[first_n] * 100
    print(
        f"RSS after {first_n:,} readings {memory[first_n]:.1f} MB, after {last_n:,}"
        f" {memory[last_n]:.1f} MB: {growth:+.1f} % (target within 10 %);"
        f" events dropped by the client queue: {dropped};"
        f" took {time.perf_counter() - started:.0f} s"
    )
    for house, target in ((SMALL_HOUSE, "under 3 %"), (LARGE_HOUSE, "well under 10 %")):
        per_minute = steady_cpu(house, args.cpu_window_s)
        print(
            f"steady-state CPU watching {house} at real time, 120x40: {per_minute:.2f} s per"
            f" minute = {per_minute / 60 * 100:.1f} % of one core (target {target})"
        )


if __name__ == "__main__":
    main()
