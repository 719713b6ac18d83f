"""The simulated AtomicTNode: offers DispatchContracts, keeps them alive, dispatches on price.

:class:`SimulatedAtn` talks to one SCADA only through the uplink seam (:class:`Uplink`: ``run``,
``send``, ``broker_state``), so the in-process link of the simulator and the MQTT link of a
real deployment are the same to it. Everything runs on the injected clock.

**Contracts.** The ATN offers a contract (fresh id, starting now, ``contract_minutes`` long)
and, once the SCADA's answering heartbeat shows it *active*, keeps it alive with a heartbeat
every ``heartbeat_s`` (a random digit, and the echo of the SCADA's last digit). At the
contract's end it sends the completion heartbeat (*ended*) and at once offers the next one:
the SCADA refuses an offer while a contract is active, and its RemoteControl grace
(``contract_grace_s``) carries the boss over the instant between the two, so control continues
back to back. The SCADA answers every offer and heartbeat at once; when it does not within
``reply_timeout_s`` (it restarted, terminated the contract for silence, or never got the
offer), the contract is dropped and a fresh one offered.

**Dispatch.** While its contract is accepted the ATN orders every actuator with a role in the
layout (:mod:`sim.atn.policy`): on any change of the decision at once, and all of them every
``command_period_s`` with ``expires_at = now + command_ttl_s``. Decisions are re-taken on each
status or snapshot and at each hour boundary (prices are hourly). A refused command (the ATN
is not boss: an admin hold, a lapse; or an interlock held it back, e.g. the compressor's minimum
off time, and the SCADA does not remember such commands) is sent again one heartbeat period
later.

**Data.** Statuses, problem reports and aggregate reports are acknowledged (:class:`Ack`);
snapshots are requested every ``snapshot_period_s`` (and when a contract is accepted). Every
message in and out is kept in :attr:`log`.

**Walkthrough behaviours.** :meth:`go_silent` (nothing goes out: no heartbeats, commands, acks
or requests; messages in are still logged), :meth:`resume` (speak and offer again),
:meth:`terminate` (a *terminated* heartbeat; no more offers until :meth:`resume`),
:meth:`stop_offering` (the current contract runs to its end, no new one).
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta

from scada.clock import Clock, wake_or_timeout
from scada.layout import Layout
from scada.link.base import Uplink
from scada.protocol import (
    MAX_ACK_IDS,
    Ack,
    ActuatorCommand,
    AggregateReport,
    CommandOutcome,
    CommandResult,
    CommandSource,
    ContractHeartbeat,
    ContractStatus,
    DispatchContract,
    LinkState,
    Mode,
    PowerReading,
    ProblemEvent,
    RelayState,
    Side,
    Snapshot,
    SnapshotRequest,
    Status,
    WireMessage,
    new_id,
)
from sim.atn.journal import AtnLog, Entry
from sim.atn.policy import DispatchInputs, DispatchPolicy, Order, decide
from sim.atn.prices import PriceBands, PriceProfile, house_tz, simple_price_profile
from sim.atn.readings import LatestReadings
from sim.atn.timing import AtnTiming

log = logging.getLogger("sim.atn")

RETRY_S = 5.0
"""How soon an offer that could not be sent (uplink down) is tried again."""

_MARGIN_S = 0.001  # wake just after an hour boundary, never a float's width before it

_Step = Callable[[datetime], float]


class SimulatedAtn:
    """A simulated ATN for one house, on one uplink end. See the module docstring.

    Args:
        layout: the house; its control settings say which actuators play which part.
        link: the ATN's end of the uplink (e.g. ``InProcessLink().atn``).
        clock: the clock everything runs on.
        price_profile: ``price(t) -> $/MWh``; default :func:`simple_price_profile` in the
            house's time zone.
        contract_minutes: length of each contract.
        heartbeat_s: period of the ATN's heartbeats (keep it well under the SCADA's
            ``heartbeat_timeout_s``).
        command_period_s: every actuator is ordered again this often (half the TTL: one
            lost refresh leaves the order standing until the next). Ten minutes: a refresh
            is only a lease renewal (the SCADA confirms an order already in force without
            touching the bus), and the contract's 30 s heartbeats, not the orders' TTL, are
            what notices a dead ATN; a shorter period would only multiply the traffic.
        command_ttl_s: commands expire this long after they are issued.
        snapshot_period_s: a snapshot is requested this often.
        reply_timeout_s: an offer or heartbeat the SCADA does not answer within this long
            means it does not hold the contract.
        reading_max_age_s: readings older than this are not used to dispatch.
        policy: dispatch thresholds (:class:`DispatchPolicy`).
        seed: seeds the heartbeat digits (for reproducible runs).
    """

    def __init__(
        self,
        layout: Layout,
        link: Uplink,
        clock: Clock,
        price_profile: PriceProfile | None = None,
        *,
        contract_minutes: float = 60,
        heartbeat_s: float = 30,
        command_period_s: float = 600,
        command_ttl_s: float = 1200,
        snapshot_period_s: float = 600,
        reply_timeout_s: float = 10,
        reading_max_age_s: float = 900,
        policy: DispatchPolicy | None = None,
        seed: int | None = None,
    ) -> None:
        self.timing = AtnTiming(
            contract_s=round(contract_minutes * 60),
            heartbeat_s=heartbeat_s,
            command_period_s=command_period_s,
            command_ttl_s=command_ttl_s,
            snapshot_period_s=snapshot_period_s,
            reply_timeout_s=reply_timeout_s,
            reading_max_age_s=reading_max_age_s,
        )
        if heartbeat_s >= layout.control.heartbeat_timeout_s:
            log.warning(
                "heartbeat_s %g >= the SCADA's heartbeat_timeout_s %g: contracts will go silent",
                heartbeat_s,
                layout.control.heartbeat_timeout_s,
            )
        self.layout = layout
        self.settings = layout.control
        self.alias = layout.house.alias
        self.scada_alias = layout.house.scada
        self.link = link
        self.clock = clock
        tz = house_tz(layout)
        self.prices = PriceBands(price_profile or simple_price_profile(tz), tz)
        self.policy = policy or DispatchPolicy()
        self._rng = random.Random(seed)

        # What can be inspected (tests, walkthroughs, a console).
        self.log = AtnLog()
        self.readings = LatestReadings()
        self.contract: DispatchContract | None = None
        """The current contract: status ``offered`` until the SCADA accepts it, then ``active``."""
        self.accepted = False
        self.contracts: list[DispatchContract] = []
        """Every contract offered, oldest first."""
        self.contracts_lost = 0
        self.silent = False
        self.offering = True
        self.orders: dict[str, Order] = {}
        """The latest decision, by actuator node."""
        self.commanded: dict[str, RelayState] = {}
        """The state last ordered, by actuator node."""
        self.results: Counter[CommandOutcome] = Counter()
        self.refused: list[CommandResult] = []
        self.echo_misses = 0
        """SCADA heartbeats whose echo matched neither of the ATN's last two digits."""
        self.echo_none = 0
        """SCADA heartbeats that echoed no digit at all."""
        self.dropped = 0
        self.power_w: dict[str, float] = {}
        self.scada_mode: Mode | None = None
        """The SCADA's mode in its latest snapshot."""

        self._my_digits: tuple[int | None, int | None] = (None, None)  # (last, one before)
        self._scada_digit: int | None = None
        self._last_sent: datetime | None = None  # last offer or heartbeat
        self._awaiting_since: datetime | None = None
        self._last_full: datetime | None = None
        self._retry: dict[str, datetime] = {}  # refused orders: node -> when to send again
        self._pending: dict[str, ActuatorCommand] = {}
        self._open: dict[str, DispatchContract] = {}  # offered, not ended or terminated
        self._to_ack: list[str] = []
        self._ack_flush_due = False
        self._contract_wake = asyncio.Event()
        self._dispatch_wake = asyncio.Event()
        self._snapshot_wake = asyncio.Event()

    # -------------------------------------------------------------------- public
    @property
    def received(self) -> list[Entry]:
        """Every message received (the last :data:`~sim.atn.journal.KEEP`), oldest first."""
        return self.log.received

    @property
    def counts(self) -> Counter[str]:
        """How many messages of each ``type`` were received."""
        return self.log.counts

    @property
    def boss(self) -> bool:
        """True while the ATN holds a contract the SCADA accepted (and so sends orders)."""
        return self.contract is not None and self.accepted and not self.silent

    async def run(self) -> None:
        """Listen, keep contracts, dispatch and request snapshots until cancelled."""
        async with asyncio.TaskGroup() as tg:
            tg.create_task(self.link.run(self._on_message), name="atn:link")
            tg.create_task(
                self._loop(self._contract_step, self._contract_wake), name="atn:contract"
            )
            tg.create_task(
                self._loop(self._dispatch_step, self._dispatch_wake), name="atn:dispatch"
            )
            tg.create_task(
                self._loop(self._snapshot_step, self._snapshot_wake), name="atn:snapshot"
            )

    def go_silent(self) -> None:
        """Send nothing more (heartbeats, commands, acks, requests) until :meth:`resume`."""
        log.warning("ATN going silent")
        self.silent = True

    def resume(self) -> None:
        """Speak again and offer contracts (after :meth:`go_silent`, :meth:`terminate` or
        :meth:`stop_offering`): a heartbeat of the current contract if it is still running,
        else (or if the SCADA does not answer it) a fresh offer."""
        log.info("ATN resuming")
        self.silent = False
        self.offering = True
        self._retry.clear()
        self._wake_all()

    def terminate(self) -> None:
        """End the current contract now with a *terminated* heartbeat, and stop offering."""
        self.offering = False
        c = self.contract
        if c is not None:
            log.warning("ATN terminating contract %s", c.contract_id)
            self._heartbeat(c, ContractStatus.TERMINATED, self.clock.now())
            self._drop_contract(closed=True)
        self._wake_all()

    def stop_offering(self) -> None:
        """Offer no new contract; the current one runs to its end (and is reported ended)."""
        log.info("ATN stops offering contracts")
        self.offering = False

    def request_snapshot(self) -> bool:
        """Ask the SCADA for a snapshot now (False if it could not be sent)."""
        if self.silent:
            return False
        return self._send(SnapshotRequest(from_alias=self.alias, at=self.clock.now()))

    # ----------------------------------------------------------------- contracts
    def _contract_step(self, now: datetime) -> float:
        """Keep the contract going; returns the seconds until this is next due."""
        if self.silent:
            return self.timing.heartbeat_s
        c = self.contract
        if c is not None and now >= c.end:
            if self.accepted:
                self._heartbeat(c, ContractStatus.ENDED, now)
            self._drop_contract(closed=True)
            c = None
        waited = self._awaiting_since
        if (
            c is not None
            and waited is not None
            and _since(waited, now) >= self.timing.reply_timeout_s
        ):
            log.warning(
                "the SCADA did not answer about contract %s within %g s; offering afresh",
                c.contract_id,
                self.timing.reply_timeout_s,
            )
            self.contracts_lost += 1
            self._drop_contract()
            c = None
        if c is None:
            if not self.offering:
                return self.timing.heartbeat_s
            c = self._offer(now)
            if c is None:
                return RETRY_S
        elif self.accepted and (
            self._last_sent is None or _since(self._last_sent, now) >= self.timing.heartbeat_s
        ):
            self._heartbeat(c, ContractStatus.ACTIVE, now)
        due = [c.end]
        if self._awaiting_since is not None:
            due.append(self._awaiting_since + timedelta(seconds=self.timing.reply_timeout_s))
        if self.accepted and self._last_sent is not None:
            due.append(self._last_sent + timedelta(seconds=self.timing.heartbeat_s))
        return max(0.0, _since(now, min(due)))

    def _offer(self, now: datetime) -> DispatchContract | None:
        if self.link.broker_state is not LinkState.UP:
            return None  # never queue a stale offer behind a dead link
        contract = DispatchContract(
            contract_id=new_id(),
            atn_alias=self.alias,
            scada_alias=self.scada_alias,
            start=now,
            duration_s=self.timing.contract_s,
            status=ContractStatus.OFFERED,
        )
        self._scada_digit = None
        if not self._send_heartbeat(contract, now):
            return None
        log.info("offered contract %s for %d s", contract.contract_id, self.timing.contract_s)
        self.contract = contract
        self.accepted = False
        self.contracts.append(contract)
        self._open = {k: v for k, v in self._open.items() if v.end > now}
        self._open[contract.contract_id] = contract
        self._awaiting_since = now
        return contract

    def _heartbeat(self, c: DispatchContract, status: ContractStatus, now: datetime) -> None:
        msg = c if c.status is status else c.model_copy(update={"status": status})
        sent = self._send_heartbeat(msg, now)
        if sent and status is ContractStatus.ACTIVE and self._awaiting_since is None:
            self._awaiting_since = now

    def _send_heartbeat(self, contract: DispatchContract, now: datetime) -> bool:
        digit = self._rng.randrange(10)
        self._last_sent = now
        sent = self._send(
            ContractHeartbeat(
                contract=contract,
                sent_at=now,
                my_digit=digit,
                your_last_digit=self._scada_digit,
                from_side=Side.ATN,
            )
        )
        if sent:
            self._my_digits = (digit, self._my_digits[0])
        return sent

    def _drop_contract(self, *, closed: bool = False) -> None:
        """Forget the current contract; ``closed``: it ended or was terminated for good."""
        if closed and self.contract is not None:
            self._open.pop(self.contract.contract_id, None)
        self.contract = None
        self.accepted = False
        self._awaiting_since = None
        self._scada_digit = None
        self._last_full = None  # order everything again under the next contract
        self._retry.clear()

    def _heartbeat_in(self, hb: ContractHeartbeat, now: datetime) -> None:
        if hb.from_side is not Side.SCADA:
            return
        c = self.contract
        cid = hb.contract.contract_id
        if c is None or cid != c.contract_id:
            # The SCADA's heartbeats arrive in order, so the latest says which contract it
            # holds. One the ATN offered, gave up on (an answer came late) and never ended is
            # followed again rather than fought over with a fresh offer.
            known = self._open.get(cid)
            if known is None or hb.contract.status is not ContractStatus.ACTIVE or now >= known.end:
                log.debug("ignoring a heartbeat of contract %s", cid)
                return
            log.info("the SCADA holds contract %s: following it", cid)
            self._drop_contract()
            self.contract = c = known
        self._awaiting_since = None
        self._scada_digit = hb.my_digit
        if hb.your_last_digit is None:
            self.echo_none += 1
        elif hb.your_last_digit not in self._my_digits:
            self.echo_misses += 1
            log.info("the SCADA echoed %s; an ATN heartbeat went missing", hb.your_last_digit)
        status = hb.contract.status
        if status is ContractStatus.ACTIVE:
            if not self.accepted:
                log.info("contract %s accepted at %s", c.contract_id, now.isoformat())
                self.contract = c.model_copy(update={"status": ContractStatus.ACTIVE})
                self.accepted = True
                self._snapshot_wake.set()
                self._dispatch_wake.set()
        elif status is not ContractStatus.OFFERED:
            log.warning("the SCADA reports contract %s %s", c.contract_id, status.value)
            self.contracts_lost += 1
            self._drop_contract(closed=True)
            self._contract_wake.set()

    # ------------------------------------------------------------------ dispatch
    def _dispatch_step(self, now: datetime) -> float:
        """Decide and order; returns the seconds until the next decision is due."""
        until_hour = _since(now, self.prices.next_change(now)) + _MARGIN_S
        self._pending = {k: v for k, v in self._pending.items() if not v.expired(now)}
        if not self.boss:
            return until_hour
        inputs = DispatchInputs(
            readings=self.readings.fresh(now, self.timing.reading_max_age_s),
            band=self.prices.band(now),
            peak_ahead=self.prices.peak_within(now, self.policy.pre_peak_h),
            now=now,
            previous=self.commanded,
        )
        orders = decide(inputs, self.settings, self.policy)
        self.orders = {o.node: o for o in orders}
        full = self._last_full is None or (
            _since(self._last_full, now) >= self.timing.command_period_s
        )
        for order in orders:
            retry = self._retry.get(order.node)
            if (
                full
                or self.commanded.get(order.node) is not order.state
                or (retry is not None and now >= retry)
            ):
                self._retry.pop(order.node, None)
                self._command(order, now)
        if full:
            self._last_full = now
        assert self._last_full is not None
        due = [self._last_full + timedelta(seconds=self.timing.command_period_s)]
        due.extend(self._retry.values())
        return min([until_hour, *(max(0.0, _since(now, d)) for d in due)])

    def _command(self, order: Order, now: datetime) -> None:
        cmd = ActuatorCommand(
            id=new_id(),
            source=CommandSource.ATN,
            target=order.node,
            state=order.state,
            issued_at=now,
            expires_at=now + timedelta(seconds=self.timing.command_ttl_s),
        )
        if self._send(cmd):
            self.commanded[order.node] = order.state
            self._pending[cmd.id] = cmd

    def _result_in(self, result: CommandResult, now: datetime) -> None:
        self.results[result.outcome] += 1
        self._pending.pop(result.command_id, None)
        if result.outcome is CommandOutcome.REFUSED:
            self.refused.append(result)
            del self.refused[:-100]
            # Not boss (a hold, a lapse) or held back by an interlock (the SCADA forgets
            # those): order it again a heartbeat period later.
            self._retry.setdefault(result.target, now + timedelta(seconds=self.timing.heartbeat_s))
            self._dispatch_wake.set()

    # ------------------------------------------------------------------ snapshots
    def _snapshot_step(self, _now: datetime) -> float:
        self.request_snapshot()
        # Until a first reading arrives (the SCADA has just started), ask again soon.
        return self.timing.snapshot_period_s if self.readings.latest else self.timing.heartbeat_s

    # ------------------------------------------------------------------ incoming
    async def _on_message(self, msg: WireMessage) -> None:
        now = self.clock.now()
        self.log.record_in(now, msg)
        if isinstance(msg, ContractHeartbeat):
            self._heartbeat_in(msg, now)
        elif isinstance(msg, Status):
            self.readings.from_status(msg)
            self._ack(msg.id)
            self._dispatch_wake.set()
        elif isinstance(msg, ProblemEvent | AggregateReport):
            self._ack(msg.id)
        elif isinstance(msg, Snapshot):
            self.readings.from_snapshot(msg)
            self.scada_mode = msg.mode
            self._dispatch_wake.set()
        elif isinstance(msg, CommandResult):
            self._result_in(msg, now)
        elif isinstance(msg, PowerReading):
            self.power_w[msg.channel] = msg.power_w

    def _ack(self, message_id: str) -> None:
        """Acknowledge ``message_id`` with the rest of its burst: the acks of the messages
        handled in one go (a backlog arrives hundreds at a time) leave as one :class:`Ack`,
        once the burst is handled."""
        if self.silent:
            return
        self._to_ack.append(message_id)
        if len(self._to_ack) >= MAX_ACK_IDS:
            self._flush_acks()
        elif not self._ack_flush_due:
            self._ack_flush_due = True
            asyncio.get_running_loop().call_soon(self._flush_acks)

    def _flush_acks(self) -> None:
        self._ack_flush_due = False
        ids, self._to_ack = self._to_ack, []
        if ids and not self.silent:
            self._send(Ack(message_ids=tuple(ids), at=self.clock.now()))

    # ------------------------------------------------------------------ plumbing
    def _send(self, msg: WireMessage) -> bool:
        if self.link.send(msg):
            self.log.record_out(self.clock.now(), msg)
            return True
        self.dropped += 1
        return False

    def _wake_all(self) -> None:
        for ev in (self._contract_wake, self._dispatch_wake, self._snapshot_wake):
            ev.set()

    async def _loop(self, step: _Step, wake: asyncio.Event) -> None:
        while True:
            wait_s = step(self.clock.now())
            if wake.is_set():
                wake.clear()
                continue
            await wake_or_timeout(wake, wait_s)
            wake.clear()


def _since(earlier: datetime, later: datetime) -> float:
    return (later - earlier).total_seconds()
