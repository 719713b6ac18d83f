"""The controller actor: joins the pure control core to the relays, the uplink and the consoles.

Every :data:`CONTROL_PERIOD_S` (at once after any request, and not at all while nothing it
reads changes) it advances the mode machine, asks the current boss what each actuator should
do (home-alone strategy, the ATN's latest commands, or the installer's under an admin hold),
runs the interlocks over that, and switches the relays whose state differs, confirming each by
read-back. It owns the mode state. Requests (set relay, hold, mode) are answered with the pure
core's refusal reasons, and every one lands in the audit log: they are
:mod:`scada.actors.control_requests`, a mixin of the controller. Its conversation with the ATN
is :mod:`scada.actors.uplink_side`, which steps the mode state through :meth:`Controller.step`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from datetime import datetime

from scada.actors.control_requests import ControlRequests
from scada.actors.decisions import Decisions
from scada.actors.house import HouseState
from scada.actors.pass_schedule import (
    CONTROL_PERIOD_S,
    TIME_SLACK_S,
    Memo,
    decision_view,
    earliest,
    heartbeat_only,
    periods_to_next_pass,
)
from scada.actors.quiet_pass import PassInputs, QuietPass
from scada.actors.relay_book import ActuatorRecord, RelayBook
from scada.actors.relays import RelayActor
from scada.actors.uplink_side import UplinkSide
from scada.clock import RANK_CONTROL, TIMER_RANK, Alarm
from scada.control import (
    HomeAloneInputs,
    ModeState,
    Step,
)
from scada.control import modes as m
from scada.control.inputs import control_channels
from scada.link.base import Uplink
from scada.protocol.control import (
    HoldEnded,
    ModeChanged,
)
from scada.protocol.enums import (
    CommandOutcome,
    CommandSource,
    DeviceHealthState,
    EventKind,
    HoldEndReason,
    LinkState,
    ProblemKind,
    RelayState,
    Severity,
)
from scada.protocol.snapshot import ActuatorSnapshot, Snapshot

log = logging.getLogger("scada.controller")


class Controller(ControlRequests):
    """Owns the mode machine and every actuator's boss, wishes and results."""

    def __init__(
        self, house: HouseState, relay_actors: Mapping[str, RelayActor], uplink: Uplink | None
    ) -> None:
        self.house = house
        self.layout = house.layout
        self.settings = house.layout.control
        self.clock = house.clock
        #: The conversation with the ATN: contract heartbeats, its commands, data going up.
        self.atn = UplinkSide(self, house, uplink)
        self._actors = relay_actors
        self.state: ModeState = m.initial(self.clock.now())
        self.relays = RelayBook(self.layout)
        self._channels = control_channels(self.settings)
        self._decisions = Decisions(self.settings, self.layout.actuators)
        # Counts the changes of what a pass reads besides the mode state, the readings and the
        # devices: the relays' commanded and observed states and history, the ATN's and the
        # admin's wishes.
        self._inputs_seq = 0
        # A pass that found nothing to do, with what it read: the passes after it find nothing
        # either while those are the same and time alone changes nothing.
        self._quiet = QuietPass(self.settings)
        self._steady: Memo[None, ModeState] | None = None
        self._all_ready = False
        house.book.watch(self._channels)
        house.book.on_change = self._reading_changed
        house.on_device = self.stir
        for actor in relay_actors.values():
            actor.on_ready = self.stir
        self._atn_wants: dict[str, tuple[RelayState, datetime | None]] = {}
        self._admin_wants: dict[str, RelayState] = {}
        self._failsafes_held = dict.fromkeys(self.settings.failsafe_relays, RelayState.OFF)
        #: Called after every change of the mode state, with the time.
        self.on_state_changed: Callable[[datetime], object] | None = None
        self._stirred = asyncio.Event()
        self._alarm = Alarm(self._stirred)
        self._last_pass = 0.0  # loop time of the last pass
        self._pass_now = False
        self._stirrable = False  # sleeping past the next period boundary
        self._view: tuple[ModeState, ModeState] | None = None
        self._apply_lock = asyncio.Lock()
        self._link_was = LinkState.NOT_CONFIGURED
        house.on_coil = self._coil_observed

    # ------------------------------------------------------------------- loop
    async def run(self) -> None:
        """Passes every :data:`CONTROL_PERIOD_S` from the last one, at once when woken, and none
        while the last pass was quiet and nothing it reads has changed: the loop then sleeps to
        the first period boundary at which time alone ends the quiet, and is stirred awake by
        any change of what a pass reads. So a pass happens exactly when one would find
        something to do on the 5 s schedule, and a quiet house costs next to nothing."""
        TIMER_RANK.set(RANK_CONTROL)
        self.atn.start_beating()
        try:
            await self._run()
        finally:
            self.atn.stop_beating()

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            self._pass_now = False
            await self.control_once()
            last = self._last_pass = loop.time()
            while not self._pass_now:
                self._stirred.clear()
                since = loop.time() - last
                periods = self._periods_to_next_pass(since)
                due = last + periods * CONTROL_PERIOD_S
                # Stirs matter only while sleeping past the next boundary: readings of 1 s
                # channels would otherwise wake the loop every second for nothing.
                self._stirrable = (due - last) - since > CONTROL_PERIOD_S + TIME_SLACK_S
                if loop.time() >= due - TIME_SLACK_S:
                    break
                await self._alarm.wait(due - loop.time())
                if loop.time() >= due - TIME_SLACK_S:
                    break
            self._stirrable = False

    def _periods_to_next_pass(self, since_last_s: float) -> int:
        now = self.clock.now()
        if not self._quiet_holds(now):
            return periods_to_next_pass(since_last_s, None, now, quiet=False)
        memo = self._quiet.memo
        assert memo is not None
        until = earliest(memo.until, self._quiet.time_deadline(self.state, now))
        return periods_to_next_pass(since_last_s, until, now, quiet=True)

    async def control_once(self) -> None:
        """One pass: advance modes, decide, interlock, switch. Serialised with requests."""
        now = self.clock.now()
        self.track_link(now)
        if self._quiet_holds(now):
            return
        self._quiet.forget()
        steady = self._tick(now)
        await self._apply(now, steady=steady)

    def wake(self) -> None:
        """Run a pass at once (after a request, an ATN message)."""
        self._pass_now = True
        self._stirred.set()

    def stir(self) -> None:
        """Something a pass reads changed (a control channel, a device, the link, a board):
        the next pass is due at the next period boundary, even if the last one was quiet.
        The sleeping loop's alarm is moved there, so the loop wakes once, for the pass."""
        if self._stirrable:
            self._stirrable = False
            since = asyncio.get_running_loop().time() - self._last_pass
            periods = periods_to_next_pass(since, None, self.clock.now(), quiet=False)
            self._alarm.move(periods * CONTROL_PERIOD_S - since)

    def _reading_changed(self, channel: str) -> None:
        """A control channel's reading or health changed: a stir, unless the last quiet pass
        holds for it all the same."""
        if self._quiet.ends_with(channel, self.house.book.fresh(channel)):
            self.stir()

    def _touch(self) -> None:
        self._inputs_seq += 1
        self.stir()

    # -------------------------------------------------------------- snapshots
    def actuator_snapshots(self) -> tuple[ActuatorSnapshot, ...]:
        boss = m.boss(self.state, self.clock.now())
        return tuple(r.snapshot(boss) for r in self.relays.values())

    def snapshot(self, now: datetime) -> Snapshot:
        """The whole live state of the house (what the ATN and the consoles are sent)."""
        from scada.actors.snapshots import build_snapshot  # noqa: PLC0415 - breaks an import cycle

        return build_snapshot(self.house, self, now)

    # ---------------------------------------------------------------- private
    def step(self, step: Step[ModeState], now: datetime, who: str) -> Step[ModeState]:
        """Make ``step.state`` the mode state and publish what changed (the mode, a hold's end,
        a new contract or contract status); returns ``step``. The one way the state changes."""
        before = self.state
        self.state = step.state
        if self.state is not before:
            self.atn.rearm_beat()
            if self.on_state_changed is not None:
                self.on_state_changed(now)
            if not heartbeat_only(before, self.state):
                self.stir()
        for note in step.notes:
            log.info("%s", note)
        if before.mode is not self.state.mode:
            reason = "; ".join(step.notes) or f"by {who}"
            log.warning("mode %s -> %s: %s", before.mode.value, self.state.mode.value, reason)
            self.house.publish(
                EventKind.MODE,
                ModeChanged(
                    mode=self.state.mode, previous=before.mode, reason=reason[:4000], at=now
                ),
            )
            self._atn_wants.clear()
            self._touch()
            if self.atn.forwarder is not None:
                self.atn.forwarder.link_changed()
        if before.hold is not None and self.state.hold is None:
            why = HoldEndReason.EXPIRED if before.hold.expired(now) else HoldEndReason.RELEASED
            ended_at = before.hold.until if why is HoldEndReason.EXPIRED else now
            self.house.publish(
                EventKind.HOLD,
                HoldEnded(
                    operator=before.hold.operator,
                    ended_at=ended_at,
                    reason=why,
                    resumed_mode=self.state.mode,
                ),
            )
            if why is HoldEndReason.EXPIRED:
                # A release is audited where it is asked for; an expiry has no caller.
                self.house.record_audit(
                    before.hold.operator,
                    "hold_expired",
                    None,
                    "ended",
                    f"admin {before.hold.describe()}; {self.state.mode.value} control resumes",
                )
            self._admin_wants.clear()
            self._touch()
            self.wake()
        after = self.state.contract
        # Only a new contract or a new status is news (every heartbeat changes the contract).
        if after is not None and (
            before.contract is None or before.contract.status is not after.status
        ):
            msg = self.atn.contract_msg()
            if msg is not None:
                self.house.publish(EventKind.CONTRACT, msg)
        return step

    def _tick(self, now: datetime) -> Memo[None, ModeState] | None:
        """Let time pass on the mode state. Returns the memo of a state that time alone leaves
        as it is from now until its ``until`` (such a state is not ticked again before then),
        or None when the tick moved the state."""
        steady = self._steady
        if steady is not None and steady.result is self.state and steady.fits(None, now):
            return steady
        before = self.state
        self.step(m.tick(before, now, self.settings), now, "time")
        if self.state is not before:
            return None
        self._steady = Memo(None, now, m.steady_until(before, now, self.settings), before)
        return self._steady

    def track_link(self, now: datetime) -> None:
        """Step the mode state if the uplink's broker state changed since last seen."""
        state = self.atn.broker_state
        if state is self._link_was:
            return
        self._link_was = state
        if state is LinkState.UP:
            self.step(m.link_up(self.state, now, self.settings), now, "uplink")
        elif self.state.link_up:
            self.step(m.link_down(self.state, now, self.settings), now, "uplink")

    def _wanted(
        self, now: datetime, readings: dict[str, float | None]
    ) -> tuple[CommandSource, dict[str, RelayState]]:
        boss = m.boss(self.state, now)
        # The failsafe relays are held energised (OFF: their normally-closed contact open), so
        # each load follows its own relay, in every mode; an installer's hold may release one.
        held = self._failsafes_held
        if boss is CommandSource.ADMIN:
            return boss, {**held, **self._admin_wants}
        if boss is CommandSource.ATN:
            live = {n: s for n, (s, exp) in self._atn_wants.items() if exp is None or exp > now}
            return boss, {**live, **held}
        # Hysteresis runs from what each relay was last told, or, before the first command
        # (just after a restart), from what it reads back: a restart must not stop a charging
        # heat pump or a running circulator that are inside their dead bands.
        inputs = HomeAloneInputs(
            readings=readings,
            relays=self.relays.current(),
            heat_pump_available=self._heat_pump_ok(),
        )
        return boss, {**self._decisions.home_alone(inputs, now), **held}

    def _heat_pump_ok(self) -> bool:
        hp = self.settings.heat_pump
        if hp is None:
            return False
        dev = self.house.devices.devices.get(self.relays[hp].spec.device)
        return dev is None or dev.state is DeviceHealthState.OK

    def _readings(self) -> dict[str, float | None]:
        return self.house.book.fresh_values(self._channels)

    def _pass_inputs(self) -> PassInputs:
        """What a pass reads, but time: the mode state, :attr:`_inputs_seq`, the control
        channels' readings (by the book's count of their changes), the heat pump's health and
        how many relay boards are ready."""
        if self._all_ready:  # boards only ever become ready
            ready = len(self._actors)
        else:
            ready = sum(1 for a in self._actors.values() if a.ready)
            self._all_ready = ready == len(self._actors)
        book = self.house.book
        return (self._decision_state(), self._inputs_seq, book.version, self._heat_pump_ok(), ready)

    def _decision_state(self) -> ModeState:
        """The mode state without the contract's heartbeat bookkeeping (see
        :func:`~scada.actors.pass_schedule.heartbeat_only`): what a pass decides from."""
        state = self.state
        view = self._view
        if view is None or view[0] is not state:
            view = self._view = (state, decision_view(state))
        return view[1]

    def _quiet_holds(self, now: datetime) -> bool:
        return self._quiet.holds(self._pass_inputs(), self.state, self.house.book, now)

    def _quiet_until(self, now: datetime, source: CommandSource) -> datetime | None:
        """Until when time alone leaves the decisions of a pass at ``now`` as they are (the
        mode state's own deadlines are :meth:`QuietPass.time_deadline`)."""
        times: list[datetime | None] = [self._decisions.steady_until(source)]
        if source is CommandSource.ATN:
            times += (exp for _, exp in self._atn_wants.values() if exp is not None and exp > now)
        return earliest(*times)

    async def _apply(self, now: datetime, *, steady: Memo[None, ModeState] | None = None) -> None:
        """Carry out what the boss wants, interlocked. ``steady``: from a control pass, the
        memo of a mode state that time alone leaves as it is; if that is still the state and
        the pass switches nothing, the pass is remembered as quiet."""
        async with self._apply_lock:
            if steady is not None and steady.result is self.state:
                inputs: PassInputs | None = self._pass_inputs()
            else:
                inputs = None
            readings = self._readings()
            source, desired = self._wanted(now, readings)
            final, overrides = self._decisions.interlocked_pass(
                desired, source, now, readings, self.relays.history
            )
            fired = {o.node: o for o in overrides}
            for node, relay in self.relays.items():
                o = fired.get(node)
                name = o.interlock.value if o is not None else None
                if name != relay.overridden_by:
                    relay.overridden_by = name
                    if o is not None:
                        self.house.problem(
                            ProblemKind.INTERLOCK_OVERRIDE, node, o.reason, Severity.WARNING
                        )
            for node, state in final.items():
                target = self.relays.get(node)
                if target is None or (target.commanded is state and target.observed is state):
                    continue
                if not self._actor_ready(target):
                    continue
                inputs = None
                outcome, reason = await self._switch(node, state, now)
                if outcome is not CommandOutcome.CONFIRMED:
                    log.warning("%s %s by %s failed: %s", node, state.value, source.value, reason)
            if inputs is not None and steady is not None:
                self._quiet.remember(
                    inputs,
                    now,
                    self._quiet_until(now, source),
                    source=source,
                    readings=readings,
                    history=self.relays.history,
                )

    def _actor_ready(self, relay: ActuatorRecord) -> bool:
        actor = self._actors.get(relay.spec.device)
        return actor is not None and actor.ready

    async def _switch(
        self,
        node: str,
        state: RelayState,
        now: datetime,
        *,
        on_behalf_of: CommandSource | None = None,
    ) -> tuple[CommandOutcome, str | None]:
        """Switch ``node`` and confirm it by read-back. ``on_behalf_of``: the source of a
        command, which must still be the boss when the board's turn comes to write it."""
        relay = self.relays[node]
        actor = self._actors.get(relay.spec.device)
        if actor is None:
            return CommandOutcome.FAILED, f"no driver for board {relay.spec.device}"
        previous = relay.commanded
        relay.commanded = state
        self._touch()
        energize = relay.energize(state)
        veto = None if on_behalf_of is None else self._unless_still_boss(on_behalf_of)
        outcome = await actor.switch(relay.spec.board_channel, energize, veto=veto)
        if outcome.superseded:
            relay.commanded = previous
            self._touch()
            return CommandOutcome.REFUSED, outcome.error
        if outcome.ok:
            if self.relays.switched(node, state, now):
                self._touch()
            self._publish_actuator(relay)
            return CommandOutcome.CONFIRMED, None
        self._publish_actuator(relay)
        return CommandOutcome.FAILED, outcome.error

    def _unless_still_boss(self, source: CommandSource) -> Callable[[], str | None]:
        def veto() -> str | None:
            boss = m.boss(self.state, self.clock.now())
            if boss is source:
                return None
            return f"{boss.value} became boss before the relay was switched"

        return veto

    def _coil_observed(self, board: str, channel: int, energized: bool) -> None:
        relay = self.relays.observe(board, channel, energized, self.clock.now())
        if relay is None:
            return
        self._touch()
        self._publish_actuator(relay)

    def _publish_actuator(self, relay: ActuatorRecord) -> None:
        self.house.publish(
            EventKind.ACTUATOR,
            relay.snapshot(m.boss(self.state, self.clock.now())),
            remember=False,
        )
