"""House physics alone: wall time of one simulated day and one simulated week.

The largest house in ``input_data/houses`` (most nodes) is stepped at dt = 10 s through the
profiles' cold snap, with its relays following a fixed schedule (heat pump on two hours in
three, elements one hour in six, zones and circulator in turns) so every part of the physics
works but no control logic is timed. Readings (temperatures, power, flow) are taken once a
minute, as sensors would. Also prints the energy balance of the week.

Run: ``.venv/bin/python bench/bench_physics.py [--dt 10] [--house ALIAS]``. Prints; exits 0.
"""

from __future__ import annotations

import argparse
import platform
import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from scada.layout import Layout, load_layout
from sim.house import HouseModel

ROOT = Path(__file__).resolve().parent.parent
HOUSES = ROOT / "input_data" / "houses"
START = datetime(2024, 1, 22, tzinfo=ZoneInfo("America/New_York"))  # into the cold snap
DAY_S = 86_400.0


def largest() -> Path:
    return max(sorted(HOUSES.glob("*.json")), key=lambda p: len(load_layout(p).nodes))


def schedule(model: HouseModel) -> list[dict[str, bool]]:
    """Relay states for each hour of a six-hour cycle."""
    topo = model.topology
    hours: list[dict[str, bool]] = []
    for hour in range(6):
        want = [False] * len(topo.loads)
        if topo.heat_pump is not None:
            want[topo.heat_pump] = hour % 3 != 2
            if topo.heat_pump_pump is not None:
                want[topo.heat_pump_pump] = want[topo.heat_pump]
        for load, _ in topo.elements:
            want[load] = hour == 5
        if topo.circulator is not None:
            want[topo.circulator] = hour != 3
        for i, zone in enumerate(topo.zones):
            on = (hour + i) % 4 != 0
            if zone.gate is not None:
                want[zone.gate] = on
            for fan in zone.fans:
                want[fan] = on
        hours.append(
            {relay: on for ld, on in zip(topo.loads, want, strict=True) for relay, _ in ld.relays}
        )
    return hours


def simulate(layout: Layout, seconds: float, dt: float) -> tuple[float, HouseModel]:
    model = HouseModel.from_layout(layout)
    plan = schedule(model)
    steps = round(seconds / dt)
    per_minute = max(1, round(60.0 / dt))
    t = START
    began = time.perf_counter()
    for i in range(steps):
        model.step(dt, plan[(t.hour) % 6], t)
        t += timedelta(seconds=dt)
        if i % per_minute == 0:
            model.readings()
    return time.perf_counter() - began, model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--dt", type=float, default=10.0, help="step, seconds")
    parser.add_argument("--house", help="house alias (default: the largest)")
    args = parser.parse_args()
    path = HOUSES / f"{args.house}.json" if args.house else largest()
    layout = load_layout(path)
    print(f"python {platform.python_version()} on {platform.machine()}")
    print(
        f"house {layout.house.alias}: {len(layout.nodes)} nodes, {len(layout.channels)} "
        f"channels, dt = {args.dt:g} s"
    )
    for label, seconds in (("one day", DAY_S), ("one week", 7 * DAY_S)):
        wall, model = simulate(layout, seconds, args.dt)
        steps = round(seconds / args.dt)
        print(
            f"  {label:9s} {steps:7d} steps  {wall:6.2f} s wall  "
            f"{wall / steps * 1e6:5.1f} us/step  {seconds / wall:8.0f}x real time"
        )
    e = model.energy()
    energy_in = e.electric_in_j + e.heat_pump_ambient_j
    print(
        f"  week energy: in {energy_in / 3.6e6:.1f} kWh (electric {e.electric_in_j / 3.6e6:.1f}), "
        f"out {e.loss_to_outdoors_j / 3.6e6:.1f} kWh, stored {e.delta_stored_j / 3.6e6:+.1f} kWh, "
        f"imbalance {e.imbalance_j / energy_in:.1e} of energy in"
    )


if __name__ == "__main__":
    main()
