"""The controller's shortcuts change nothing: a run with every pass done in full is the same run.

The controller skips a control pass that would find nothing to do (nothing it reads changed and
no deadline passed), and reuses a decision whose inputs it has seen (see ``_Memo`` in
:mod:`scada.actors.controller`). Here the same walkthroughs run twice on virtual time, once as
they are and once with every memo refused, and must record the very same house: samples,
relays, commands, modes and problems.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from scada.actors import pass_schedule
from sim.walkthroughs import Options, WalkReport, Walkthrough, run, run_named
from sim.walkthroughs.record import Record
from sim.walkthroughs.spec import Fidelity, ProblemSeen

NO_CRASH = ProblemSeen(check="problem", kind="actor_restarted", seen=False)
LOCAL_DAY = Walkthrough(
    description="home-alone: the strategy and the interlocks decide every pass",
    start=datetime(2024, 1, 23),  # noqa: DTZ001 - the house's local wall time
    duration=timedelta(hours=6),
    atn=False,
    fidelity=Fidelity(physics_step_s=30, sensor_period_floor_s=120, pulses_per_gallon_max=2),
    expect=(NO_CRASH,),
)


def _seen(record: Record) -> tuple[object, ...]:
    problems = [(t, p.kind, p.subject, p.summary) for t, p in record.problems]
    return (
        record.samples,
        record.relays,
        record.commands,
        record.modes,
        record.interlocks,
        problems,
    )


def _run(which: str) -> WalkReport:
    if which == "local":
        return run(LOCAL_DAY, name="local")
    return run_named(which, Options())


@pytest.mark.parametrize("which", ["local", "installer-session", "broker-outage"])
def test_skipped_passes_and_reused_decisions_change_nothing(
    which: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    quick = _run(which)
    assert quick.ok, quick.error
    monkeypatch.setattr(pass_schedule.Memo, "fits", lambda *_: False)
    full = _run(which)
    assert _seen(quick.record) == _seen(full.record)
