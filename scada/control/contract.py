"""The DispatchContract between the SCADA and its ATN, as an explicit transition table.

``TRANSITIONS[(status, event)]`` is the next status; a pair that is not in the table is
refused with a reason (never raised). ``None`` stands for "no contract yet".

Events come from the ATN's messages (:class:`Offer`, :class:`Heartbeat`, :class:`End`, a
:class:`Terminate` from the ATN), from the SCADA's own decisions (:class:`Accept`, a
:class:`Terminate` by the SCADA) and from :func:`tick`, which turns the passing of time into
``DEADLINE`` (the end passed with no completion report: *expired*) and ``SILENCE`` (the ATN
has not been heard for ``heartbeat_timeout_s + contract_grace_s``: the SCADA terminates it, so
a contract never lingers as a zombie; 2025 had no deadline on silence at all).

A contract is **live** at ``now`` when it is active, ``start <= now < end`` and the ATN was
heard within ``heartbeat_timeout_s``. Liveness is a reading of the state, not a status: a
short silence makes the contract *silent* (not live) without changing its status, and the next
heartbeat makes it live again. The uplink is not the contract's business; :mod:`.modes` joins
the two.

Heartbeats carry the 2025 digit echo: the ATN sends its own digit and echoes the last digit it
saw from the SCADA. A heartbeat whose echo does not match what the SCADA last sent is still
accepted (it proves the ATN is alive, which is what liveness is about) but the step says a
SCADA heartbeat went missing and ``echo_misses`` counts it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum

from scada.control.outcome import Refusal, Step, check_now, hhmm, refuse, seconds
from scada.layout import ControlSettings
from scada.protocol import ContractStatus, Side


class ContractEvent(StrEnum):
    """What can happen to a contract."""

    OFFER = "offer"
    ACCEPT = "accept"
    HEARTBEAT = "heartbeat"
    END = "end"
    TERMINATE = "terminate"
    DEADLINE = "deadline"
    SILENCE = "silence"


_S = ContractStatus
_E = ContractEvent

TRANSITIONS: Mapping[tuple[ContractStatus | None, ContractEvent], ContractStatus] = {
    (None, _E.OFFER): _S.OFFERED,
    (_S.OFFERED, _E.OFFER): _S.OFFERED,  # a newer offer replaces a pending one
    (_S.ENDED, _E.OFFER): _S.OFFERED,
    (_S.EXPIRED, _E.OFFER): _S.OFFERED,
    (_S.TERMINATED, _E.OFFER): _S.OFFERED,
    (_S.OFFERED, _E.ACCEPT): _S.ACTIVE,
    (_S.OFFERED, _E.HEARTBEAT): _S.OFFERED,
    (_S.ACTIVE, _E.HEARTBEAT): _S.ACTIVE,
    (_S.ACTIVE, _E.END): _S.ENDED,
    # The ATN reports completion a little after the end (2025: end + 2 min); by then a tick
    # may have expired the contract. The report upgrades it to a normal end.
    (_S.EXPIRED, _E.END): _S.ENDED,
    (_S.OFFERED, _E.TERMINATE): _S.TERMINATED,  # withdrawn by the ATN or declined by the SCADA
    (_S.ACTIVE, _E.TERMINATE): _S.TERMINATED,
    (_S.OFFERED, _E.DEADLINE): _S.EXPIRED,  # never accepted before its end
    (_S.ACTIVE, _E.DEADLINE): _S.EXPIRED,
    (_S.ACTIVE, _E.SILENCE): _S.TERMINATED,
}
"""The whole contract state machine. Anything not listed is refused."""

_VERB = {
    _E.OFFER: "take a new offer",
    _E.ACCEPT: "be accepted",
    _E.HEARTBEAT: "take a heartbeat",
    _E.END: "end",
    _E.TERMINATE: "be terminated",
    _E.DEADLINE: "expire",
    _E.SILENCE: "be terminated for silence",
}


@dataclass(frozen=True, slots=True)
class Contract:
    """One DispatchContract as the SCADA tracks it. Times aware UTC, durations seconds.

    ``last_heard`` is the last time the ATN spoke about it (offer or heartbeat); ``cause`` says
    why it is in its status; ``my_digit`` is the digit of the SCADA's last heartbeat (recorded
    by :func:`sent`), ``atn_digit`` the ATN's last digit, to echo back.
    """

    contract_id: str
    start: datetime
    duration_s: float
    status: ContractStatus
    status_since: datetime
    last_heard: datetime
    cause: str
    atn_digit: int | None = None
    my_digit: int | None = None
    echo_misses: int = 0
    terminated_by: Side | None = None

    @property
    def end(self) -> datetime:
        """When the dispatch window closes."""
        return self.start + seconds(self.duration_s)

    def silent_s(self, now: datetime) -> float:
        """Seconds since the ATN was last heard about this contract."""
        return (check_now(now) - self.last_heard).total_seconds()

    def live(self, now: datetime, heartbeat_timeout_s: float) -> bool:
        """Active, inside its window, and the ATN heard within ``heartbeat_timeout_s``."""
        return (
            self.status is ContractStatus.ACTIVE
            and self.start <= now < self.end
            and self.silent_s(now) <= heartbeat_timeout_s
        )

    def describe(self) -> str:
        """``contract c1 (active until 15:00 UTC)``."""
        return f"contract {self.contract_id} ({self.status.value} until {hhmm(self.end)})"


# ------------------------------------------------------------------------ messages


@dataclass(frozen=True, slots=True)
class Offer:
    """The ATN offers contract ``contract_id`` for ``[start, start + duration_s)``."""

    contract_id: str
    start: datetime
    duration_s: float
    atn_digit: int | None = None


@dataclass(frozen=True, slots=True)
class Accept:
    """The SCADA accepts the pending offer ``contract_id``; it becomes active."""

    contract_id: str


@dataclass(frozen=True, slots=True)
class Heartbeat:
    """An ATN heartbeat: its own ``atn_digit`` and the echo of the SCADA's last digit."""

    contract_id: str
    atn_digit: int
    echo_digit: int | None


@dataclass(frozen=True, slots=True)
class End:
    """The ATN reports normal completion (at or after the contract's end)."""

    contract_id: str


@dataclass(frozen=True, slots=True)
class Terminate:
    """``by`` (ATN or SCADA) ends the contract early, because of ``cause``."""

    contract_id: str
    by: Side
    cause: str


ContractMessage = Offer | Accept | Heartbeat | End | Terminate


# ----------------------------------------------------------------------- functions


def handle(contract: Contract | None, msg: ContractMessage, now: datetime) -> Step[Contract | None]:
    """Apply one message to ``contract``; refused (state unchanged) if the table forbids it."""
    check_now(now)
    if isinstance(msg, Offer):
        return _offer(contract, msg, now)
    if contract is not None and msg.contract_id != contract.contract_id:
        return refuse(
            contract,
            f"{type(msg).__name__.lower()} for contract {msg.contract_id}, "
            f"but the contract is {contract.contract_id}",
        )
    if isinstance(msg, Accept):
        if contract is not None and contract.status is _S.OFFERED and now >= contract.end:
            return refuse(contract, f"offer {contract.contract_id} ended at {hhmm(contract.end)}")
        return _move(contract, _E.ACCEPT, now, cause="accepted by the SCADA")
    if isinstance(msg, Heartbeat):
        return _heartbeat(contract, msg, now)
    if isinstance(msg, End):
        if contract is not None and contract.status is _S.ACTIVE and now < contract.end:
            return refuse(
                contract,
                f"contract {contract.contract_id} runs until {hhmm(contract.end)}; "
                "terminate it to stop it early",
            )
        return _move(contract, _E.END, now, cause="completed (reported by the ATN)")
    return _move(
        contract,
        _E.TERMINATE,
        now,
        cause=f"terminated by {msg.by.value}: {msg.cause}",
        terminated_by=msg.by,
    )


def tick(
    contract: Contract | None, now: datetime, settings: ControlSettings
) -> Step[Contract | None]:
    """Turn the passing of time into ``DEADLINE`` or ``SILENCE``; otherwise nothing changes."""
    check_now(now)
    if contract is None:
        return Step(None)
    if contract.status in (_S.OFFERED, _S.ACTIVE) and now >= contract.end:
        why = "never accepted" if contract.status is _S.OFFERED else "no completion report"
        return _move(
            contract, _E.DEADLINE, now, cause=f"its end {hhmm(contract.end)} passed, {why}"
        )
    limit_s = settings.heartbeat_timeout_s + settings.contract_grace_s
    if contract.status is _S.ACTIVE and contract.silent_s(now) > limit_s:
        return _move(
            contract,
            _E.SILENCE,
            now,
            cause=(
                f"terminated by scada: ATN silent since {hhmm(contract.last_heard)} "
                f"(over heartbeat_timeout_s + contract_grace_s = {limit_s:g} s)"
            ),
            terminated_by=Side.SCADA,
        )
    return Step(contract)


def sent(contract: Contract | None, my_digit: int, now: datetime) -> Step[Contract | None]:
    """Record the digit of the heartbeat the SCADA just sent, to check the ATN's echo.

    Bookkeeping only (no status change): the runtime picks a random digit, as in 2025.
    """
    check_now(now)
    if contract is None:
        return refuse(None, "there is no contract to send a heartbeat for")
    if not 0 <= my_digit <= 9:
        return refuse(contract, f"a heartbeat digit is 0-9, not {my_digit}")
    return Step(replace(contract, my_digit=my_digit))


def _offer(contract: Contract | None, msg: Offer, now: datetime) -> Step[Contract | None]:
    if not msg.contract_id.strip():
        return refuse(contract, "an offer needs a contract id")
    if not (math.isfinite(msg.duration_s) and msg.duration_s > 0):
        return refuse(
            contract, f"offer {msg.contract_id}: duration {msg.duration_s} s is not positive"
        )
    if msg.start.tzinfo is None:
        return refuse(contract, f"offer {msg.contract_id}: start has no time zone")
    end = msg.start + seconds(msg.duration_s)
    if end <= now:
        return refuse(contract, f"offer {msg.contract_id} ended at {hhmm(end)}, before it arrived")
    if contract is not None and contract.status is _S.ACTIVE:
        return refuse(
            contract, f"{contract.describe()} must end or be terminated before a new offer"
        )
    nxt = _lookup(contract, _E.OFFER)
    if isinstance(nxt, Refusal):  # pragma: no cover - every non-active status takes an offer
        return Step(contract, nxt)
    fresh = Contract(
        contract_id=msg.contract_id,
        start=msg.start,
        duration_s=msg.duration_s,
        status=nxt,
        status_since=now,
        last_heard=now,
        cause="offered by the ATN",
        atn_digit=msg.atn_digit if msg.atn_digit is not None and 0 <= msg.atn_digit <= 9 else None,
    )
    note = f"contract {fresh.contract_id} offered for {hhmm(fresh.start)}-{hhmm(fresh.end)}"
    if contract is not None and contract.status is _S.OFFERED:
        note += f" (replaces offer {contract.contract_id})"
    return Step(fresh, None, (note,))


def _heartbeat(contract: Contract | None, msg: Heartbeat, now: datetime) -> Step[Contract | None]:
    if not 0 <= msg.atn_digit <= 9 or (msg.echo_digit is not None and not 0 <= msg.echo_digit <= 9):
        return refuse(contract, "heartbeat digits are 0-9")
    if contract is None:
        return refuse(None, _no_contract(_E.HEARTBEAT))
    nxt = _lookup(contract, _E.HEARTBEAT)
    if isinstance(nxt, Refusal):
        return Step(contract, nxt)
    missed = contract.my_digit is not None and msg.echo_digit != contract.my_digit
    new = replace(
        contract,
        last_heard=now,
        atn_digit=msg.atn_digit,
        echo_misses=contract.echo_misses + missed,
    )
    if not missed:
        return Step(new)
    note = (
        f"contract {contract.contract_id}: the ATN echoed {msg.echo_digit}, "
        f"the SCADA last sent {contract.my_digit}: a SCADA heartbeat went missing"
    )
    return Step(new, None, (note,))


def _lookup(contract: Contract | None, event: ContractEvent) -> ContractStatus | Refusal:
    """The next status for ``event`` from :data:`TRANSITIONS`, or why it is not allowed."""
    status = None if contract is None else contract.status
    nxt = TRANSITIONS.get((status, event))
    if nxt is not None:
        return nxt
    if contract is None:
        return Refusal(_no_contract(event))
    return Refusal(
        f"contract {contract.contract_id} is {contract.status}; it cannot {_VERB[event]}"
    )


def _move(
    contract: Contract | None,
    event: ContractEvent,
    now: datetime,
    *,
    cause: str,
    terminated_by: Side | None = None,
) -> Step[Contract | None]:
    """Apply a status-changing ``event`` (accept, end, terminate, deadline, silence)."""
    if contract is None:  # only OFFER has a row from "no contract"
        return refuse(None, _no_contract(event))
    nxt = _lookup(contract, event)
    if isinstance(nxt, Refusal):
        return Step(contract, nxt)
    new = replace(contract, status=nxt, status_since=now, cause=cause, terminated_by=terminated_by)
    return Step(new, None, (f"contract {new.contract_id} {contract.status} -> {nxt}: {cause}",))


def _no_contract(event: ContractEvent) -> str:
    return f"there is no contract to {event.value}"
