"""The controller's conversation with the ATN over the uplink.

Heard: the contract's heartbeats (each answered at once, the contract stepped through the mode
machine), actuator commands (carried out by the controller, answered with their result), acks
(handed to the store-and-forward) and snapshot requests. Said: the SCADA's own heartbeat when
the ATN has been quiet for more than a period, statuses and problems (through the store when
there is one, else live and only in RemoteControl) and power readings (live, RemoteControl).

The mode state has one owner, the controller (:class:`ModeOwner`): this side reads it and asks
the owner to step it, never replaces it itself.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import random
from datetime import datetime, timedelta
from typing import Protocol

from scada.actors.forwarder import Forwarder
from scada.actors.house import HouseState
from scada.actors.pass_schedule import heartbeat_only
from scada.clock import RANK_CONTROL, TIMER_RANK
from scada.control import (
    Accept,
    ContractMessage,
    End,
    Heartbeat,
    ModeState,
    Offer,
    Step,
    Terminate,
)
from scada.control import modes as m
from scada.link.base import Uplink
from scada.protocol.base import WireMessage
from scada.protocol.commands import ActuatorCommand, CommandResult
from scada.protocol.control import ContractHeartbeat, DispatchContract
from scada.protocol.enums import (
    CommandOutcome,
    CommandSource,
    ContractStatus,
    LinkState,
    Mode,
    Side,
)
from scada.protocol.events import ProblemEvent
from scada.protocol.readings import PowerReading, Status
from scada.protocol.snapshot import Snapshot
from scada.protocol.uplink import Ack, SnapshotRequest

log = logging.getLogger("scada.controller")

HEARTBEAT_PERIOD_S = 30.0
_HEARTBEAT_PERIOD = timedelta(seconds=HEARTBEAT_PERIOD_S)
#: The SCADA's own heartbeat waits this long past a period of silence: an ATN heartbeat a
#: little late over a real network is answered rather than crossed by one of ours (which would
#: double every exchange for as long as the two stayed in step). Far inside the lease's
#: ``heartbeat_timeout_s``.
OWN_BEAT_SLACK_S = 5.0
_OWN_BEAT_AFTER = timedelta(seconds=HEARTBEAT_PERIOD_S + OWN_BEAT_SLACK_S)


class ModeOwner(Protocol):
    """What this side needs of the controller, the one owner of the mode state."""

    @property
    def state(self) -> ModeState: ...

    def step(self, step: Step[ModeState], now: datetime, who: str) -> Step[ModeState]:
        """Make ``step.state`` the mode state, publishing what changed; returns ``step``."""
        ...

    def track_link(self, now: datetime) -> None:
        """Step the mode state if the uplink's broker state changed since last seen."""
        ...

    def wake(self) -> None:
        """Run a control pass at once."""
        ...

    async def command(self, cmd: ActuatorCommand, *, who: str) -> CommandResult:
        """Authorize, interlock and carry out ``cmd``."""
        ...

    def record_result(
        self, cmd: ActuatorCommand, outcome: CommandOutcome, reason: str | None
    ) -> CommandResult:
        """Record and publish the result of ``cmd`` (here: refused before it was tried)."""
        ...

    def snapshot(self, now: datetime) -> Snapshot:
        """The whole live state of the house."""
        ...


class UplinkSide:
    """Everything the controller hears from and says to the ATN (see the module's doc)."""

    def __init__(self, owner: ModeOwner, house: HouseState, uplink: Uplink | None) -> None:
        self._owner = owner
        self._house = house
        self.uplink = uplink
        #: Store-and-forward for statuses and problems (None: sent live, only in RemoteControl).
        self.forwarder: Forwarder | None = None
        self.last_heartbeat_sent: datetime | None = None
        # The timer of the SCADA's own heartbeat, and the instant it is armed for; armed only
        # while the controller runs (a runtime stopped in a running loop beats no more).
        self._beating = False
        self._beat_timer: asyncio.TimerHandle | None = None
        self._beat_at: datetime | None = None
        self._beat_context = contextvars.copy_context()
        self._beat_context.run(TIMER_RANK.set, RANK_CONTROL)
        self._contract_msg: DispatchContract | None = None
        house.on_power = self._power
        house.on_problem = self._problem

    @property
    def broker_state(self) -> LinkState:
        return self.uplink.broker_state if self.uplink is not None else LinkState.NOT_CONFIGURED

    async def on_uplink(self, msg: WireMessage) -> None:
        """A message from the ATN. Anything unexpected is logged and answered, never raised."""
        now = self._house.clock.now()
        # A message through the link proves it is up: note that before the message itself, so
        # a heartbeat arriving right after an outage counts as the fresh heartbeat it is.
        self._owner.track_link(now)
        if isinstance(msg, ContractHeartbeat):
            self._contract_in(msg, now)
        elif isinstance(msg, ActuatorCommand):
            if msg.source is not CommandSource.ATN:
                result = self._owner.record_result(
                    msg,
                    CommandOutcome.REFUSED,
                    f"uplink commands come from the atn, not {msg.source.value}",
                )
            else:
                result = await self._owner.command(msg, who="atn")
            self.send_up(result)
        elif isinstance(msg, Ack):
            if self.forwarder is not None:
                for message_id in msg.message_ids:
                    self.forwarder.ack(message_id)
        elif isinstance(msg, SnapshotRequest):
            self.send_up(self._owner.snapshot(now))
        else:
            log.debug("ignoring %s from the uplink", msg.type)

    def status_ready(self, status: Status) -> None:
        if self.forwarder is not None:
            self.forwarder.offer(status)
        elif self._owner.state.mode is Mode.REMOTE:
            self.send_up(status)

    def contract_msg(self) -> DispatchContract | None:
        """The contract as the wire tells it, or ``None`` before the first offer."""
        c = self._owner.state.contract
        if c is None:
            return None
        # Every heartbeat carries it, and it changes only with the contract or its status.
        last = self._contract_msg
        if (
            last is not None
            and last.contract_id == c.contract_id
            and last.status is c.status
            and last.start == c.start
            and last.duration_s == max(1, round(c.duration_s))
        ):
            return last
        layout = self._house.layout
        msg = self._contract_msg = DispatchContract(
            contract_id=c.contract_id,
            atn_alias=layout.house.alias,
            scada_alias=layout.house.scada,
            start=c.start,
            duration_s=max(1, round(c.duration_s)),
            status=c.status,
        )
        return msg

    def beat_if_due(self, now: datetime) -> None:
        """Send the SCADA's own heartbeat if the ATN has been quiet for long enough."""
        state = self._owner.state
        due = self.own_heartbeat_due(state, self.last_heartbeat_sent)
        if due is None or now < due:
            return
        c = state.contract
        assert c is not None
        self._send_heartbeat(now, echo=c.atn_digit)

    def own_heartbeat_due(self, state: ModeState, sent: datetime | None) -> datetime | None:
        """When the SCADA beats on its own, for a quiet ATN (each ATN heartbeat is answered at
        once): :data:`OWN_BEAT_SLACK_S` after a period has passed since the last heartbeat
        either way. At exactly one period the ATN's own is due (both run on 30 s), and beating
        first would double every exchange. ``None``: no active contract, or no uplink."""
        c = state.contract
        if c is None or c.status is not ContractStatus.ACTIVE or self.uplink is None:
            return None
        last = c.last_heard if sent is None else max(sent, c.last_heard)
        return last + _OWN_BEAT_AFTER

    def rearm_beat(self) -> None:
        """Keep the timer of the SCADA's own heartbeat on :meth:`own_heartbeat_due`; the owner
        calls this at every change of the mode state. A timer of its own, not a deadline of
        the control pass: every ATN heartbeat moves it later, which would otherwise wake the
        controller for nothing twice a minute."""
        due = self.own_heartbeat_due(self._owner.state, self.last_heartbeat_sent)
        if due == self._beat_at:
            return
        if self._beat_timer is not None:
            self._beat_timer.cancel()
        self._beat_timer, self._beat_at = None, None
        if due is None or not self._beating:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no loop yet (a state restored at construction): armed later
            return
        delay_s = (due - self._house.clock.now()).total_seconds()
        self._beat_timer = loop.call_later(
            max(0.0, delay_s), self._beat, context=self._beat_context
        )
        self._beat_at = due

    def start_beating(self) -> None:
        """The controller runs: keep the own heartbeat's timer armed from now on."""
        self._beating = True
        self.rearm_beat()

    def stop_beating(self) -> None:
        """The controller stopped: cancel the own heartbeat's timer (a runtime stopped in a
        loop that goes on, as at a change of house, must not beat on)."""
        self._beating = False
        if self._beat_timer is not None:
            self._beat_timer.cancel()
        self._beat_timer, self._beat_at = None, None

    def _beat(self) -> None:
        self._beat_timer, self._beat_at = None, None
        self.beat_if_due(self._house.clock.now())
        self.rearm_beat()

    def send_up(self, msg: WireMessage) -> None:
        """Send ``msg`` live if the broker is there (dropped otherwise: live traffic only)."""
        if self.uplink is not None and self.uplink.broker_state is LinkState.UP:
            self.uplink.send(msg)

    def _contract_in(self, hb: ContractHeartbeat, now: datetime) -> None:
        owner = self._owner
        before = owner.state
        c = hb.contract
        msg: ContractMessage
        if c.status is ContractStatus.OFFERED:
            msg = Offer(c.contract_id, c.start, float(c.duration_s), hb.my_digit)
        elif c.status is ContractStatus.ACTIVE:
            msg = Heartbeat(c.contract_id, hb.my_digit, hb.your_last_digit)
        elif c.status is ContractStatus.ENDED:
            msg = End(c.contract_id)
        else:
            msg = Terminate(c.contract_id, Side.ATN, f"status {c.status.value} from the atn")
        settings = self._house.layout.control
        step = m.contract_message(owner.state, msg, now, settings)
        if step.refusal is not None:
            owner.step(step, now, "atn")
            log.warning("contract message refused: %s", step.refusal.reason)
            self._house.record_audit(
                "atn", f"contract {c.status.value}", c.contract_id, "refused", step.refusal.reason
            )
            return
        if isinstance(msg, Heartbeat):
            # The heartbeat and the answer to it are one change of the mode state, not two.
            self._send_heartbeat(now, echo=hb.my_digit, first=step)
        else:
            owner.step(step, now, "atn")
            if isinstance(msg, Offer):
                accept = Accept(c.contract_id)
                owner.step(m.contract_message(owner.state, accept, now, settings), now, "scada")
                self._send_heartbeat(now, echo=hb.my_digit)
        if not heartbeat_only(before, owner.state):
            owner.wake()

    def _send_heartbeat(
        self, now: datetime, *, echo: int | None, first: Step[ModeState] | None = None
    ) -> None:
        """Send the SCADA's heartbeat, echoing ``echo``. ``first``: the ATN's heartbeat, as a
        step of the mode state not taken yet, taken together with this one's."""
        owner = self._owner
        state = owner.state if first is None else first.state
        if state.contract is None or self.uplink is None:
            if first is not None:
                owner.step(first, now, "atn")
            return
        digit = random.randrange(10)  # noqa: S311 - a liveness echo, not a secret
        self.last_heartbeat_sent = now
        beat = m.heartbeat_sent(state, digit, now)
        if first is None:
            owner.step(beat, now, "scada")
        elif beat.refusal is None:
            owner.step(Step(beat.state, None, first.notes + beat.notes), now, "atn")
        else:
            owner.step(first, now, "atn")
        contract = self.contract_msg()
        assert contract is not None  # the contract is the one just heard of
        self.send_up(
            ContractHeartbeat(
                contract=contract,
                sent_at=now,
                my_digit=digit,
                your_last_digit=echo,
                from_side=Side.SCADA,
            )
        )

    def _problem(self, msg: ProblemEvent) -> None:
        if self.forwarder is not None:
            self.forwarder.offer(msg)
        elif self._owner.state.mode is Mode.REMOTE:
            self.send_up(msg)

    def _power(self, msg: PowerReading) -> None:
        if self._owner.state.mode is Mode.REMOTE:
            self.send_up(msg)
