"""The top state of control: LocalControl / RemoteControl, the installer's choice, the admin
hold above both, the contract and the uplink — and from them, who is boss.

**Phases.** The mode is read from a :class:`Phase`, the state of an explicit table
(:data:`TABLE`, total over phase x event):

* ``LOCAL_PINNED``  LocalControl because the installer chose it; contracts do not change that.
* ``LOCAL_AUTO``    LocalControl, and the installer lets the ATN take over: RemoteControl
  begins by itself as soon as the ATN's lease is usable. The start state (the house is
  transactive by default).
* ``REMOTE``        RemoteControl: the ATN's lease is usable.
* ``REMOTE_GRACE``  RemoteControl, but the lease lapsed less than ``contract_grace_s`` ago. The
  ATN stays boss and its last commands stand, so a broker blip or the gap between two
  back-to-back contracts does not hand the house to the home-alone strategy and back.
  When the grace runs out: ``LOCAL_AUTO``.

**The ATN's lease is usable** when the uplink is up, the contract is live (active, inside its
window, ATN heard within ``heartbeat_timeout_s``) and the last heartbeat came *after* the
uplink last came up: a returning uplink alone is not enough, a fresh heartbeat is (the EVCC
lesson). It lapses when any of these fails: a silent ATN, an ended / expired / terminated
contract, a lost uplink. ``LEASE_LIVE`` / ``LEASE_LOST`` are derived after every event and
tick, never sent from outside.

**Installer.** ``set_mode(LOCAL)`` always works (``LOCAL_PINNED``). ``set_mode(REMOTE)`` needs a
usable lease, else it is refused with the reason. During an admin hold only the holder may
change the mode: the change applies to the mode *underneath* the hold, i.e. it picks what
resumes when the hold ends; anyone else is refused with a reason naming the holder.

**Admin hold.** Orthogonal to the phase (its rows in the table are all self-loops): the mode
underneath keeps following the contract and the uplink during a hold, so when the hold ends
(release or expiry) the mode that resumes is the current one, and the step says that actuators
return to what that mode wants. Contracts are accepted during a hold (unlike 2025, which refused
them): the ATN learns from the boss announcements that it is not boss until the hold ends.

Every public function first advances the state to ``now`` (hold expiry, contract deadlines,
lease), then applies its event. A refused request returns the state it was given, unchanged.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum

from scada.control import contract as contracts
from scada.control import hold as holds
from scada.control.contract import Contract, ContractMessage
from scada.control.hold import Hold
from scada.control.outcome import Step, check_now, hhmm, refuse, seconds
from scada.layout import ControlSettings
from scada.protocol import CommandSource, ContractStatus, Mode, Side


class Phase(StrEnum):
    """Where the mode machine is (see the module docstring)."""

    LOCAL_PINNED = "local_pinned"
    LOCAL_AUTO = "local_auto"
    REMOTE = "remote"
    REMOTE_GRACE = "remote_grace"


class ModeEvent(StrEnum):
    """What moves the mode machine."""

    SET_LOCAL = "set_local"
    SET_REMOTE = "set_remote"
    LEASE_LIVE = "lease_live"
    LEASE_LOST = "lease_lost"
    GRACE_OVER = "grace_over"
    LINK_UP = "link_up"
    LINK_DOWN = "link_down"
    HOLD_TAKEN = "hold_taken"
    HOLD_RELEASED = "hold_released"
    HOLD_EXPIRED = "hold_expired"


_P, _A, _R, _G = Phase.LOCAL_PINNED, Phase.LOCAL_AUTO, Phase.REMOTE, Phase.REMOTE_GRACE
_E = ModeEvent


def _rows(event: ModeEvent, *targets: Phase) -> dict[tuple[Phase, ModeEvent], Phase]:
    return dict(zip(((p, event) for p in Phase), targets, strict=True))


TABLE: Mapping[tuple[Phase, ModeEvent], Phase] = {
    # from:                  PINNED AUTO  REMOTE GRACE
    **_rows(_E.SET_LOCAL, _P, _P, _P, _P),
    **_rows(_E.SET_REMOTE, _R, _R, _R, _G),  # from LOCAL_*: guarded by a usable lease
    **_rows(_E.LEASE_LIVE, _P, _R, _R, _R),
    **_rows(_E.LEASE_LOST, _P, _A, _G, _G),
    **_rows(_E.GRACE_OVER, _P, _A, _R, _A),
    **_rows(_E.LINK_UP, _P, _A, _R, _G),  # no promotion: wait for a fresh heartbeat
    **_rows(_E.LINK_DOWN, _P, _A, _G, _G),
    **_rows(_E.HOLD_TAKEN, _P, _A, _R, _G),  # the hold sits above the mode, never moves it
    **_rows(_E.HOLD_RELEASED, _P, _A, _R, _G),
    **_rows(_E.HOLD_EXPIRED, _P, _A, _R, _G),
}
"""The mode machine: (phase, event) -> next phase, total. Guards: :data:`NEEDS_LEASE`."""

NEEDS_LEASE: frozenset[tuple[Phase, ModeEvent]] = frozenset(
    {(_P, _E.SET_REMOTE), (_A, _E.SET_REMOTE)}
)
"""Rows that are taken only with a usable ATN lease; otherwise the request is refused."""

Why = Callable[[], str]
"""A reason, worked out only when it is shown."""

MODE_OF: Mapping[Phase, Mode] = {_P: Mode.LOCAL, _A: Mode.LOCAL, _R: Mode.REMOTE, _G: Mode.REMOTE}


@dataclass(frozen=True, slots=True)
class ModeState:
    """Everything that decides the mode and the boss. Times aware UTC.

    ``since`` is when ``phase`` began; in ``REMOTE_GRACE`` it is when the lease lapsed, so
    the grace runs out once ``now - since > contract_grace_s``. ``link_since`` is the time of
    the last uplink change (``None``: never up).
    """

    phase: Phase
    since: datetime
    hold: Hold | None = None
    contract: Contract | None = None
    link_up: bool = False
    link_since: datetime | None = None

    @property
    def mode(self) -> Mode:
        """The mode in force (under the hold, if there is one)."""
        return MODE_OF[self.phase]

    @property
    def requested(self) -> Mode:
        """The installer's choice: LOCAL when pinned, else REMOTE ("when the ATN may")."""
        return Mode.LOCAL if self.phase is Phase.LOCAL_PINNED else Mode.REMOTE


def initial(now: datetime, *, requested: Mode = Mode.REMOTE) -> ModeState:
    """The start state: LocalControl, no hold, no contract, uplink down."""
    phase = Phase.LOCAL_PINNED if requested is Mode.LOCAL else Phase.LOCAL_AUTO
    return ModeState(phase=phase, since=check_now(now))


def boss(state: ModeState, now: datetime | None = None) -> CommandSource:
    """Who may move actuators: ``admin`` during a hold, ``atn`` in RemoteControl (its lease
    live, or inside the grace after it lapsed), else ``home_alone``. With ``now``, a hold
    whose time is up no longer counts even before the tick that ends it."""
    if state.hold is not None and (now is None or not state.hold.expired(now)):
        return CommandSource.ADMIN
    if state.mode is Mode.REMOTE:
        return CommandSource.ATN
    return CommandSource.HOME_ALONE


def lease_problem(state: ModeState, now: datetime, settings: ControlSettings) -> str | None:
    """Why the ATN's lease is not usable at ``now`` (``None`` when it is)."""
    lapse = _lapse(state, now, settings)
    return None if lapse is None else lapse[1]()


# ------------------------------------------------------------------ requests and inputs


def tick(state: ModeState, now: datetime, settings: ControlSettings) -> Step[ModeState]:
    """Let time pass: hold expiry, contract deadline / silence, lease lapse, grace."""
    notes: list[str] = []
    return Step(_advance(state, check_now(now), settings, notes), None, tuple(notes))


def steady_until(state: ModeState, now: datetime, settings: ControlSettings) -> datetime | None:
    """The first instant from ``now`` on at which time alone may move ``state``; ``None``:
    never.

    If :func:`tick` leaves ``state`` as it is at ``now``, it leaves it as it is at every instant
    from ``now`` until then (hold expiry, contract start and end, the ATN's silence, the end of
    the grace are the only times it reads), so a caller may skip those ticks. A time equal to
    ``now`` counts: the silence and the grace end just *after* their instant.
    """
    check_now(now)
    times: list[datetime] = []
    if state.hold is not None:
        times.append(state.hold.until)
    c = state.contract
    if c is not None:
        silent_at = c.last_heard + seconds(settings.heartbeat_timeout_s)
        times += (c.start, c.end, silent_at, silent_at + seconds(settings.contract_grace_s))
    if state.phase is Phase.REMOTE_GRACE:
        times.append(state.since + seconds(settings.contract_grace_s))
    return min((t for t in times if t >= now), default=None)


def set_mode(
    state: ModeState, operator: str, mode: Mode, now: datetime, settings: ControlSettings
) -> Step[ModeState]:
    """The installer ``operator`` asks for ``mode`` (see the module docstring for the rules)."""
    notes: list[str] = []
    cur = _advance(state, check_now(now), settings, notes)
    held = holds.active(cur.hold, now)
    if held is not None and held.operator != operator.strip():
        return refuse(
            state, f"admin {held.describe()}: only {held.operator} may change the mode now"
        )
    event = _E.SET_LOCAL if mode is Mode.LOCAL else _E.SET_REMOTE
    if (cur.phase, event) in NEEDS_LEASE:
        why = lease_problem(cur, now, settings)
        if why is not None:
            return refuse(state, f"RemoteControl needs a live contract: {why}")
    cur = _fire(cur, event, now, f"set by {operator.strip() or 'the installer'}", notes)
    if held is not None:
        notes.append(f"admin stays boss until {hhmm(held.until)}; then {_label(cur)} resumes")
    return Step(_reconcile(cur, now, settings, notes), None, tuple(notes))


def contract_message(
    state: ModeState, msg: ContractMessage, now: datetime, settings: ControlSettings
) -> Step[ModeState]:
    """Apply an ATN message or a SCADA decision about the contract (see :mod:`.contract`)."""
    notes: list[str] = []
    cur = _advance(state, check_now(now), settings, notes)
    step = contracts.handle(cur.contract, msg, now)
    if step.refusal is not None:
        return Step(state, step.refusal)
    notes.extend(step.notes)
    cur = replace(cur, contract=step.state)
    return Step(_reconcile(cur, now, settings, notes), None, tuple(notes))


def heartbeat_sent(state: ModeState, my_digit: int, now: datetime) -> Step[ModeState]:
    """Record the digit of the heartbeat the SCADA just sent (see :func:`.contract.sent`)."""
    step = contracts.sent(state.contract, my_digit, now)
    if step.refusal is not None:
        return Step(state, step.refusal)
    return Step(replace(state, contract=step.state))


def link_up(state: ModeState, now: datetime, settings: ControlSettings) -> Step[ModeState]:
    """The uplink (broker connection) came up. No promotion until a fresh heartbeat."""
    return _link(state, now, settings, up=True)


def link_down(state: ModeState, now: datetime, settings: ControlSettings) -> Step[ModeState]:
    """The uplink went down: RemoteControl enters its grace."""
    return _link(state, now, settings, up=False)


def take_hold(
    state: ModeState, operator: str, duration_s: float, now: datetime, settings: ControlSettings
) -> Step[ModeState]:
    """``operator`` takes (or renews) the admin hold, capped at ``settings.hold_cap_s``."""
    notes: list[str] = []
    cur = _advance(state, check_now(now), settings, notes)
    step = holds.take(cur.hold, operator, duration_s, now, cap_s=settings.hold_cap_s)
    if step.refusal is not None:
        return Step(state, step.refusal)
    notes.extend(step.notes)
    cur = _fire(replace(cur, hold=step.state), _E.HOLD_TAKEN, now, "", notes)
    notes.append(f"admin is boss of every actuator; {_label(cur)} continues underneath")
    return Step(cur, None, tuple(notes))


def keep_hold_alive(
    state: ModeState, operator: str, now: datetime, settings: ControlSettings
) -> Step[ModeState]:
    """The holder's console is still there: extend the hold (never shortening it)."""
    notes: list[str] = []
    cur = _advance(state, check_now(now), settings, notes)
    step = holds.keep_alive(cur.hold, operator, now)
    if step.refusal is not None:
        return Step(state, step.refusal)
    return Step(replace(cur, hold=step.state), None, (*notes, *step.notes))


def release_hold(
    state: ModeState, operator: str, now: datetime, settings: ControlSettings
) -> Step[ModeState]:
    """The holder ends the hold; the mode underneath takes the actuators back."""
    notes: list[str] = []
    cur = _advance(state, check_now(now), settings, notes)
    step = holds.release(cur.hold, operator, now)
    if step.refusal is not None:
        return Step(state, step.refusal)
    notes.extend(step.notes)
    cur = _fire(replace(cur, hold=None), _E.HOLD_RELEASED, now, "", notes)
    notes.append(_resumes(cur))
    return Step(cur, None, tuple(notes))


# ----------------------------------------------------------------------------- internals


def _link(
    state: ModeState, now: datetime, settings: ControlSettings, *, up: bool
) -> Step[ModeState]:
    notes: list[str] = []
    cur = _advance(state, check_now(now), settings, notes)
    if cur.link_up is up:  # a repeated report is not a change (and must not reset link_since)
        return Step(cur, None, tuple(notes))
    cur = replace(cur, link_up=up, link_since=now)
    event = _E.LINK_UP if up else _E.LINK_DOWN
    cur = _fire(cur, event, now, "uplink up" if up else "uplink down", notes)
    if up and cur.phase in (Phase.LOCAL_AUTO, Phase.REMOTE_GRACE):
        notes.append("uplink up; RemoteControl waits for a fresh contract heartbeat")
    return Step(_reconcile(cur, now, settings, notes), None, tuple(notes))


def _advance(
    state: ModeState, now: datetime, settings: ControlSettings, notes: list[str]
) -> ModeState:
    """Apply what time alone does by ``now``."""
    cur = state
    if cur.hold is not None and cur.hold.expired(now):
        ended = cur.hold
        cur = _fire(replace(cur, hold=None), _E.HOLD_EXPIRED, now, "", notes)
        notes.append(f"admin hold by {ended.operator} expired at {hhmm(ended.until)}")
        notes.append(_resumes(cur))
    step = contracts.tick(cur.contract, now, settings)
    if step.state is not cur.contract:
        notes.extend(step.notes)
        cur = replace(cur, contract=step.state)
    return _reconcile(cur, now, settings, notes)


def _reconcile(
    state: ModeState, now: datetime, settings: ControlSettings, notes: list[str]
) -> ModeState:
    """Fire the derived events: LEASE_LIVE / LEASE_LOST, then GRACE_OVER when it is due."""
    lapse = _lapse(state, now, settings)
    if lapse is None:
        c = state.contract
        return _fire(
            state,
            _E.LEASE_LIVE,
            now,
            lambda: (
                "the ATN's contract is live" if c is None else f"contract {c.contract_id} is live"
            ),
            notes,
        )
    at, lapse_why = lapse
    # The grace counts from when the lease really lapsed (e.g. last heartbeat + timeout), not
    # from the tick that noticed it; never from before the phase began.
    cur = _fire(state, _E.LEASE_LOST, max(at, state.since), lapse_why, notes)
    grace_s = settings.contract_grace_s
    c = state.contract
    if (
        cur.phase is Phase.REMOTE_GRACE
        and c is not None
        and c.status is ContractStatus.TERMINATED
        and c.terminated_by is Side.ATN
    ):
        # The grace bridges blips and back-to-back contracts; an ATN that says it is done
        # is done, and the house goes back to home-alone now.
        return _fire(cur, _E.GRACE_OVER, now, lambda: f"{lapse_why()}; the ATN ended it", notes)
    if cur.phase is Phase.REMOTE_GRACE and (now - cur.since).total_seconds() > grace_s:
        cur = _fire(
            cur,
            _E.GRACE_OVER,
            now,
            lambda: f"{lapse_why()}, for more than contract_grace_s ({grace_s:g} s)",
            notes,
        )
    return cur


def _lapse(
    state: ModeState, now: datetime, settings: ControlSettings
) -> tuple[datetime, Why] | None:
    """When and why the ATN's lease stopped being usable; ``None`` while it is usable.

    Of several reasons the earliest wins: a tick long after an ATN fell silent must date the
    lapse from the silence, not from the contract's termination that the same tick caused.
    """
    c = state.contract
    found: list[tuple[datetime, Why]] = []
    since = state.link_since
    if not state.link_up:
        if since is None:
            found.append((now, lambda: "uplink down"))
        else:
            found.append((since, lambda: f"uplink down since {hhmm(since)}"))
    elif since is not None and c is not None and c.last_heard < since:
        found.append(
            (since, lambda: f"no contract heartbeat since the uplink returned at {hhmm(since)}")
        )
    if c is None:
        found.append((now, lambda: "no contract"))
    else:
        if c.status is not ContractStatus.ACTIVE:
            found.append(
                (c.status_since, lambda: f"contract {c.contract_id} {c.status.value}: {c.cause}")
            )
        if now < c.start:
            found.append((now, lambda: f"contract {c.contract_id} starts at {hhmm(c.start)}"))
        end = c.end
        if now >= end:
            found.append((end, lambda: f"contract {c.contract_id} ended at {hhmm(end)}"))
        if c.silent_s(now) > settings.heartbeat_timeout_s:
            silent_at = c.last_heard + seconds(settings.heartbeat_timeout_s)
            found.append((silent_at, lambda: f"ATN silent since {hhmm(c.last_heard)}"))
    return min(found, key=lambda f: f[0]) if found else None


def _fire(
    state: ModeState, event: ModeEvent, at: datetime, why: str | Why, notes: list[str]
) -> ModeState:
    """Take the table row for ``(state.phase, event)``; note a phase change and its reason
    (``why`` may be a function, called only when the phase changes: most ticks change none)."""
    nxt = TABLE[(state.phase, event)]
    if nxt is state.phase:
        return state
    new = replace(state, phase=nxt, since=at)
    if not isinstance(why, str):
        why = why()
    notes.append(f"{_label(state)} -> {_label(new)}: {why}" if why else f"-> {_label(new)}")
    return new


def _label(state: ModeState) -> str:
    if state.phase is Phase.LOCAL_PINNED:
        return "LocalControl (set by the installer)"
    if state.phase is Phase.REMOTE_GRACE:
        return "RemoteControl (grace)"
    return "LocalControl" if state.mode is Mode.LOCAL else "RemoteControl"


def _resumes(state: ModeState) -> str:
    return (
        f"{_label(state)} resumes: actuators return to what the mode wants "
        f"({boss(state).value} is boss)"
    )
