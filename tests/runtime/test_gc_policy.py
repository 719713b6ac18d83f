"""The cycle collector's thresholds that the ``scada`` and ``sim`` commands set."""

from __future__ import annotations

import gc
import subprocess
import sys
from collections.abc import Iterator

import pytest

from scada import gc_policy


@pytest.fixture
def thresholds() -> Iterator[tuple[int, int, int]]:
    before = gc.get_threshold()
    yield before
    gc.set_threshold(*before)


def test_tune_raises_the_young_threshold_and_keeps_the_older_ratios(
    thresholds: tuple[int, int, int],
) -> None:
    gc_policy.tune()
    assert gc.get_threshold() == (gc_policy.YOUNG_THRESHOLD, thresholds[1], thresholds[2])
    assert gc.isenabled()


@pytest.mark.parametrize("module", ["scada.cli.main", "sim.cli"])
def test_each_command_tunes_the_collector_before_it_runs(module: str) -> None:
    probe = (
        "import gc, sys\n"
        f"import {module} as m\n"
        "m.app = lambda: print(gc.get_threshold()[0])\n"
        "m.main()\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == str(gc_policy.YOUNG_THRESHOLD)
