"""Simulator figures: the full runtime on a simulated house, on virtual time, as fast as possible.

1. One simulated day of the largest house (hw25) with the full runtime: real drivers on the
   emulated buses (I2C chips, 1-Wire files, Modbus TCP servers, GPIO pulses), the house physics,
   the controller, 5-minute statuses and the simulated ATN in-process (and once more in
   LocalControl with no uplink, statuses going to the store). Run at the walkthroughs'
   fidelity (sensors polled every 2 min at most, physics in 30 s steps, flow meters at 2 pulses
   a gallon); one simulated hour at the house file's own sample periods and pulse rates is also
   timed and scaled to a day. Target: <= 5 s of wall time for the day.
2. The 28-day ``month`` walkthrough of dw1.isone.nh.orange.1 (all its checks). Target: <= 60 s.
3. The cold-snap week of dw1 under RemoteControl (the simulated ATN dispatching on price) and
   under LocalControl (no ATN: the home-alone strategy), same weather and fidelity: the energy
   cost (electricity used x the hourly real-time price, summed each simulated minute) and the
   share of the time the garage was inside setpoint ± comfort_band_c. Target: RemoteControl
   cheaper, with comfort >= 98 %.

Why RemoteControl wins (sim/atn/policy.py, no tuning needed): the simulated ATN ranks each
local day's hourly prices and charges the tank (heat pump; the boost element too when the tank
is far below target in the cheapest hours) in the cheap hours and in the shoulder hours just
before a peak, then coasts on the tank through the morning and evening peaks, running the heat
pump there only when the tank top nears tank_min_c. The home-alone strategy recharges whenever
the tank average falls 5 K below target, whatever the price, so it buys at the week's mean
price; the ATN buys well below it. Its zone dead band is half the comfort band, so the garage
also stays further inside the band.

Wall times depend on what else the machine runs (on a shared 2-core box the same run takes from
one minute to the next up to half as long again): the day and the month are run ``--repeat``
times (3) and the best is the figure, as ``timeit`` reports its minimum, with every run printed
beside it, and the load average at the start. The interpreter's build counts too: Debian's
``python3`` (built with profile-guided and link-time optimization, libpython linked in) runs
the simulator with about 12 % fewer instructions than a plain source build such as pyenv's, so
the first line names the interpreter.

Run: ``.venv/bin/python bench/bench_sim.py [--only day|month|week] [--repeat N]``. Prints;
exits 0.
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import sys
import time
from collections.abc import Callable
from datetime import datetime, timedelta

from scada import gc_policy
from sim.walkthroughs import Options, WalkReport, Walkthrough, run, run_named
from sim.walkthroughs.spec import Comfort, Fidelity, ProblemSeen, Statuses

HW25 = "hw25.isone.me.versant.keene.beech"
DW1 = "dw1.isone.nh.orange.1"
COLD_DAY = datetime(2024, 1, 23)  # noqa: DTZ001 - the house's local wall time
COLD_WEEK = datetime(2024, 1, 21)  # noqa: DTZ001
WALK_FIDELITY = Fidelity(physics_step_s=30, sensor_period_floor_s=120, pulses_per_gallon_max=2)
NO_CRASH = ProblemSeen(check="problem", kind="actor_restarted", seen=False)


def timed(what: Callable[[], WalkReport]) -> tuple[WalkReport, float, float]:
    """The report, wall seconds and CPU seconds of one run."""
    wall, cpu = time.perf_counter(), time.process_time()
    report = what()
    return report, time.perf_counter() - wall, time.process_time() - cpu


def repeated(what: Callable[[], WalkReport], times: int) -> tuple[WalkReport, str]:
    """Run ``what`` ``times`` times: the first failing report (else the last), and the wall
    times as "best s (best of N: all runs)". The best is the figure: on a shared machine a
    slower run measures what else ran, not the simulation (as ``timeit`` reports its minimum).
    """
    walls: list[float] = []
    kept: WalkReport | None = None
    for _ in range(times):
        report, wall, _cpu = timed(what)
        walls.append(wall)
        if kept is None or kept.ok:
            kept = report
    assert kept is not None
    runs = ", ".join(f"{w:.1f}" for w in walls)
    if times == 1:
        return kept, f"{walls[0]:.1f} s wall"
    return kept, f"{min(walls):.1f} s wall (best of {times}; runs {runs} s)"


def verdict(report: WalkReport) -> str:
    failed = [f"{r.label} ({r.detail})" for r in report.results if not r.ok]
    if report.error:
        failed.append(report.error)
    return "all checks pass" if not failed else "FAILED: " + "; ".join(failed)


def day_of_the_largest_house(repeat: int) -> None:
    statuses = Statuses(check="statuses", min_share=0.99, seen_by="atn")
    wt = Walkthrough(
        description="one day of the largest house",
        house=HW25,
        start=COLD_DAY,
        duration=timedelta(days=1),
        fidelity=WALK_FIDELITY,
        expect=(NO_CRASH, statuses),
    )
    report, walls = repeated(lambda: run(wt, name="hw25-day"), repeat)
    print(
        f"1. one simulated day of {HW25} (full runtime, simulated ATN; sensors >= 120 s, "
        f"physics 30 s, <= 2 pulses/gal): {walls} (target <= 5 s); {verdict(report)}"
    )
    # The same day with no uplink: LocalControl, statuses into the store. The figure names
    # drivers, controller and statuses; the ATN's conversation is what this leaves out.
    alone = wt.model_copy(
        update={"atn": False, "expect": (NO_CRASH, Statuses(check="statuses", min_share=0.99))}
    )
    report, wall, cpu = timed(lambda: run(alone, name="hw25-day-local"))
    print(
        f"   the same day in LocalControl, no uplink (statuses into the store): {wall:.1f} s "
        f"wall, {cpu:.1f} s CPU; {verdict(report)}"
    )
    own = wt.model_copy(
        update={"duration": timedelta(hours=1), "fidelity": Fidelity(physics_step_s=1.0)}
    )
    own = own.model_copy(update={"expect": (NO_CRASH,)})
    report, wall, cpu = timed(lambda: run(own, name="hw25-hour"))
    print(
        f"   at the house file's own sample periods (1-5 s) and pulse rates, physics every "
        f"1 s: one simulated hour {wall:.1f} s wall, {cpu:.1f} s CPU -> a day ~{24 * wall:.0f} s"
    )


def month(repeat: int) -> None:
    report, walls = repeated(lambda: run_named("month"), repeat)
    print(
        f"2. the 28-day 'month' walkthrough of {DW1}: {walls} (target <= 60 s); "
        f"{report.passed}/{len(report.results)} checks pass"
        + ("" if report.ok else f"; {verdict(report)}")
    )


def week(atn: bool) -> tuple[WalkReport, float]:
    comfort = Comfort(check="comfort", min_share=0.98, after=timedelta(hours=2))
    wt = Walkthrough(
        description="the cold-snap week",
        house=DW1,
        start=COLD_WEEK,
        duration=timedelta(days=7),
        atn=atn,
        fidelity=WALK_FIDELITY,
        expect=(comfort, NO_CRASH),
    )
    report, wall, _ = timed(lambda: run(wt, name="week", options=Options()))
    return report, wall


def remote_versus_local() -> None:
    remote, wall_r = week(atn=True)
    local, wall_l = week(atn=False)
    rec = remote.record
    mean_price = sum(s.price for s in rec.samples) / len(rec.samples)
    print(f"3. the cold-snap week of {DW1} (from {COLD_WEEK:%Y-%m-%d}), same weather:")
    for label, r, wall in (
        ("RemoteControl (ATN)", remote, wall_r),
        ("LocalControl", local, wall_l),
    ):
        paid = r.cost_usd / r.energy_kwh * 1000 if r.energy_kwh else 0.0
        print(
            f"   {label:<20} cost ${r.cost_usd:6.2f}  energy {r.energy_kwh:6.1f} kWh  "
            f"(paid {paid:5.1f} $/MWh; week's mean price {mean_price:.1f})  "
            f"comfort {r.comfort_share:6.1%}  [{wall:.0f} s wall]"
        )
    saved = local.cost_usd - remote.cost_usd
    ok = saved > 0 and remote.comfort_share >= 0.98
    print(
        f"   RemoteControl saves ${saved:.2f} ({saved / local.cost_usd:.0%}) with comfort "
        f"{remote.comfort_share:.1%}: target {'met' if ok else 'MISSED'}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--only", choices=("day", "month", "week"))
    parser.add_argument(
        "--repeat", type=int, default=3, help="runs of the day and the month (best reported)"
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    gc_policy.tune()  # as the `sim` and `scada` commands do
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"bench_sim: Python {platform.python_version()} ({os.path.realpath(sys.executable)}), "
        f"{os.cpu_count()} CPUs, load average {load:.2f} at start"
    )
    if args.only in (None, "day"):
        day_of_the_largest_house(args.repeat)
    if args.only in (None, "month"):
        month(args.repeat)
    if args.only in (None, "week"):
        remote_versus_local()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
