"""The simulated AtomicTNode: offers DispatchContracts, keeps them alive, dispatches on price.

:class:`SimulatedAtn` talks to one SCADA only through the uplink seam (:class:`Uplink`: ``run``,
``send``, ``broker_state``), so the in-process link of the simulator and the MQTT link of a
real deployment are the same to it. Everything runs on the injected clock.

It is the one owner of the link and of what goes out: every message leaves through it, so that
:attr:`~SimulatedAtn.log` and :attr:`~SimulatedAtn.dropped` see everything, and it routes what
comes in. Its parts each keep their own state; the contract, the orders and the snapshot
requests each run on a loop of their own:

* the contract (:mod:`sim.atn.contracts`): offers, heartbeats, dropping a contract the SCADA
  no longer holds;
* the orders (:mod:`sim.atn.dispatch`): decisions on price and readings, commands, retries of
  refused ones;
* the data: statuses, problem reports and aggregate reports are acknowledged in bursts
  (:mod:`sim.atn.acks`); snapshots are requested every ``snapshot_period_s`` (and when a
  contract is accepted); statuses and snapshots keep the ATN's picture of the house
  (:mod:`sim.atn.readings`). Every message in and out is kept in :attr:`~SimulatedAtn.log`.

**Walkthrough behaviours.** :meth:`~SimulatedAtn.go_silent` (nothing goes out: no heartbeats,
commands, acks or requests; messages in are still logged), :meth:`~SimulatedAtn.resume` (speak
and offer again), :meth:`~SimulatedAtn.terminate` (a *terminated* heartbeat; no more offers
until :meth:`~SimulatedAtn.resume`), :meth:`~SimulatedAtn.stop_offering` (the current contract
runs to its end, no new one).
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Callable
from datetime import datetime

from scada.clock import Alarm, Clock, wake_or_timeout
from scada.layout import Layout
from scada.link.base import Uplink
from scada.protocol import (
    AggregateReport,
    CommandResult,
    ContractHeartbeat,
    DispatchContract,
    LinkState,
    Mode,
    PowerReading,
    ProblemEvent,
    Snapshot,
    SnapshotRequest,
    Status,
    WireMessage,
)
from sim.atn.acks import AckBatcher
from sim.atn.contracts import ContractKeeper
from sim.atn.dispatch import Dispatcher
from sim.atn.journal import AtnLog, Entry
from sim.atn.policy import DispatchPolicy
from sim.atn.prices import PriceBands, PriceProfile, house_tz, simple_price_profile
from sim.atn.readings import LatestReadings
from sim.atn.timing import AtnTiming

log = logging.getLogger("sim.atn")

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

        # What can be inspected (tests, walkthroughs, a console), with the parts' own below.
        self.log = AtnLog()
        self.readings = LatestReadings()
        self.silent = False
        self.dropped = 0
        """Messages the link would not take."""
        self.power_w: dict[str, float] = {}
        self.scada_mode: Mode | None = None
        """The SCADA's mode in its latest snapshot."""

        self.dispatcher = Dispatcher(
            timing=self.timing,
            settings=self.settings,
            prices=self.prices,
            policy=self.policy,
            readings=self.readings,
            send=self._send,
        )
        self.keeper = ContractKeeper(
            alias=self.alias,
            scada_alias=self.scada_alias,
            timing=self.timing,
            send=self._send,
            link_up=self._link_up,
            on_accepted=self._contract_accepted,
            on_dropped=self.dispatcher.restart,
            seed=seed,
        )
        self._acks = AckBatcher(clock, self._send, muted=lambda: self.silent)
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
    def contract(self) -> DispatchContract | None:
        """The current contract: status ``offered`` until the SCADA accepts it, then ``active``."""
        return self.keeper.contract

    @property
    def boss(self) -> bool:
        """True while the ATN holds a contract the SCADA accepted (and so sends orders)."""
        return self.contract is not None and self.keeper.accepted and not self.silent

    async def run(self) -> None:
        """Listen, keep contracts, dispatch and request snapshots until cancelled."""
        async with asyncio.TaskGroup() as tg:
            tg.create_task(self.link.run(self._on_message), name="atn:link")
            alarm = Alarm(self.keeper.wake)
            self.keeper.on_due_moved = alarm.move
            tg.create_task(
                self._loop(self._contract_step, self.keeper.wake, alarm), name="atn:contract"
            )
            tg.create_task(
                self._loop(self._dispatch_step, self.dispatcher.wake), name="atn:dispatch"
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
        self.keeper.offering = True
        self.dispatcher.forget_retries()
        self._wake_all()

    def terminate(self) -> None:
        """End the current contract now with a *terminated* heartbeat, and stop offering."""
        self.keeper.terminate(self.clock.now())
        self._wake_all()

    def stop_offering(self) -> None:
        """Offer no new contract; the current one runs to its end (and is reported ended)."""
        log.info("ATN stops offering contracts")
        self.keeper.offering = False

    def request_snapshot(self) -> bool:
        """Ask the SCADA for a snapshot now (False if it could not be sent)."""
        if self.silent:
            return False
        return self._send(SnapshotRequest(from_alias=self.alias, at=self.clock.now()))

    # --------------------------------------------------------------------- steps
    def _contract_step(self, now: datetime) -> float:
        if self.silent:
            return self.timing.heartbeat_s
        return self.keeper.step(now)

    def _dispatch_step(self, now: datetime) -> float:
        return self.dispatcher.step(now, boss=self.boss)

    def _snapshot_step(self, _now: datetime) -> float:
        self.request_snapshot()
        # Until a first reading arrives (the SCADA has just started), ask again soon.
        return self.timing.snapshot_period_s if self.readings.latest else self.timing.heartbeat_s

    def _contract_accepted(self) -> None:
        self._snapshot_wake.set()
        self.dispatcher.wake.set()

    # ------------------------------------------------------------------ incoming
    async def _on_message(self, msg: WireMessage) -> None:
        now = self.clock.now()
        self.log.record_in(now, msg)
        if isinstance(msg, ContractHeartbeat):
            self.keeper.heartbeat_in(msg, now)
        elif isinstance(msg, Status):
            self.readings.from_status(msg)
            self._acks.add(msg.id)
            self.dispatcher.wake.set()
        elif isinstance(msg, ProblemEvent | AggregateReport):
            self._acks.add(msg.id)
        elif isinstance(msg, Snapshot):
            self.readings.from_snapshot(msg)
            self.scada_mode = msg.mode
            self.dispatcher.wake.set()
        elif isinstance(msg, CommandResult):
            self.dispatcher.result_in(msg, now)
        elif isinstance(msg, PowerReading):
            self.power_w[msg.channel] = msg.power_w

    # ------------------------------------------------------------------ plumbing
    def _send(self, msg: WireMessage) -> bool:
        if self.link.send(msg):
            self.log.record_out(self.clock.now(), msg)
            return True
        self.dropped += 1
        return False

    def _link_up(self) -> bool:
        return self.link.broker_state is LinkState.UP

    def _wake_all(self) -> None:
        for ev in (self.keeper.wake, self.dispatcher.wake, self._snapshot_wake):
            ev.set()

    async def _loop(self, step: _Step, wake: asyncio.Event, alarm: Alarm | None = None) -> None:
        while True:
            wait_s = step(self.clock.now())
            if wake.is_set():
                wake.clear()
                continue
            if alarm is None:
                await wake_or_timeout(wake, wait_s)
            else:
                await alarm.wait(wait_s)
            wake.clear()
