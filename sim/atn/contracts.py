"""The simulated ATN's side of the DispatchContract: offers, heartbeats, and letting go.

The ATN offers a contract (fresh id, starting now, ``contract_s`` long) and, once the SCADA's
answering heartbeat shows it *active*, keeps it alive with a heartbeat every ``heartbeat_s`` (a
random digit, and the echo of the SCADA's last digit). At the contract's end it sends the
completion heartbeat (*ended*) and at once offers the next one: the SCADA refuses an offer while
a contract is active, and its RemoteControl grace (``contract_grace_s``) carries the boss over
the instant between the two, so control continues back to back. The SCADA answers every offer
and heartbeat at once; when it does not within ``reply_timeout_s`` (it restarted, terminated
the contract for silence, or never got the offer), the contract is dropped and a fresh one
offered.

:class:`ContractKeeper` owns this state and nothing else. It sends only through the ``send`` it
is given (so that the ATN's log and drop count see every heartbeat), and tells its owner what
the rest of the ATN must follow through two hooks: ``on_accepted`` when the SCADA takes a
contract, ``on_dropped`` whenever a contract is forgotten, for whatever reason. Going silent is
the owner's business: it simply stops calling :meth:`ContractKeeper.step`.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable
from datetime import datetime, timedelta

from scada.protocol import (
    ContractHeartbeat,
    ContractStatus,
    DispatchContract,
    Side,
    WireMessage,
    new_id,
)
from sim.atn.timing import AtnTiming, seconds_between

log = logging.getLogger("sim.atn")

RETRY_S = 5.0
"""How soon an offer that could not be sent (uplink down) is tried again."""


class ContractKeeper:
    """The contract one ATN holds with one SCADA (see the module docstring).

    Args:
        alias: the ATN's alias, offering.
        scada_alias: the SCADA's alias, offered to.
        timing: the ATN's periods (contract length, heartbeat period, reply timeout).
        send: sends a message; False if it could not be sent.
        link_up: whether the uplink is up now (no offer is queued behind a dead link).
        on_accepted: called when the SCADA accepts the current contract.
        on_dropped: called after the current contract is forgotten.
        seed: seeds the heartbeat digits (for reproducible runs).
    """

    def __init__(
        self,
        *,
        alias: str,
        scada_alias: str,
        timing: AtnTiming,
        send: Callable[[WireMessage], bool],
        link_up: Callable[[], bool],
        on_accepted: Callable[[], None],
        on_dropped: Callable[[], None],
        seed: int | None = None,
    ) -> None:
        self.alias = alias
        self.scada_alias = scada_alias
        self.timing = timing
        self._send = send
        self._link_up = link_up
        self._on_accepted = on_accepted
        self._on_dropped = on_dropped
        self._rng = random.Random(seed)

        self.contract: DispatchContract | None = None
        """The current contract: status ``offered`` until the SCADA accepts it, then ``active``."""
        self.accepted = False
        self.contracts: list[DispatchContract] = []
        """Every contract offered, oldest first."""
        self.contracts_lost = 0
        """Contracts the SCADA did not answer about in time, or reported ended or terminated."""
        self.offering = True
        """False: no new contract is offered (the current one runs to its end)."""
        self.echo_misses = 0
        """SCADA heartbeats whose echo matched neither of the ATN's last two digits."""
        self.echo_none = 0
        """SCADA heartbeats that echoed no digit at all."""
        self.wake = asyncio.Event()
        """Set when :meth:`step` is due at once (the SCADA reported the contract over)."""
        self.on_due_moved: Callable[[float], None] | None = None
        """Called with the seconds until :meth:`step` is next due, when an answer of the
        SCADA has made that later than :meth:`step` last said."""

        self._my_digits: tuple[int | None, int | None] = (None, None)  # (last, one before)
        self._scada_digit: int | None = None
        self._last_sent: datetime | None = None  # last offer or heartbeat
        self._awaiting_since: datetime | None = None
        self._open: dict[str, DispatchContract] = {}  # offered, not ended or terminated

    def step(self, now: datetime) -> float:
        """Keep the contract going; returns the seconds until this is next due."""
        c = self.contract
        if c is not None and now >= c.end:
            if self.accepted:
                self._heartbeat(c, ContractStatus.ENDED, now)
            self._drop(closed=True)
            c = None
        waited = self._awaiting_since
        if (
            c is not None
            and waited is not None
            and seconds_between(waited, now) >= self.timing.reply_timeout_s
        ):
            log.warning(
                "the SCADA did not answer about contract %s within %g s; offering afresh",
                c.contract_id,
                self.timing.reply_timeout_s,
            )
            self.contracts_lost += 1
            self._drop()
            c = None
        if c is None:
            if not self.offering:
                return self.timing.heartbeat_s
            c = self._offer(now)
            if c is None:
                return RETRY_S
        elif self.accepted and (
            self._last_sent is None
            or seconds_between(self._last_sent, now) >= self.timing.heartbeat_s
        ):
            self._heartbeat(c, ContractStatus.ACTIVE, now)
        return self._due_s(c, now)

    def _due_s(self, c: DispatchContract, now: datetime) -> float:
        due = [c.end]
        if self._awaiting_since is not None:
            due.append(self._awaiting_since + timedelta(seconds=self.timing.reply_timeout_s))
        if self.accepted and self._last_sent is not None:
            due.append(self._last_sent + timedelta(seconds=self.timing.heartbeat_s))
        return max(0.0, seconds_between(now, min(due)))

    def terminate(self, now: datetime) -> None:
        """End the current contract with a *terminated* heartbeat, and stop offering."""
        self.offering = False
        c = self.contract
        if c is not None:
            log.warning("ATN terminating contract %s", c.contract_id)
            self._heartbeat(c, ContractStatus.TERMINATED, now)
            self._drop(closed=True)

    def heartbeat_in(self, hb: ContractHeartbeat, now: datetime) -> None:
        """Take the SCADA's answer: it holds the contract (accepted, or still offered) or not."""
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
            self._drop()
            self.contract = c = known
        was_awaiting, self._awaiting_since = self._awaiting_since is not None, None
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
                self._on_accepted()
        elif status is not ContractStatus.OFFERED:
            log.warning("the SCADA reports contract %s %s", c.contract_id, status.value)
            self.contracts_lost += 1
            self._drop(closed=True)
            self.wake.set()
            return
        if was_awaiting and self.on_due_moved is not None:
            # The answer came: the reply deadline :meth:`step` last slept for is gone.
            self.on_due_moved(self._due_s(c, now))

    def _offer(self, now: datetime) -> DispatchContract | None:
        if not self._link_up():
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

    def _drop(self, *, closed: bool = False) -> None:
        """Forget the current contract; ``closed``: it ended or was terminated for good."""
        if closed and self.contract is not None:
            self._open.pop(self.contract.contract_id, None)
        self.contract = None
        self.accepted = False
        self._awaiting_since = None
        self._scada_digit = None
        self._on_dropped()
