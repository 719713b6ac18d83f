"""The soak's simulated ATN: its own process, on the soak's shared simulated time, over MQTT,
journalling what it receives and acknowledges (:mod:`sim.soak.journal`).

Run as ``python -m sim.soak.atn_proc --layout FILE --broker URL --speed N --sim-start ISO
--sim-anchor T --journal FILE``; stops on SIGTERM. The orchestrator stops it with SIGSTOP to
make it silent (its clock, read from CLOCK_MONOTONIC, jumps over the pause when it continues,
as a real ATN's would).

The ATN's reply timeout is a minute of simulated time rather than its default 10 s: at several
hundred times real time 10 s is a few real milliseconds, less than a round trip through the
broker under load, and the ATN would drop contracts the SCADA did accept.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from datetime import datetime
from pathlib import Path

from scada.clock import VirtualTimeLoop, anchored_clock
from scada.layout import Layout, load_layout
from scada.link import MqttLink, MqttSettings
from sim.atn.actor import SimulatedAtn
from sim.house.profiles import load_prices
from sim.soak.journal import RecordingLink
from sim.soak.procs import RECONNECT_S

REPLY_TIMEOUT_S = 60.0


async def _run(layout: Layout, url: str, start: datetime, journal: Path) -> None:
    loop = asyncio.get_running_loop()
    clock = anchored_clock(start, loop)
    settings = MqttSettings(url=url, reconnect_min_s=RECONNECT_S, reconnect_max_s=RECONNECT_S)
    mqtt = MqttLink(settings, layout.house.alias, layout.house.scada, clock)
    prices = None
    if layout.simulation is not None:
        prices = load_prices(layout.simulation.price_profile, tz=layout.house.time_zone).at
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    with journal.open("a") as out:
        atn = SimulatedAtn(
            layout, RecordingLink(mqtt, out), clock, prices, reply_timeout_s=REPLY_TIMEOUT_S, seed=1
        )
        task = asyncio.create_task(atn.run(), name="soak-atn")
        stopper = asyncio.create_task(stop.wait(), name="soak-atn:stop")
        await asyncio.wait({task, stopper}, return_when=asyncio.FIRST_COMPLETED)
        for t in (task, stopper):
            t.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.gather(task, stopper, return_exceptions=True)
    if task.done() and not task.cancelled() and task.exception() is not None:
        raise SystemExit(f"soak atn: {task.exception()!r}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m sim.soak.atn_proc")
    p.add_argument("--layout", type=Path, required=True)
    p.add_argument("--broker", required=True)
    p.add_argument("--speed", type=float, required=True)
    p.add_argument("--sim-start", type=datetime.fromisoformat, required=True)
    p.add_argument("--sim-anchor", type=float, required=True)
    p.add_argument("--journal", type=Path, required=True)
    a = p.parse_args(argv)
    logging.basicConfig(
        stream=sys.stderr,
        level=logging.INFO,
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
    )
    layout = load_layout(a.layout)
    speed, anchor = a.speed, a.sim_anchor
    with asyncio.Runner(loop_factory=lambda: VirtualTimeLoop(speed, anchor=anchor)) as runner:
        runner.run(_run(layout, a.broker, a.sim_start, a.journal))
    return 0


if __name__ == "__main__":
    sys.exit(main())
