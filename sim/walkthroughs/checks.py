"""Judging a walkthrough's checks on what its run recorded: each passes or fails, saying why."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import timedelta

from scada.protocol import CommandOutcome, CommandSource
from sim.walkthroughs.record import Record
from sim.walkthroughs.spec import (
    BossAt,
    BossOnly,
    Check,
    Comfort,
    Commands,
    InterlockSeen,
    ModeAt,
    ModeThroughout,
    PipeTemp,
    PricePaid,
    ProblemSeen,
    RelayAt,
    RelayThroughout,
    RoomTemp,
    Statuses,
    TankTemp,
    format_duration,
)


@dataclass(frozen=True, slots=True)
class CheckResult:
    """One check of a walkthrough: ``label`` says what it asks, ``detail`` what was found."""

    label: str
    ok: bool
    detail: str


def judge(check: Check, index: int, rec: Record, end_s: float) -> CheckResult:
    """Pass or fail ``check``, the ``index``-th of ``expect``, on the record of a run."""
    label = check.name or describe(check)
    ok, detail = _judge(check, index, rec, end_s)
    return CheckResult(label, ok, detail)


def describe(check: Check) -> str:
    """A default label: what the check asks, in words."""
    if isinstance(check, ModeAt):
        return f"mode at {_t(check.at)} is {check.mode.value}"
    if isinstance(check, BossAt):
        return f"boss at {_t(check.at)} is {check.boss}"
    if isinstance(check, RelayAt):
        return f"{check.node} at {_t(check.at)} is {check.state.value}"
    if isinstance(check, BossOnly):
        return "every relay command carried out came from the boss"
    window = _window_words(check.after, check.before)
    if isinstance(check, ModeThroughout):
        return f"mode {check.mode.value} throughout{window}"
    if isinstance(check, RelayThroughout):
        return f"{check.node} {check.state.value} throughout{window}"
    if isinstance(check, ProblemSeen):
        about = f" about {check.subject}" if check.subject else ""
        about += f" saying '{check.says}'" if check.says else ""
        verb = "reported" if check.seen else "never reported"
        return f"problem {check.kind.value}{about} {verb}{window}"
    if isinstance(check, InterlockSeen):
        verb = "overrode" if check.seen else "never overrode"
        return f"{check.interlock.value} interlock {verb} {check.node}{window}"
    if isinstance(check, Comfort):
        where = check.zone or "every zone"
        return f"{where} inside its comfort band >= {check.min_share:.0%} of the time{window}"
    if isinstance(check, RoomTemp):
        where = check.zone or "every zone"
        return f"{where} air {_limits(check.min_c, check.max_c)}{window}"
    if isinstance(check, TankTemp):
        said = [f"top {_limits(check.min_c, None)}"] if check.min_c is not None else []
        said += [f"hottest layer {_limits(None, check.max_c)}"] if check.max_c is not None else []
        if check.coldest_min_c is not None:
            said.append(f"coldest layer {_limits(check.coldest_min_c, None)}")
        return f"tank {', '.join(said)}{window}"
    if isinstance(check, PipeTemp):
        return f"pipes {_limits(check.min_c, check.max_c)}{window}"
    if isinstance(check, PricePaid):
        return f"electricity bought at <= {check.max_share_of_mean:.0%} of the mean price{window}"
    if isinstance(check, Statuses):
        who = "received by the ATN" if check.seen_by == "atn" else "produced"
        return f">= {check.min_share:.0%} of the 5-minute statuses {who}{window}"
    upper = f"..{check.max}" if check.max is not None else "+"
    return f"{check.min}{upper} {check.source} commands {check.outcome}{window}"


def _judge(check: Check, index: int, rec: Record, end_s: float) -> tuple[bool, str]:
    if isinstance(check, ModeAt | BossAt | RelayAt):
        return _point(check, rec.seen.get(index))
    if isinstance(check, BossOnly):
        return _boss_only(rec)
    after = check.after.total_seconds()
    before = end_s if check.before is None else check.before.total_seconds()
    if isinstance(check, ModeThroughout):
        modes = rec.modes_within(after, before)
        return _throughout([(t, m.value) for t, m in modes], check.mode.value, after, before)
    if isinstance(check, RelayThroughout):
        states = rec.relay_within(check.node, after, before)
        if not states:
            return False, f"{check.node} was never read back"
        return _throughout([(t, s.value) for t, s in states], check.state.value, after, before)
    if isinstance(check, ProblemSeen):
        return _problems(check, rec, after, before)
    if isinstance(check, InterlockSeen):
        return _interlock(check, rec, after, before)
    if isinstance(check, Comfort):
        zone = rec.zone_names.index(check.zone) if check.zone is not None else None
        share = rec.comfort_share(after, before, zone)
        return share >= check.min_share, f"{share:.1%} of the time"
    if isinstance(check, RoomTemp):
        zone = rec.zone_names.index(check.zone) if check.zone is not None else None
        temps = [
            t
            for s in rec.window(after, before)
            for i, t in enumerate(s.zones)
            if zone is None or i == zone
        ]
        return _within(temps, check.min_c, check.max_c)
    if isinstance(check, TankTemp):
        return _tank(check, rec, after, before)
    if isinstance(check, PipeTemp):
        return _within(
            [t for s in rec.window(after, before) for t in s.pipes], check.min_c, check.max_c
        )
    if isinstance(check, Statuses):
        return _statuses(check, rec, after, before)
    if isinstance(check, PricePaid):
        return _price_paid(check, rec, after, before)
    return _commands(check, rec, after, before)


def _point(check: ModeAt | BossAt | RelayAt, seen: str | None) -> tuple[bool, str]:
    if isinstance(check, ModeAt):
        want = check.mode.value
    elif isinstance(check, BossAt):
        want = check.boss
    else:
        want = check.state.value
    if seen is None:
        return False, "the run ended before this instant"
    return seen == want, f"it was {seen}"


def _boss_only(rec: Record) -> tuple[bool, str]:
    done = [c for c in rec.commands if c.outcome is CommandOutcome.CONFIRMED]
    bad = [c for c in done if c.source is not c.boss]
    if bad:
        first = bad[0]
        return False, (
            f"{len(bad)} carried out for a non-boss, first {first.node} by "
            f"{first.source.value} at {_s(first.t)} while {first.boss.value} was boss"
        )
    if not done:
        return False, "no relay command was carried out: nothing to judge"
    return True, f"{len(done)} commands carried out, each by the boss of the moment"


def _throughout(
    spans: list[tuple[float, str]], want: str, after: float, before: float
) -> tuple[bool, str]:
    if not spans:
        return False, "nothing recorded"
    wrong = [(t, v) for t, v in spans if v != want]
    if wrong:
        t, v = wrong[0]
        return False, f"{v} at {_s(t)}"
    return True, f"{want} from {_s(after)} to {_s(before)}"


def _problems(check: ProblemSeen, rec: Record, after: float, before: float) -> tuple[bool, str]:
    found = [
        (t, p)
        for t, p in rec.problems
        if after <= t <= before
        and p.kind is check.kind
        and (check.subject is None or p.subject == check.subject)
        and (check.says is None or check.says in p.summary)
    ]
    if check.seen:
        if not found:
            return False, "none reported"
        t, p = found[0]
        return True, f"at {_s(t)}: {p.summary}"
    if found:
        t, p = found[0]
        return False, f"{len(found)} reported, first at {_s(t)}: {p.summary}"
    return True, "none reported"


def _interlock(check: InterlockSeen, rec: Record, after: float, before: float) -> tuple[bool, str]:
    spans = rec.interlock_within(check.node, after, before)
    want = check.interlock.value
    starts = [t for t, name in spans if name == want]
    if not starts:
        return not check.seen, "never in the window"
    times = "once" if len(starts) == 1 else f"{len(starts)} times"
    what = f"{times}, first at {_s(starts[0])}"
    if spans[-1][1] == want:
        what += ", still overriding at the end of the window"
    else:
        let_go = [t for (_, name), (t, _) in itertools.pairwise(spans) if name == want]
        what += f", let go for the last time at {_s(let_go[-1])}"
    return check.seen, what


def _tank(check: TankTemp, rec: Record, after: float, before: float) -> tuple[bool, str]:
    samples = rec.window(after, before)
    found: list[tuple[str, tuple[bool, str]]] = []
    if check.min_c is not None:
        found.append(("top", _within([s.tank[0] for s in samples], check.min_c, None)))
    if check.max_c is not None:
        found.append(("hottest layer", _within([max(s.tank) for s in samples], None, check.max_c)))
    if check.coldest_min_c is not None:
        lowest = [min(s.tank) for s in samples]
        found.append(("coldest layer", _within(lowest, check.coldest_min_c, None)))
    return all(ok for _, (ok, _) in found), "; ".join(f"{w} {d}" for w, (_, d) in found)


def _statuses(check: Statuses, rec: Record, after: float, before: float) -> tuple[bool, str]:
    samples = rec.window(after, before)
    if len(samples) < 2:
        return False, "the window holds no whole status period"
    first, last = samples[0], samples[-1]
    if check.seen_by == "atn":
        got = last.statuses_atn - first.statuses_atn
    else:
        got = last.statuses - first.statuses
    slots = int((last.t - first.t) // rec.status_period_s)
    share = got / slots if slots else 0.0
    return share >= check.min_share, f"{got} of {slots} ({share:.0%})"


def _price_paid(check: PricePaid, rec: Record, after: float, before: float) -> tuple[bool, str]:
    samples = rec.window(after, before)
    kwh = rec.energy_kwh(after, before)
    if len(samples) < 2 or kwh <= 0:
        return False, "no electricity used in the window"
    # The window's mean price over time (each sample's price holds until the next).
    spans = list(itertools.pairwise(samples))
    mean = sum(a.price * (b.t - a.t) for a, b in spans) / (samples[-1].t - samples[0].t)
    paid = rec.cost_usd(after, before) / kwh * 1000
    if mean <= 0:
        return False, f"paid {paid:.1f} $/MWh; the mean price is {mean:.1f} $/MWh"
    share = paid / mean
    detail = f"paid {paid:.1f} $/MWh against a mean of {mean:.1f} ({share:.0%})"
    return share <= check.max_share_of_mean, detail


def _commands(check: Commands, rec: Record, after: float, before: float) -> tuple[bool, str]:
    source = CommandSource(check.source)
    outcome = CommandOutcome(check.outcome)
    n = sum(
        1
        for c in rec.commands
        if after <= c.t <= before and c.source is source and c.outcome is outcome
    )
    ok = n >= check.min and (check.max is None or n <= check.max)
    return ok, f"{n} {check.source} commands {check.outcome}"


def _within(values: list[float], lo: float | None, hi: float | None) -> tuple[bool, str]:
    if not values:
        return False, "no samples in the window"
    low, high = min(values), max(values)
    ok = (lo is None or low >= lo) and (hi is None or high <= hi)
    return ok, f"{low:.1f}..{high:.1f} °C"


def _limits(lo: float | None, hi: float | None) -> str:
    if lo is not None and hi is not None:
        return f"within {lo:g}..{hi:g} °C"
    if lo is not None:
        return f"at or above {lo:g} °C"
    return f"at or below {hi:g} °C"


def _window_words(after: timedelta, before: timedelta | None) -> str:
    if before is None:
        return f" after {_t(after)}" if after else ""
    return f" from {_t(after)} to {_t(before)}"


def _t(td: timedelta) -> str:
    return format_duration(td)


def _s(seconds: float) -> str:
    return format_duration(timedelta(seconds=seconds))
