"""The soak's verdicts, from what was recorded: pure functions of a :class:`SoakRecord`.

**Nothing lost.** At the end the outbox is empty and nothing is quarantined (each message left
it only on the ATN's acknowledgement); every id ever seen in the outbox reached the ATN; each
boot's statuses arrived with no gap in ``seq`` (1 to the last); and every 5-minute slot from
the first status to the last has a status, except slots that ended while ``scada serve`` was
dead (after a SIGKILL and before the restarted process's first slot ended): nothing measured
them, so nothing was produced to lose (nor in a slot that ended :data:`PRODUCE_WITHIN_S` real
seconds or less before the kill: its status may not have been built yet).

**Nothing acknowledged sent again.** The outbox on disk is sampled every simulated hour and
right after each SIGKILL. An id the ATN had received before sample time ``T`` and that is not in
the outbox at ``T`` was acknowledged and the acknowledgement reached the SCADA (it deletes a
message only then, in a committed transaction). Such an id arriving at the ATN again later than
``T + IN_TRANSIT_S`` real seconds is a violation: the SCADA sent an acknowledged message again.
Arrivals of an id more than once otherwise are allowed at-least-once redeliveries (a message
unacknowledged when its ack timeout passed, the link dropped, or the process was killed) and
are counted apart, as are those within ``IN_TRANSIT_S`` of a sample (a copy already on its way).

**Every fault reported and recovered**, per kind (times simulated unless said):

* meter timeout on device D: a ``device_failing`` problem on D raised in the window (or within
  :data:`REPORT_WITHIN_S` after its start), and a ``device_recovered`` on D raised after the
  window and within :data:`RECOVER_WITHIN_S` of its end — both as received by the ATN;
* sensor stuck on channel C: ``sensor_stale`` then ``sensor_recovered`` on C, the same way;
* broker restart: a ``link_down`` problem on ``broker`` raised in the window, and a
  ``link_up`` on ``broker`` after it, the same way; and the ATN received a status after the
  restart within :data:`RECOVER_WITHIN_S`;
* ATN silent: a ``link_down`` then ``link_up`` on ``atn``, the same way; and the SCADA was in
  LocalControl at the end of the silence (the monitor console's mode events) and in
  RemoteControl again within :data:`RECOVER_WITHIN_S` after it;
* console drop: both consoles got the hello, the SCADA logged both sessions detached, the
  same process still serves and a fresh console attaches;
* SIGKILL: a new process attached the monitor after the kill (within the orchestrator's
  ``SERVE_UP_S`` real seconds of its start: starting Python is real time, whatever the speed),
  and was in RemoteControl at the attach or within :data:`RECOVER_WITHIN_S` after it.

**Memory.** RSS is sampled every simulated hour. With a SIGKILL a day, each life is about a
day. The baseline is the last sample of the first life (the end of the first simulated day).
Checked: the last sample of every later full life is under ``baseline * 1.05``, and within the
last full life, its last sample is under 1.05 times its sample after :data:`WARM_H` hours
(growth once warm). Lives with fewer than :data:`WARM_H` + 2 samples (the short one after the
last kill) are printed only.

**Spurious problems** (problems on a channel, device or link no fault was injected into at the
time; recoveries and interlock overrides aside) are counted and listed, not judged: they
measure whether the machine kept up with the speed.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from scada.protocol.enums import ProblemKind
from sim.soak.console import Seen
from sim.soak.journal import Journal, Received
from sim.soak.plan import Fault, FaultKind
from sim.soak.procs import Life
from sim.soak.simtime import SimTime

DETACHED = " detached: pid "
LOG_MARKS = (DETACHED,)
"""What ``scada serve`` logs when a console session ends (it publishes no event for it)."""
IN_TRANSIT_S = 3.0
"""Real seconds a copy sent before its acknowledgement was processed may still be travelling."""
PRODUCE_WITHIN_S = 0.25
"""Real seconds a status may take to be built and put on disk after its slot ends (the loop's
wake-up): a slot that ended less than this before a SIGKILL may have had no status yet."""
REPORT_WITHIN_S = 300.0
"""Simulated seconds after a fault's start (or its end, for short ones) to report it by."""
RECOVER_WITHIN_S = 1800.0
"""Simulated seconds after a fault's end to be reported recovered by."""
RSS_GROWTH = 0.05
WARM_H = 3
SLOT_S = 300


@dataclass
class FaultRun:
    """A fault as carried out: its real window (CLOCK_MONOTONIC s) and, for a console drop or a
    SIGKILL, what the orchestrator saw around it."""

    fault: Fault
    real_start: float
    real_end: float
    subjects: frozenset[str] = frozenset()
    """What its problems may name: the target, and a meter's channels."""
    consoles_attached: int = 0
    log_before: dict[str, int] = field(default_factory=dict)
    """How many lines holding each of :data:`LOG_MARKS` ``scada serve`` had logged before."""
    log_after: dict[str, int] = field(default_factory=dict)
    """The same, after the fault (once recovered, or given up waiting)."""
    attach_after: bool = False
    pid_before: int | None = None
    pid_after: int | None = None


@dataclass(frozen=True, slots=True)
class OutboxSample:
    """The outbox's ids on disk at CLOCK_MONOTONIC ``t``, and the quarantined count."""

    t: float
    ids: frozenset[str]
    quarantined: int


@dataclass
class SoakRecord:
    time: SimTime
    hours: int
    runs: list[FaultRun]
    journal: Journal
    samples: list[OutboxSample]
    final: OutboxSample
    seen: list[Seen]
    lives: list[Life]


@dataclass
class Verdict:
    """One line of the final table: ``ok`` None means a figure only."""

    name: str
    ok: bool | None
    figures: list[str] = field(default_factory=list)


def dump_record(rec: SoakRecord, path: Path) -> None:
    """Write what was recorded (but the journal, which is a file already) to ``path`` as JSON,
    times as CLOCK_MONOTONIC seconds, for looking into a failed soak."""
    data = {
        "sim_time": {
            "start": rec.time.start.isoformat(),
            "anchor": rec.time.anchor,
            "speed": rec.time.speed,
        },
        "runs": [
            {
                **asdict(r),
                "fault": {**asdict(r.fault), "at": r.fault.at.isoformat()},
                "subjects": sorted(r.subjects),
            }
            for r in rec.runs
        ],
        "seen": [asdict(s) for s in rec.seen],
        "lives": [asdict(life) for life in rec.lives],
        "outbox": [(s.t, len(s.ids), s.quarantined) for s in rec.samples],
        "final_outbox": sorted(rec.final.ids),
    }
    path.write_text(json.dumps(data, indent=1) + "\n")


def judge(rec: SoakRecord) -> list[Verdict]:
    return [
        lost(rec),
        duplicates(rec),
        *faults(rec),
        memory(rec.lives),
        spurious(rec),
    ]


# ---------------------------------------------------------------------------- nothing lost
def lost(rec: SoakRecord) -> Verdict:
    got = {r.id for r in rec.journal.received}
    statuses = [r for r in rec.journal.received if r.kind == "status"]
    ever = set().union(*(s.ids for s in rec.samples)) if rec.samples else set()
    never = ever - got
    gaps = 0
    boots: dict[str, set[int]] = defaultdict(set)
    for s in statuses:
        if s.boot_id is not None and s.seq is not None:
            boots[s.boot_id].add(s.seq)
    for seqs in boots.values():
        gaps += len(set(range(1, max(seqs) + 1)) - seqs)
    missing, excused = _slots(rec, statuses)
    ok = not rec.final.ids and not rec.final.quarantined and not never and not gaps and not missing
    return Verdict(
        "nothing lost",
        ok,
        [
            (
                f"statuses received {len({s.id for s in statuses})} from {len(boots)} boots, "
                f"problems {_count(rec, 'problem')}, aggregates {_count(rec, 'aggregate')}"
            ),
            (
                f"left in the outbox at the end {len(rec.final.ids)}, quarantined "
                f"{rec.final.quarantined}"
            ),
            f"ids seen in the outbox that never reached the ATN {len(never)}",
            f"gaps in a boot's status seq {gaps}",
            f"5-minute slots without a status {missing} (plus {excused} while serve was dead)",
        ],
    )


def _count(rec: SoakRecord, kind: str) -> int:
    return len({r.id for r in rec.journal.received if r.kind == kind})


def _slots(rec: SoakRecord, statuses: list[Received]) -> tuple[int, int]:
    slots = {datetime.fromisoformat(s.slot_start) for s in statuses if s.slot_start}
    if not slots:
        return 0, 0
    dead: list[tuple[datetime, datetime]] = []
    for prev, nxt in zip(rec.lives, rec.lives[1:], strict=False):
        if prev.ended is not None:
            restarted = rec.time.at_real(nxt.started) + timedelta(seconds=SLOT_S)
            dead.append((rec.time.at_real(prev.ended - PRODUCE_WITHIN_S), restarted))
    missing = excused = 0
    t, last = min(slots), max(slots)
    while t <= last:
        if t not in slots:
            end = t + timedelta(seconds=SLOT_S)
            if any(a <= end and t <= b for a, b in dead):
                excused += 1
            else:
                missing += 1
        t += timedelta(seconds=SLOT_S)
    return missing, excused


# ---------------------------------------------------------------------------- duplicates
def duplicates(rec: SoakRecord) -> Verdict:
    first: dict[str, float] = {}
    arrivals: dict[str, list[float]] = defaultdict(list)
    for r in rec.journal.received:
        first.setdefault(r.id, r.t)
        arrivals[r.id].append(r.t)
    acked_at: dict[str, float] = {}
    for sample in sorted(rec.samples, key=lambda s: s.t):
        for mid, t0 in first.items():
            if mid not in acked_at and t0 < sample.t and mid not in sample.ids:
                acked_at[mid] = sample.t
    violations = in_transit = redelivered = 0
    for mid, times in arrivals.items():
        if len(times) < 2:
            continue
        redelivered += len(times) - 1
        acked = acked_at.get(mid)
        if acked is None:
            continue
        late = [t for t in times[1:] if t > acked]
        violations += sum(t > acked + IN_TRANSIT_S for t in late)
        in_transit += sum(t <= acked + IN_TRANSIT_S for t in late)
    return Verdict(
        "nothing acknowledged sent again",
        violations == 0,
        [
            f"outbox samples {len(rec.samples)}, ids known acknowledged on disk {len(acked_at)}",
            f"acknowledged ids that arrived again {violations}",
            (
                f"at-least-once redeliveries of unacknowledged messages "
                f"{redelivered - violations} (of which {in_transit} already on their way when "
                "the ack was recorded)"
            ),
        ],
    )


# ---------------------------------------------------------------------------- faults
def faults(rec: SoakRecord) -> list[Verdict]:
    by_kind: dict[FaultKind, list[tuple[FaultRun, bool, bool]]] = defaultdict(list)
    for run in rec.runs:
        by_kind[run.fault.kind].append((run, *_reported_recovered(rec, run)))
    out = []
    for kind, results in by_kind.items():
        bad = [r.fault for r, rep, recov in results if not (rep and recov)]
        reported = sum(rep for _, rep, _ in results)
        recovered = sum(rc for _, _, rc in results)
        figures = [f"injected {len(results)}, reported {reported}, recovered {recovered}"]
        figures += [f"not reported/recovered: {f.target} at {f.at:%d %H:%M}" for f in bad[:5]]
        out.append(Verdict(f"{kind.value} reported and recovered", not bad, figures))
    return out


def _reported_recovered(rec: SoakRecord, run: FaultRun) -> tuple[bool, bool]:
    f = run.fault
    report_by = f.at + timedelta(seconds=max(f.duration_s, REPORT_WITHIN_S))
    recover_by = f.end + timedelta(seconds=RECOVER_WITHIN_S)
    raised = _problems(rec.journal.received, f.target)
    failed, back = _PROBLEMS.get(f.kind, ("", ""))
    reported = any(k == failed and f.at <= at <= report_by for k, at in raised)
    recovered = any(k == back and f.end <= at <= recover_by for k, at in raised)
    if f.kind in {FaultKind.METER_TIMEOUT, FaultKind.SENSOR_STUCK}:
        return reported, recovered
    recover_real = run.real_end + RECOVER_WITHIN_S / rec.time.speed
    if f.kind is FaultKind.BROKER_RESTART:
        status_after = any(
            r.kind == "status" and run.real_end <= r.t <= recover_real for r in rec.journal.received
        )
        return reported, recovered and status_after
    if f.kind is FaultKind.ATN_SILENT:
        local = _mode_at(rec, run.real_end) == "local"
        return reported and local, recovered and _remote_again(rec, run.real_end, recover_real)
    if f.kind is FaultKind.CONSOLE_DROP:
        logged = run.log_after.get(DETACHED, 0) - run.log_before.get(DETACHED, 0)
        same = run.pid_before is not None and run.pid_before == run.pid_after
        return run.consoles_attached == 2 and logged >= 2, same and run.attach_after
    # SIGKILL: what the monitor saw after the kill is the new process's. Starting a process
    # takes real time (bounded by the orchestrator), so recovery is timed from its attach.
    attach = [s.t for s in rec.seen if s.what == "attach" and s.t >= run.real_start]
    if not attach:
        return False, False
    return True, _remote_again(rec, attach[0], attach[0] + RECOVER_WITHIN_S / rec.time.speed)


_PROBLEMS = {
    FaultKind.METER_TIMEOUT: ("device_failing", "device_recovered"),
    FaultKind.SENSOR_STUCK: ("sensor_stale", "sensor_recovered"),
    FaultKind.BROKER_RESTART: ("link_down", "link_up"),
    FaultKind.ATN_SILENT: ("link_down", "link_up"),
}
"""The problems that report a fault of each kind and its end, on the fault's target."""


def _mode_at(rec: SoakRecord, t: float) -> str | None:
    """The mode the monitor last knew at real time ``t``."""
    known = [s for s in rec.seen if s.what in {"mode", "attach"} and s.t <= t]
    return known[-1].value if known else None


def _remote_again(rec: SoakRecord, after: float, by: float) -> bool:
    """Whether the monitor saw RemoteControl between real times ``after`` and ``by``."""
    remote = (s.t for s in rec.seen if s.what in {"mode", "attach"} and s.value == "remote")
    return any(after <= t <= by for t in remote)


def _problems(received: Iterable[Received], subject: str) -> list[tuple[str, datetime]]:
    return [
        (r.problem, datetime.fromisoformat(r.at))
        for r in received
        if r.kind == "problem" and r.subject == subject and r.problem and r.at
    ]


# ---------------------------------------------------------------------------- memory
def memory(lives: list[Life]) -> Verdict:
    figures = []
    full = [life for life in lives if len(life.rss_kb) >= WARM_H + 2]
    if not full:
        return Verdict("RSS growth < 5% after the first day", None, ["no full life sampled"])
    base = full[0].rss_kb[-1][1]
    ok = True
    for n, life in enumerate(lives, start=1):
        if not life.rss_kb:
            continue
        first, last = life.rss_kb[0][1], life.rss_kb[-1][1]
        line = (
            f"life {n}: {len(life.rss_kb)} samples, first {first / 1024:.1f} MB, "
            f"last {last / 1024:.1f} MB"
        )
        if life in full[1:]:
            growth = last / base - 1
            ok &= growth < RSS_GROWTH
            line += f", {growth:+.1%} vs the end of day 1"
        figures.append(line)
    last_full = full[-1]
    warm = last_full.rss_kb[WARM_H][1]
    within = last_full.rss_kb[-1][1] / warm - 1
    if len(full) > 1:
        ok &= within < RSS_GROWTH
    figures.append(
        f"baseline (end of day 1) {base / 1024:.1f} MB; last full life from hour {WARM_H} "
        f"({warm / 1024:.1f} MB) to its end: {within:+.1%}"
    )
    return Verdict("RSS growth < 5% after the first day", ok if len(full) > 1 else None, figures)


# ---------------------------------------------------------------------------- spurious
_NOT_TROUBLE = frozenset(
    k.value
    for k in (
        ProblemKind.SENSOR_RECOVERED,
        ProblemKind.DEVICE_RECOVERED,
        ProblemKind.LINK_UP,
        ProblemKind.INTERLOCK_OVERRIDE,  # the interlocks at work, not something gone wrong
    )
)


def spurious(rec: SoakRecord) -> Verdict:
    injected = [
        (r.subjects, r.fault.at, r.fault.end + timedelta(seconds=RECOVER_WITHIN_S))
        for r in rec.runs
    ]
    stray: Counter[str] = Counter()
    for r in rec.journal.received:
        if r.kind != "problem" or not r.subject or not r.at or r.problem is None:
            continue
        if r.problem in _NOT_TROUBLE:
            continue
        at = datetime.fromisoformat(r.at)
        if not any(a <= at <= b and r.subject in subjects for subjects, a, b in injected):
            stray[f"{r.problem}:{r.subject}"] += 1
    fallbacks = sum(s.what == "mode" and s.value == "local" for s in rec.seen)
    figures = [f"problems not from an injected fault {sum(stray.values())}"]
    figures += [f"{what} x{n}" for what, n in stray.most_common(6)]
    figures.append(f"falls to LocalControl seen by the console {fallbacks}")
    return Verdict("spurious problems (the machine keeping up)", None, figures)
