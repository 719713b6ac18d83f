"""A stand-in for ``scada serve --sim`` in a separate process: the fake SCADA on a real socket.

Run as ``python gwtui_fake_serve.py serve --sim --socket PATH [--data-dir DIR]``; it serves
until SIGTERM. The console's "start a simulated house" path is tested with it, so those tests
do not depend on the real runtime being finished.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repository root

from gwtui.clock import SystemClock
from scada.api.server import ApiServer
from tests.gwtui.gwtui_fakes import FakeBackend, FakeScada


async def serve(path: Path) -> None:
    clock = SystemClock()
    scada = FakeScada(now=clock.now)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    async with ApiServer(FakeBackend(scada), path):
        print(f"serving on {path}", flush=True)
        await stop.wait()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("command")
    parser.add_argument("--sim", action="store_true")
    parser.add_argument("--socket", type=Path, required=True)
    parser.add_argument("--data-dir", type=Path)
    args = parser.parse_args()
    asyncio.run(serve(args.socket))


if __name__ == "__main__":
    main()
