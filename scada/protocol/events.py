"""Problem reports, the audit trail and log lines.

Problem reports go up the uplink (persisted, acknowledged by ``id``) and to consoles; audit
entries record every operator action and every refusal; log lines are only for consoles.
"""

from __future__ import annotations

from typing import Literal

from scada.protocol.base import Label, LongText, MessageId, Text, UtcTime, WireMessage
from scada.protocol.enums import LogLevel, ProblemKind, Severity


class ProblemEvent(WireMessage):
    """Something went wrong with (or recovered on) ``subject``: a channel, device or actor."""

    type: Literal["problem"] = "problem"
    version: Literal[1] = 1
    id: MessageId
    at: UtcTime
    kind: ProblemKind
    subject: Label
    summary: Text
    details: LongText | None = None
    severity: Severity


class AuditEntry(WireMessage):
    """One action taken or refused: ``who`` (an operator name or a command source) did
    ``action`` (``set_relay``, ``take_hold``, ``set_mode`` ...) to ``target`` with ``outcome``
    (``accepted``, ``refused`` ...), and ``reason`` says why when it was not plain success."""

    type: Literal["audit"] = "audit"
    version: Literal[1] = 1
    id: MessageId
    at: UtcTime
    who: Label
    action: Label
    target: Label | None = None
    outcome: Label
    reason: Text | None = None


class LogLine(WireMessage):
    """A log record forwarded to subscribed consoles."""

    type: Literal["log"] = "log"
    version: Literal[1] = 1
    at: UtcTime
    level: LogLevel
    logger: Label
    message: LongText
