"""Relay write + read-back through the emulated NCD board (MCP23008 on an emulated I2C bus).

Each sample is one ``write(channel, energized)`` (the driver's set-up check, read-modify-write
of OLAT and its GPIO read-back) followed by one ``read(channel)``, toggling the four relays in
turn, as the relay actor does for every switch. Two paths through the very same driver code:

* ``inline``  - emulated buses, bus calls inline (what ``scada serve --sim`` runs);
* ``threads`` - the real-bus path (each bus call group in a worker thread), on the emulator.

Target: p99 <= 2 ms on the inline path. Figures are printed, never asserted: the exit status is
0 whatever the machine's speed.

Run: ``.venv/bin/python bench/bench_relays.py [--samples N]``.
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import statistics
import time

from scada.drivers.mcp23008 import Mcp23008RelayBoard
from scada.layout import Actuator, Device, MakeModel
from scada.layout.model import I2cBus
from sim.buses.i2c import EmulatedMcp23008
from sim.buses.machine import EmulatedBuses

TARGET_P99_MS = 2.0


async def measure(samples: int, *, emulated: bool) -> list[float]:
    buses = EmulatedBuses(emulated=emulated)
    buses.add_i2c(1).attach(0x20, EmulatedMcp23008())
    dev = Device(
        name="relay-board", make_model=MakeModel.NCD_PR8_14_SPST, bus=I2cBus(bus=1, address=0x20)
    )
    acts = [
        Actuator(node=f"a.r{ch}.relay", drives=f"a.r{ch}", device=dev.name, board_channel=ch)
        for ch in range(4)
    ]
    board = Mcp23008RelayBoard(dev, acts, buses)
    await board.open()
    times: list[float] = []
    for i in range(samples + samples // 10):  # the first tenth warms up
        ch, on = i % 4, (i // 4) % 2 == 0
        t0 = time.perf_counter()
        await board.write(ch, energized=on)
        seen = await board.read(ch)
        elapsed = time.perf_counter() - t0
        assert seen is on
        if i >= samples // 10:
            times.append(elapsed * 1000)
    await board.close()
    buses.close()
    return times


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=5000)
    args = parser.parse_args()
    print(f"relay write + read-back, MCP23008 emulated -- Python {platform.python_version()}")
    print(f"{'path':<10}{'samples':>9}{'p50 ms':>10}{'p99 ms':>10}{'max ms':>10}")
    for label, emulated in (("inline", True), ("threads", False)):
        times = asyncio.run(measure(args.samples, emulated=emulated))
        p50, p99 = statistics.median(times), pct(times, 0.99)
        print(f"{label:<10}{len(times):>9}{p50:>10.3f}{p99:>10.3f}{max(times):>10.3f}")
        if emulated:
            verdict = "met" if p99 <= TARGET_P99_MS else "MISSED"
            print(f"{'':<10}target p99 <= {TARGET_P99_MS:g} ms: {verdict}")


if __name__ == "__main__":
    main()
