"""The soak in its shortened form: eight simulated hours of the largest house over a real
mosquitto, ``scada serve`` and the ATN as real processes — a warm-up hour, one fault of each
kind (broker restart, meter timeout, sensor stuck, ATN silent, consoles dropping), a SIGKILL of
``scada serve`` with a restart, and the drain — then every check of :mod:`sim.soak.checks`.

At 600x, the full week's speed (:mod:`sim.soak` says why that is full speed), it takes about
a minute. The full week runs in ``make soak`` (and ``make bench``).
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from sim.soak.orchestrator import SoakConfig, run_soak
from sim.soak.report import passed, table
from tests.mqtt_support import require_mosquitto

pytestmark = [pytest.mark.broker, pytest.mark.e2e, pytest.mark.slow]

HOURS = 8  # warm-up, five faults, the SIGKILL, the drain
KILL_EVERY_H = 6  # the kill in the sixth hour of the plan, after one fault of each kind
SPEED = 600.0


@pytest.mark.timeout(180)
async def test_a_shortened_soak_loses_nothing_and_recovers_from_every_fault(
    tmp_path: Path,
) -> None:
    require_mosquitto()
    began = time.monotonic()
    verdicts = await run_soak(
        SoakConfig(tmp_path, hours=HOURS, speed=SPEED, kill_every_h=KILL_EVERY_H),
        say=lambda _line: None,
    )
    report = table(verdicts)
    print(f"{report}\nwall time {time.monotonic() - began:.1f} s")
    assert passed(verdicts), report
    kinds = {v.name for v in verdicts if v.ok is not None}
    assert len(kinds) == 8, report  # lost, duplicates, six fault kinds (memory needs a day)
