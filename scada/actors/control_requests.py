"""Requests to the controller: relay commands (an installer's from a console, the ATN's over
the uplink), the admin hold and the mode.

:class:`ControlRequests` is a mixin of :class:`~scada.actors.controller.Controller`, which owns
the state these requests work on (declared below for the type checker). Each request is
answered with the pure core's refusal reasons and lands in the audit log. Every change of boss
waits for a relay command in progress (the controller's apply lock), so each command is carried
out and reported under one boss.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from scada.actors.decisions import Decisions
from scada.actors.house import HouseState
from scada.actors.pass_schedule import Memo
from scada.actors.relay_book import ActuatorRecord, RelayBook
from scada.clock import Clock
from scada.control import ModeState, Step, authorize
from scada.control import modes as m
from scada.control.hold import Hold
from scada.layout import ControlSettings
from scada.protocol.base import new_id
from scada.protocol.commands import ActuatorCommand, CommandResult
from scada.protocol.control import HoldState
from scada.protocol.enums import CommandOutcome, CommandSource, EventKind, Mode, RelayState

ATN_COMMAND_TTL_S = 300.0
"""How long an ATN command without an expiry of its own stays the ATN's wish."""


class ControlRequests:
    """The controller's requests: relay commands, the admin hold, the mode."""

    # The controller's own state and steps (see Controller.__init__), which the requests use.
    clock: Clock
    state: ModeState
    settings: ControlSettings
    relays: RelayBook
    house: HouseState
    _decisions: Decisions
    _atn_wants: dict[str, tuple[RelayState, datetime | None]]
    _admin_wants: dict[str, RelayState]
    _apply_lock: asyncio.Lock

    if TYPE_CHECKING:

        def step(self, step: Step[ModeState], now: datetime, who: str) -> Step[ModeState]: ...
        def wake(self) -> None: ...
        def _publish_actuator(self, relay: ActuatorRecord) -> None: ...
        def _tick(self, now: datetime) -> Memo[None, ModeState] | None: ...
        def _touch(self) -> None: ...
        def _readings(self) -> dict[str, float | None]: ...
        async def _switch(
            self,
            node: str,
            state: RelayState,
            now: datetime,
            *,
            on_behalf_of: CommandSource | None = None,
        ) -> tuple[CommandOutcome, str | None]: ...
        async def _apply(
            self, now: datetime, *, steady: Memo[None, ModeState] | None = None
        ) -> None: ...

    async def set_relay(self, node: str, state: RelayState, operator: str) -> CommandResult:
        """An installer's command from the console (admin source)."""
        now = self.clock.now()
        cmd = ActuatorCommand(
            id=new_id(),
            source=CommandSource.ADMIN,
            operator=operator,
            target=node,
            state=state,
            issued_at=now,
        )
        return await self.command(cmd, who=operator)

    async def command(self, cmd: ActuatorCommand, *, who: str) -> CommandResult:
        """Authorize, interlock and carry out ``cmd``; the result says what became of it.

        Serialised with the control pass, so a pass decided a moment earlier cannot switch the
        relay back behind the command's back. A command refused by an interlock is not
        remembered: it is not carried out later, when the interlock lets go.
        """
        async with self._apply_lock:
            result, forced = await self._command(cmd, who)
        if forced:
            await self._apply(self.clock.now())
        return result

    async def _command(self, cmd: ActuatorCommand, who: str) -> tuple[CommandResult, bool]:
        now = self.clock.now()
        self._tick(now)
        refusal = authorize(
            self.state,
            cmd.source,
            cmd.target,
            self.relays,
            now,
            expires_at=cmd.expires_at,
            operator=cmd.operator,
            failsafes=self.settings.failsafe_relays,
        )
        relay = self.relays.get(cmd.target)
        if relay is not None:
            relay.last_command = cmd
        if refusal is not None:
            result = self.record_result(cmd, CommandOutcome.REFUSED, refusal.reason)
            self.house.record_audit(who, "set_relay", cmd.target, "refused", refusal.reason)
            return result, False
        assert relay is not None
        final, overrides = self._decisions.interlocked(
            {cmd.target: cmd.state}, cmd.source, now, self._readings(), self.relays.history
        )
        forced = next((o for o in overrides if o.node == cmd.target), None)
        if forced is not None:
            result = self.record_result(
                cmd, CommandOutcome.REFUSED, forced.reason, interlock=forced.interlock.value
            )
            self.house.record_audit(who, "set_relay", cmd.target, "refused", forced.reason)
            return result, True
        # A wish repeated (the ATN orders every actuator again every few minutes) changes
        # nothing a pass reads: a later expiry only makes a quiet pass's deadline early.
        changed = True
        if cmd.source is CommandSource.ADMIN:
            changed = self._admin_wants.get(cmd.target) is not cmd.state
            self._admin_wants[cmd.target] = cmd.state
        elif cmd.source is CommandSource.ATN:
            was = self._atn_wants.get(cmd.target)
            changed = (
                was is None or was[0] is not cmd.state or (was[1] is not None and was[1] <= now)
            )
            self._atn_wants[cmd.target] = (
                cmd.state,
                cmd.expires_at or now + timedelta(seconds=ATN_COMMAND_TTL_S),
            )
        if changed:
            self._touch()
        want = final.get(cmd.target, cmd.state)
        if relay.commanded is want and relay.observed is want:
            # Already so, by its last read-back (at most VERIFY_PERIOD_S old): no bus traffic
            # for an order repeated as a keep-alive.
            outcome, reason = CommandOutcome.CONFIRMED, None
        else:
            outcome, reason = await self._switch(cmd.target, want, now, on_behalf_of=cmd.source)
        result = self.record_result(cmd, outcome, reason)
        self.house.record_audit(
            who, f"set_relay {cmd.state.value}", cmd.target, outcome.value, reason
        )
        return result, False

    def record_result(
        self,
        cmd: ActuatorCommand,
        outcome: CommandOutcome,
        reason: str | None,
        *,
        interlock: str | None = None,
    ) -> CommandResult:
        """What became of ``cmd``: kept on its actuator's record and published to the consoles;
        the caller sends it to whoever commanded."""
        result = CommandResult(
            command_id=cmd.id,
            target=cmd.target,
            outcome=outcome,
            reason=reason,
            at=self.clock.now(),
            interlock=interlock,
        )
        relay = self.relays.get(cmd.target)
        if relay is not None:
            relay.last_result = result
            self._publish_actuator(relay)
        self.house.publish(EventKind.ACTUATOR, result)
        return result

    async def take_hold(self, operator: str, minutes: float) -> Step[ModeState]:
        """Take or renew the admin hold. Like every change of boss, it waits for a relay
        command in progress, so each command is carried out and reported under one boss."""
        async with self._apply_lock:
            now = self.clock.now()
            step = self.step(
                m.take_hold(self.state, operator, minutes * 60.0, now, self.settings), now, operator
            )
            self.house.record_audit(
                operator, "take_hold", f"{minutes:g} min", _outcome(step), _why(step)
            )
            if step.ok and step.state.hold is not None:
                if step.state.hold.taken_at == now:
                    # A fresh hold starts with no wishes: every actuator stays where it is
                    # until the installer moves it.
                    self._admin_wants.clear()
                    self._touch()
                self.house.publish(EventKind.HOLD, _hold_msg(step.state.hold, step.state.mode))
            self.wake()
            return step

    def keep_alive(self, operator: str) -> Step[ModeState]:
        now = self.clock.now()
        step = self.step(m.keep_hold_alive(self.state, operator, now, self.settings), now, operator)
        if not step.ok:
            self.house.record_audit(operator, "keep_alive_hold", None, "refused", _why(step))
        elif step.state.hold is not None:
            self.house.publish(
                EventKind.HOLD, _hold_msg(step.state.hold, step.state.mode), remember=False
            )
        return step

    async def release_hold(self, operator: str) -> Step[ModeState]:
        async with self._apply_lock:
            now = self.clock.now()
            step = self.step(
                m.release_hold(self.state, operator, now, self.settings), now, operator
            )
            self.house.record_audit(operator, "release_hold", None, _outcome(step), _why(step))
            self.wake()
            return step

    async def set_mode(self, mode: Mode, operator: str) -> Step[ModeState]:
        async with self._apply_lock:
            now = self.clock.now()
            step = self.step(
                m.set_mode(self.state, operator, mode, now, self.settings), now, operator
            )
            self.house.record_audit(
                operator, f"set_mode {mode.value}", None, _outcome(step), _why(step)
            )
            self.wake()
            return step

    def hold_msg(self) -> HoldState | None:
        hold = self.state.hold
        now = self.clock.now()
        return (
            _hold_msg(hold, self.state.mode) if hold is not None and not hold.expired(now) else None
        )


def _hold_msg(hold: Hold, mode: Mode) -> HoldState:
    return HoldState(
        operator=hold.operator, started_at=hold.taken_at, expires_at=hold.until, previous_mode=mode
    )


def _outcome(step: Step[ModeState]) -> str:
    return "ok" if step.ok else "refused"


def _why(step: Step[ModeState]) -> str | None:
    if step.refusal is not None:
        return step.refusal.reason
    return "; ".join(step.notes)[:4000] or None
