"""The soak in full, for ``make bench``: ``sim soak`` (a simulated week of the largest house,
a fault every simulated hour, a SIGKILL a day) with its progress lines and final table.

Run: ``.venv/bin/python bench/bench_soak.py [--days 7] [--speed 600]``. Prints the figures and
exits 0 whatever they are, like the other benchmarks (``make soak`` exits 1 on a failed check).
"""

from __future__ import annotations

import argparse

from sim.soak import command


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--days", type=float, default=7.0)
    p.add_argument("--speed", type=float, default=command.DEFAULT_SPEED)
    a = p.parse_args()
    command.main(a.days, a.speed, None, keep=False)


if __name__ == "__main__":
    main()
