"""Run a soak: a real broker, ``scada serve`` and the ATN as processes on shared simulated
time, a fault every simulated hour, then the checks (:mod:`sim.soak.checks`).

Both run the house file at :data:`FIDELITY`, written to the work dir (``layout.json``).
The orchestrator runs on a plain asyncio loop in real time and reads simulated time from the
same anchor as its children (:class:`~sim.soak.simtime.SimTime`). Simulated time starts
:data:`LEAD_S` real seconds after launch (the processes start meanwhile) on a whole UTC hour
in the profiles' January. Hour 0 is a warm-up (the first contract, RemoteControl), the last
hour the drain; the hours between carry the plan's faults (:mod:`sim.soak.plan`). The
in-process faults are in the plan file ``scada serve`` is started with; the others are done
here: the broker stopped and started on its port, the ATN stopped and continued, consoles
dropped, ``scada serve`` killed and started again with the same data dir and anchor.

At each hour's start the orchestrator samples the serve's RSS and the outbox on disk, and
prints a progress line. After the drain it waits (real time, at most :data:`DRAIN_S`) for the
outbox to empty, stops everything and judges.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from scada.layout import Layout, find_house, load_layout
from sim.broker import Mosquitto
from sim.fidelity import Coarser
from sim.soak.checks import (
    LOG_MARKS,
    FaultRun,
    OutboxSample,
    SoakRecord,
    Verdict,
    dump_record,
    judge,
)
from sim.soak.console import Monitor, attach_once, drop_consoles
from sim.soak.journal import read_journal
from sim.soak.plan import HOUR_S, Fault, FaultKind, build_plan, dump_faults
from sim.soak.procs import Atn, Serve
from sim.soak.simtime import SimTime

HOUSE = "hw25.isone.me.versant.keene.beech"
START = datetime(2024, 1, 15, tzinfo=UTC)
LEAD_S = 2.0
DRAIN_S = 60.0
SERVE_UP_S = 30.0
FIDELITY = Coarser(sensor_period_floor_s=120, pulses_per_gallon_max=2, modbus_timeout_floor_s=30)
"""The house file as the soak runs it (see README "Soak"): at a few hundred times real time a
channel polled every second would cost most of the CPU, and the meter's 3 s Modbus timeout
would be a few real milliseconds, less than a busy machine may take to answer."""


@dataclass(frozen=True, slots=True)
class SoakConfig:
    """``hours`` simulated hours (warm-up and drain included) of ``house`` at ``speed``, a
    SIGKILL in the last hour of every ``kill_every_h``; files under ``workdir``."""

    workdir: Path
    hours: int
    speed: float
    kill_every_h: int = 24
    house: str = HOUSE


class SoakError(RuntimeError):
    """The soak could not run (a process would not start, or died by itself)."""


async def run_soak(cfg: SoakConfig, say: Callable[[str], None] = print) -> list[Verdict]:
    """Run the soak of ``cfg`` and return its verdicts; ``say`` gets the progress lines."""
    cfg.workdir.mkdir(parents=True, exist_ok=True)
    layout_file = cfg.workdir / "layout.json"
    layout = _soak_layout(cfg.house, layout_file)
    sim = SimTime(START, time.monotonic() + LEAD_S, cfg.speed)
    plan = build_plan(layout, START + timedelta(seconds=HOUR_S), cfg.hours - 1, cfg.kill_every_h)
    plan_file = cfg.workdir / "faults.json"
    dump_faults(plan, plan_file)
    channels = {c.name: c.device for c in layout.channels}
    sockdir = Path(tempfile.mkdtemp(prefix="gwsoak"))  # a Unix socket path must be short
    broker = Mosquitto(cfg.workdir / "broker").start()
    serve = Serve(
        layout_file, broker.url, sim, workdir=cfg.workdir, socket=sockdir / "s.sock", plan=plan_file
    )
    atn = Atn(layout_file, broker.url, sim, cfg.workdir)
    monitor = Monitor(serve.socket)
    watch = asyncio.create_task(monitor.run(), name="soak-monitor")
    runs: list[FaultRun] = []
    samples: list[OutboxSample] = []
    try:
        atn.start()
        serve.start()
        await _until_attached(monitor, serve)
        for hour in range(cfg.hours):
            top = START + timedelta(seconds=hour * HOUR_S)
            await sim.sleep_until(top)
            serve.sample_rss()
            _sample(serve, samples)
            say(
                _progress(
                    hour,
                    hours=cfg.hours,
                    top=top,
                    serve=serve,
                    monitor=monitor,
                    samples=samples,
                    runs=runs,
                )
            )
            for fault in (f for f in plan if top <= f.at < top + timedelta(seconds=HOUR_S)):
                await sim.sleep_until(fault.at)
                run = FaultRun(fault, time.monotonic(), 0.0, _subjects(fault, channels))
                await _carry_out(
                    run,
                    sim=sim,
                    broker=broker,
                    atn=atn,
                    serve=serve,
                    monitor=monitor,
                    samples=samples,
                )
                run.real_end = time.monotonic()
                runs.append(run)
            if serve.crashed():
                raise SoakError(f"scada serve exited by itself:\n{_tail(serve.log)}")
            if not atn.alive():
                raise SoakError(f"the ATN exited by itself:\n{_tail(atn.log)}")
        await sim.sleep_until(START + timedelta(seconds=cfg.hours * HOUR_S))
        final = await _drain(serve, samples)
    finally:
        watch.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watch
        serve.stop()
        atn.stop()
        broker.stop()
        shutil.rmtree(sockdir, ignore_errors=True)
    record = SoakRecord(
        sim, cfg.hours, runs, read_journal(atn.journal), samples, final, monitor.seen, serve.lives
    )
    dump_record(record, cfg.workdir / "record.json")
    return judge(record)


def _soak_layout(house: str, path: Path) -> Layout:
    """Write the layout of ``house`` at :data:`FIDELITY` to ``path``; return it."""
    doc = json.loads(find_house(house).read_bytes())
    FIDELITY.apply(doc)
    path.write_text(json.dumps(doc, indent=1) + "\n")
    return load_layout(path)


def _subjects(fault: Fault, channels: dict[str, str]) -> frozenset[str]:
    """What problems ``fault`` may raise name: its target, a meter's channels, and the ATN
    (not heard while the broker is away)."""
    subjects = {fault.target} | {c for c, d in channels.items() if d == fault.target}
    if fault.kind is FaultKind.BROKER_RESTART:
        subjects.add("atn")
    return frozenset(subjects)


async def _until_attached(monitor: Monitor, serve: Serve) -> None:
    deadline = time.monotonic() + SERVE_UP_S
    while not monitor.attached:
        if serve.crashed() or time.monotonic() > deadline:
            raise SoakError(f"scada serve did not come up:\n{_tail(serve.log)}")
        await asyncio.sleep(0.05)


async def _carry_out(
    run: FaultRun,
    *,
    sim: SimTime,
    broker: Mosquitto,
    atn: Atn,
    serve: Serve,
    monitor: Monitor,
    samples: list[OutboxSample],
) -> None:
    f: Fault = run.fault
    run.log_before = serve.log_counts(LOG_MARKS)
    if f.kind is FaultKind.BROKER_RESTART:
        await asyncio.to_thread(broker.stop)
        await sim.sleep_until(f.end)
        await asyncio.to_thread(broker.restart)
    elif f.kind is FaultKind.ATN_SILENT:
        atn.pause()
        await sim.sleep_until(f.end)
        atn.resume()
    elif f.kind is FaultKind.CONSOLE_DROP:
        run.pid_before = serve.pid
        run.consoles_attached = await drop_consoles(serve.socket)
        await asyncio.sleep(1.0)  # real time for the SCADA to notice and log both
        run.attach_after = await attach_once(serve.socket)
        run.pid_after = serve.pid
    elif f.kind is FaultKind.SCADA_KILL:
        serve.sample_rss()
        serve.kill()
        _sample(serve, samples)  # what the dead process had acknowledged, on disk
        await sim.sleep_until(f.end)
        serve.start()
        await _until_attached(monitor, serve)
    # meter timeout, sensor stuck: scada serve's emulation injects them from the plan file
    run.log_after = serve.log_counts(LOG_MARKS)


def _sample(serve: Serve, samples: list[OutboxSample]) -> None:
    t = time.monotonic()
    got = serve.outbox()
    if got is not None:
        samples.append(OutboxSample(t, frozenset(got[0]), got[1]))


async def _drain(serve: Serve, samples: list[OutboxSample]) -> OutboxSample:
    deadline = time.monotonic() + DRAIN_S
    while True:
        _sample(serve, samples)
        last = samples[-1]
        if (not last.ids and last.t > samples[0].t) or time.monotonic() > deadline:
            return last
        await asyncio.sleep(0.5)


def _progress(
    hour: int,
    *,
    hours: int,
    top: datetime,
    serve: Serve,
    monitor: Monitor,
    samples: list[OutboxSample],
    runs: list[FaultRun],
) -> str:
    life = serve.lives[-1] if serve.lives else None
    rss = f"{life.rss_kb[-1][1] / 1024:.1f} MB" if life and life.rss_kb else "-"
    outbox = len(samples[-1].ids) if samples else "-"
    last = f"{runs[-1].fault.kind.value} on {runs[-1].fault.target}" if runs else "-"
    return (
        f"hour {hour:>3}/{hours} {top:%a %H:%M} | life {len(serve.lives)} rss {rss} | "
        f"outbox {outbox} | mode {monitor.mode} | last fault: {last}"
    )


def _tail(path: Path, lines: int = 30) -> str:
    if not path.exists():
        return "(no log)"
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
