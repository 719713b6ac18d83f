"""Mode changes, the DispatchContract and its heartbeats, and the installer's admin hold.

Durations are whole seconds (``duration_s``); all instants are aware datetimes.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Literal

from pydantic import Field, model_validator

from scada.protocol.base import Alias, MessageId, Operator, Text, UtcTime, WireMessage
from scada.protocol.enums import ContractStatus, HoldEndReason, Mode, Side

Digit = Annotated[int, Field(ge=0, le=9)]


class ModeChanged(WireMessage):
    """The SCADA moved from ``previous`` to ``mode`` at ``at``, for ``reason``."""

    type: Literal["mode.changed"] = "mode.changed"
    version: Literal[1] = 1
    mode: Mode
    previous: Mode
    reason: Text
    at: UtcTime


class DispatchContract(WireMessage):
    """A DispatchContract: from ``start`` for ``duration_s`` seconds the ATN is boss.

    The state machine (offered -> active -> ended / expired / terminated) lives in
    ``scada.control``; this is only its wire form.
    """

    type: Literal["contract"] = "contract"
    version: Literal[1] = 1
    contract_id: MessageId
    atn_alias: Alias
    scada_alias: Alias
    start: UtcTime
    duration_s: Annotated[int, Field(gt=0, le=7 * 86_400)]
    status: ContractStatus

    @property
    def end(self) -> datetime:
        """The instant the contract's dispatch window closes."""
        return self.start + timedelta(seconds=self.duration_s)


class ContractHeartbeat(WireMessage):
    """A heartbeat of a contract, from either side.

    Each side sends a fresh random ``my_digit`` and echoes the other side's last digit in
    ``your_last_digit`` (``None`` before it has seen one), which proves it saw that heartbeat.
    """

    type: Literal["contract.heartbeat"] = "contract.heartbeat"
    version: Literal[1] = 1
    contract: DispatchContract
    sent_at: UtcTime
    my_digit: Digit
    your_last_digit: Digit | None = None
    from_side: Side


class HoldState(WireMessage):
    """An admin hold in force: ``operator`` is boss until ``expires_at``.

    The SCADA owns the countdown; a keep-alive from the console moves ``expires_at`` on
    (never back, never past the cap). When it ends, ``previous_mode`` resumes.
    """

    type: Literal["hold"] = "hold"
    version: Literal[1] = 1
    operator: Operator
    started_at: UtcTime
    expires_at: UtcTime
    previous_mode: Mode

    @model_validator(mode="after")
    def _check(self) -> HoldState:
        if self.expires_at <= self.started_at:
            raise ValueError("expires_at must be after started_at")
        return self

    def remaining_s(self, now: datetime) -> float:
        """Seconds left at ``now`` (aware), never negative."""
        return max(0.0, (self.expires_at - now).total_seconds())


class HoldEnded(WireMessage):
    """The admin hold of ``operator`` ended at ``ended_at``; ``resumed_mode`` is back in charge."""

    type: Literal["hold.ended"] = "hold.ended"
    version: Literal[1] = 1
    operator: Operator
    ended_at: UtcTime
    reason: HoldEndReason
    resumed_mode: Mode
