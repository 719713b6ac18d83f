"""The soak in its shortened form: eight simulated hours of the largest house over a real
mosquitto, ``scada serve`` and the ATN as real processes — a warm-up hour, one fault of each
kind (broker restart, meter timeout, sensor stuck, ATN silent, consoles dropping), a SIGKILL of
``scada serve`` with a restart, and the drain — then every check of :mod:`sim.soak.checks`.

At 600x, the full week's speed (:mod:`sim.soak` says why that is full speed), it takes about
a real minute, run in a thread from the session's start (:mod:`tests.soak.background`).
The full week runs in ``make soak`` (and ``make bench``).
"""

from __future__ import annotations

import pytest

from sim.soak.report import passed, table
from tests.mqtt_support import require_mosquitto
from tests.soak.background import BackgroundSoak

pytestmark = [pytest.mark.broker, pytest.mark.e2e, pytest.mark.slow]


@pytest.mark.timeout(240)
def test_a_shortened_soak_loses_nothing_and_recovers_from_every_fault(
    background_soak: BackgroundSoak | None,
) -> None:
    require_mosquitto()
    assert background_soak is not None  # started for this test by tests/conftest.py
    verdicts = background_soak.result(timeout_s=220)
    report = table(verdicts)
    print(f"{report}\nwall time {background_soak.wall_s:.1f} s")
    assert passed(verdicts), report
    kinds = {v.name for v in verdicts if v.ok is not None}
    assert len(kinds) == 8, report  # lost, duplicates, six fault kinds (memory needs a day)
