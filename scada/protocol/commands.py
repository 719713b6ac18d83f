"""Actuation: a command to move one actuator, and what became of it.

Every command names its ``source``; an actuator obeys only its current boss, and the
:class:`CommandResult` that answers every command (refusals included) carries the reason
back to whoever asked (defect 30: commands used to vanish without an answer).
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import model_validator

from scada.protocol.base import Alias, Label, MessageId, Operator, Text, UtcTime, WireMessage
from scada.protocol.enums import CommandOutcome, CommandSource, RelayState


class ActuatorCommand(WireMessage):
    """Put actuator ``target`` (a node alias) in ``state``.

    ``expires_at`` (after ``issued_at``) bounds how late the command may still be obeyed;
    uplink commands always carry it (never retained, never replayed stale). Admin commands
    name their ``operator``.
    """

    type: Literal["command"] = "command"
    version: Literal[1] = 1
    id: MessageId
    source: CommandSource
    operator: Operator | None = None
    target: Alias
    state: RelayState
    issued_at: UtcTime
    expires_at: UtcTime | None = None

    @model_validator(mode="after")
    def _check(self) -> ActuatorCommand:
        if self.expires_at is not None and self.expires_at <= self.issued_at:
            raise ValueError("expires_at must be after issued_at")
        if self.source is CommandSource.ADMIN and self.operator is None:
            raise ValueError("an admin command must name its operator")
        return self

    def expired(self, now: datetime) -> bool:
        """True once ``now`` (aware) has reached ``expires_at``; never for commands without one."""
        return self.expires_at is not None and now >= self.expires_at


class CommandResult(WireMessage):
    """The answer to :class:`ActuatorCommand` ``command_id``.

    ``refused`` and ``failed`` always carry a ``reason``. ``interlock`` names the safety
    interlock (e.g. ``freeze-protection``) that overrode the command, if one did.
    """

    type: Literal["command.result"] = "command.result"
    version: Literal[1] = 1
    command_id: MessageId
    target: Alias
    outcome: CommandOutcome
    reason: Text | None = None
    at: UtcTime
    interlock: Label | None = None

    @model_validator(mode="after")
    def _check(self) -> CommandResult:
        if self.outcome in (CommandOutcome.REFUSED, CommandOutcome.FAILED) and not self.reason:
            raise ValueError(f"a {self.outcome} result must give a reason")
        return self
