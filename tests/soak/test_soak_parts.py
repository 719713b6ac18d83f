"""The soak's pure parts and its seams, fast: the plan, its file (and ``scada serve`` refusing
a bad one), its injection on the emulation's clock (also after a restart mid-window), shared
anchored time, the coarser house file, and the checks on hand-made records."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from scada.clock import LoopClock, VirtualTimeLoop, anchored_clock, run_virtual
from scada.layout import find_house, load_layout
from sim.emulation import SimEmulation
from sim.fidelity import Coarser
from sim.soak.checks import FaultRun, OutboxSample, SoakRecord, duplicates, faults, lost
from sim.soak.console import Seen
from sim.soak.journal import Journal, Received
from sim.soak.plan import CYCLE, Fault, FaultKind, PlanError, build_plan, dump_faults, load_faults
from sim.soak.procs import Life
from sim.soak.simtime import SimTime
from tests.ops.ops_support import settings_env

HW25 = "hw25.isone.me.versant.keene.beech"
T0 = datetime(2024, 1, 15, tzinfo=UTC)
BIN = Path(sys.executable).parent


def test_the_plan_has_a_fault_an_hour_a_kill_a_period_and_a_quiet_last_hour() -> None:
    layout = load_layout(find_house(HW25))
    week = build_plan(layout, T0, 24 * 7 + 1, 24)
    assert len(week) == 24 * 7
    kills = [f for f in week if f.kind is FaultKind.SCADA_KILL]
    assert len(kills) == 7
    assert all(f.at.minute == 20 for f in week)
    others = Counter(f.kind for f in week if f.kind is not FaultKind.SCADA_KILL)
    assert set(others) == set(CYCLE)
    assert max(others.values()) - min(others.values()) <= 1
    short = [f.kind for f in build_plan(layout, T0, 7, 6)]
    assert short == [*CYCLE, FaultKind.SCADA_KILL]
    with pytest.raises(PlanError):
        build_plan(layout, T0, 1, 24)


def test_the_plan_file_carries_only_the_in_process_faults(tmp_path: Path) -> None:
    layout = load_layout(find_house(HW25))
    plan = build_plan(layout, T0, 8, 6)
    dump_faults(plan, tmp_path / "p.json")
    back = load_faults(tmp_path / "p.json")
    assert back == [f for f in plan if f.kind in {FaultKind.METER_TIMEOUT, FaultKind.SENSOR_STUCK}]
    (tmp_path / "bad.json").write_text('{"faults": [{"at": "2024-01-15T00:00:00"}]}')
    with pytest.raises(PlanError):
        load_faults(tmp_path / "bad.json")


@pytest.mark.e2e
@pytest.mark.parametrize(
    ("plan", "why"),
    [
        ('{"faults": [{"at": "2024-01-15T00:00:00+00:00"}]}', "not a fault plan (no 'kind')"),
        (
            (
                '{"faults": [{"at": "2024-01-15T00:00:00+00:00", "kind": "meter_timeout", '
                '"target": "nope", "duration_s": 60}]}'
            ),
            f"meter_timeout: no 'nope' in {HW25}",
        ),
    ],
)
def test_serve_refuses_a_bad_fault_plan_in_one_line(tmp_path: Path, plan: str, why: str) -> None:
    bad = tmp_path / "plan.json"
    bad.write_text(plan)
    sock = tmp_path / "s.sock"
    run = subprocess.run(
        [
            *(str(BIN / "scada"), "serve", "--sim", "--house", HW25, "--no-atn"),
            *("--socket", str(sock), "--data-dir", str(tmp_path), "--sim-faults", str(bad)),
        ],
        env=settings_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert run.returncode == 1
    assert run.stderr.splitlines() == [f"error: --sim-faults: {bad}: {why}"]
    assert not sock.exists()


def test_the_coarser_house_file_floors_periods_and_timeouts_and_caps_pulses() -> None:
    doc = json.loads(find_house(HW25).read_bytes())
    Coarser(120, 2, 30).apply(doc)
    layout = load_layout(find_house(HW25))
    periods = {c["name"]: c["sample_period_s"] for c in doc["channels"]}
    assert periods == {c.name: max(120.0, c.sample_period_s) for c in layout.channels}
    pulses = [d["pulses_per_gallon"] for d in doc["devices"] if "pulses_per_gallon" in d]
    assert pulses == [2.0, 2.0]
    (meter,) = (d for d in doc["devices"] if d["bus"]["kind"] == "modbus_tcp")
    assert meter["bus"]["timeout_s"] == 30.0
    untouched = json.loads(find_house(HW25).read_bytes())
    Coarser().apply(untouched)
    assert untouched == json.loads(find_house(HW25).read_bytes())


def test_a_virtual_time_loop_refused_leaves_no_half_built_loop_behind() -> None:
    # pytest makes an unraisable exception from a finalizer an error: there must be none.
    with pytest.raises(ValueError, match="positive"):
        VirtualTimeLoop(0.0)
    with pytest.raises(ValueError, match="needs a speed"):
        VirtualTimeLoop(None, anchor=1.0)


def test_faults_are_applied_on_the_clock_and_again_after_a_restart_mid_window(
    tmp_path: Path,
) -> None:
    layout = load_layout(find_house(HW25))
    meter = Fault(T0 + timedelta(seconds=100), FaultKind.METER_TIMEOUT, "egauge", 60)
    probe = Fault(T0 + timedelta(seconds=100), FaultKind.SENSOR_STUCK, "zone1-temp", 60)

    async def life(start: datetime, seen: list[tuple[float, bool, bool]]) -> None:
        clock = LoopClock(start)
        emu = SimEmulation(layout, tmp_path, clock, atn=False, physics=False, faults=[meter, probe])
        await emu.start()
        task = asyncio.create_task(emu.run())
        try:
            for _ in range(20):
                await asyncio.sleep(10)
                elapsed = (clock.now() - T0).total_seconds()
                seen.append((elapsed, emu.tcp["egauge"].faults.silent, "zone1-temp" in emu.faults))
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            await emu.stop()

    first: list[tuple[float, bool, bool]] = []
    run_virtual(life(T0, first))
    assert [(m, p) for t, m, p in first if 100 < t < 160] == [(True, True)] * 5
    assert all(not m and not p for t, m, p in first if t < 100 or t > 160)
    restarted: list[tuple[float, bool, bool]] = []
    run_virtual(life(T0 + timedelta(seconds=125), restarted))  # mid-window: applied at once
    assert restarted[0] == (135.0, True, True)
    assert restarted[3][1:] == (False, False)


def test_processes_on_one_anchor_share_simulated_time() -> None:
    anchor = time.monotonic() - 10.0
    sim = SimTime(T0, anchor, 100.0)

    async def now() -> datetime:
        return anchored_clock(T0, asyncio.get_running_loop()).now()

    for _ in range(2):  # a process started twice: the second carries on
        with asyncio.Runner(loop_factory=lambda: VirtualTimeLoop(100.0, anchor=anchor)) as r:
            got = r.run(now())
        assert abs((got - sim.now()).total_seconds()) < 1.0
        assert got >= T0 + timedelta(seconds=1000)
    assert abs(sim.real_at(sim.at_real(anchor + 5)) - (anchor + 5)) < 1e-6
    assert sim.args()[sim.args().index("--sim-start") + 1] == "2024-01-15T00:00:00+0000"


def _record(received: list[Received], samples: list[OutboxSample]) -> SoakRecord:
    return SoakRecord(
        time=SimTime(T0, 0.0, 1.0),
        hours=1,
        runs=[],
        journal=Journal(received, {}),
        samples=samples,
        final=OutboxSample(99.0, frozenset(), 0),
        seen=[],
        lives=[Life(1, 0.0)],
    )


def _status(t: float, mid: str, seq: int) -> Received:
    slot = (T0 + timedelta(seconds=300 * seq)).isoformat()
    return Received(t, "status", mid, boot_id="b", seq=seq, slot_start=slot)


def test_an_acknowledged_message_arriving_again_is_a_violation_an_unacknowledged_one_is_not() -> (
    None
):
    a, b = _status(1.0, "a", 1), _status(2.0, "b", 2)
    samples = [OutboxSample(5.0, frozenset({"b"}), 0)]  # a acknowledged on disk, b not yet
    ok = duplicates(_record([a, b, _status(6.0, "b", 2)], samples))
    assert ok.ok
    assert "unacknowledged messages 1 " in " ".join(ok.figures)
    in_transit = duplicates(_record([a, b, _status(6.0, "a", 1)], samples))
    assert in_transit.ok  # within IN_TRANSIT_S of the sample: a copy already on its way
    bad = duplicates(_record([a, b, _status(20.0, "a", 1)], samples))
    assert not bad.ok


def test_a_gap_in_the_statuses_or_an_outbox_id_never_received_is_a_loss() -> None:
    whole = [_status(1.0, "a", 1), _status(2.0, "b", 2), _status(3.0, "c", 3)]
    assert lost(_record(whole, [OutboxSample(0.5, frozenset({"a"}), 0)])).ok
    gap = [whole[0], whole[2]]
    assert not lost(_record(gap, [])).ok
    assert not lost(_record(whole, [OutboxSample(0.5, frozenset({"z"}), 0)])).ok


def test_a_kill_counts_as_recovered_when_the_new_process_is_remote_before_the_run_ends() -> None:
    kill = Fault(T0 + timedelta(seconds=100), FaultKind.SCADA_KILL, "scada", 120)
    run = FaultRun(kill, real_start=100.0, real_end=300.0)  # waited for the monitor to attach
    rec = _record([], [])
    rec.runs = [run]
    rec.seen = [Seen(50.0, "attach", "remote"), Seen(250.0, "attach", "remote")]
    (verdict,) = faults(rec)
    assert verdict.ok, verdict.figures
    rec.seen = [Seen(50.0, "attach", "remote"), Seen(250.0, "attach", "local")]
    (verdict,) = faults(rec)
    assert not verdict.ok
    assert verdict.figures[0] == "injected 1, reported 1, recovered 0"
