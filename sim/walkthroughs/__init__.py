"""Walkthroughs: scripted scenarios on a simulated house, run on virtual time, with checks.

A walkthrough is a small TOML file in ``input_data/walkthroughs/`` (:mod:`.spec` says what it
may hold); :func:`run_named` runs one through the real runtime on the emulated house
(:mod:`.runner`) and judges its checks (:mod:`.checks`); :mod:`.plot` draws a run.
``sim walkthrough NAME`` is the command.
"""

from sim.walkthroughs.checks import CheckResult
from sim.walkthroughs.load import (
    UnknownWalkthroughError,
    WalkthroughError,
    available,
    check_against,
    find_walkthrough,
    load_walkthrough,
    parse_walkthrough,
    walkthroughs_dir,
)
from sim.walkthroughs.runner import Options, WalkReport, run, run_named
from sim.walkthroughs.spec import Walkthrough

__all__ = [
    "CheckResult",
    "Options",
    "UnknownWalkthroughError",
    "WalkReport",
    "Walkthrough",
    "WalkthroughError",
    "available",
    "check_against",
    "find_walkthrough",
    "load_walkthrough",
    "parse_walkthrough",
    "run",
    "run_named",
    "walkthroughs_dir",
]
