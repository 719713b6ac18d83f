"""Local API frames other than requests: hello, replies, pushed events, reply payloads.

The conversation over the Unix socket (newline-delimited JSON, one message per line):

1. the runtime sends :class:`Hello` first; a console whose ``PROTOCOL_VERSION`` differs
   from ``Hello.protocol_version`` should say so and disconnect;
2. the console sends requests (:mod:`scada.protocol.api_requests`), each answered by one
   :class:`Reply` with the same ``id`` (``id`` is ``None`` only when the frame was too broken
   to find one);
3. the runtime pushes :class:`EventFrame` messages for the subscribed :class:`EventKind`\\ s.
"""

from __future__ import annotations

import math
from typing import Annotated, Any, Final, Literal

from pydantic import Field, field_validator, model_validator

from scada.protocol.api_requests import RequestId
from scada.protocol.base import (
    Alias,
    Label,
    LongText,
    Name,
    Text,
    UtcTime,
    WireMessage,
    WirePart,
)
from scada.protocol.commands import ActuatorCommand, CommandResult
from scada.protocol.control import (
    ContractHeartbeat,
    DispatchContract,
    HoldEnded,
    HoldState,
    ModeChanged,
)
from scada.protocol.enums import EventKind
from scada.protocol.events import AuditEntry, LogLine, ProblemEvent
from scada.protocol.readings import PowerReading, Reading
from scada.protocol.snapshot import (
    ActuatorSnapshot,
    DeviceHealth,
    LinkStatus,
    Snapshot,
    StoreStats,
)


class Hello(WireMessage):
    """First frame from the runtime on every connection."""

    type: Literal["hello"] = "hello"
    version: Literal[1] = 1
    protocol_version: Annotated[int, Field(ge=1)]
    server_version: Label
    house_alias: Alias
    simulated: bool
    capabilities: tuple[Name, ...] = ()


class ApiError(WirePart):
    """Why a request failed: a machine-readable ``code`` (see :class:`ErrorCode`) and a
    sentence for the operator."""

    code: Name
    message: LongText


class Reply(WireMessage):
    """The answer to request ``id``: ``ok`` with an optional ``result`` object, or not ``ok``
    with an ``error`` (and no result)."""

    type: Literal["reply"] = "reply"
    version: Literal[1] = 1
    id: RequestId | None
    ok: bool
    result: dict[str, Any] | None = None
    error: ApiError | None = None

    @model_validator(mode="after")
    def _check(self) -> Reply:
        if self.ok and self.error is not None:
            raise ValueError("an ok reply cannot carry an error")
        if not self.ok and (self.error is None or self.result is not None):
            raise ValueError("a failed reply carries an error and no result")
        return self

    @field_validator("result")
    @classmethod
    def _finite(cls, result: dict[str, Any] | None) -> dict[str, Any] | None:
        # Any-typed content escapes allow_inf_nan; JSON has no NaN or infinity to carry it.
        stack: list[object] = [result]
        while stack:
            value = stack.pop()
            if isinstance(value, float) and not math.isfinite(value):
                raise ValueError("result holds a non-finite number")
            if isinstance(value, dict):
                stack.extend(value.values())
            elif isinstance(value, list | tuple):
                stack.extend(value)
        return result


EventPayload = Annotated[
    Reading
    | PowerReading
    | Snapshot
    | ActuatorSnapshot
    | ActuatorCommand
    | CommandResult
    | DeviceHealth
    | ModeChanged
    | DispatchContract
    | ContractHeartbeat
    | LinkStatus
    | StoreStats
    | ProblemEvent
    | AuditEntry
    | LogLine
    | HoldState
    | HoldEnded,
    Field(discriminator="type"),
]
"""Any message an :class:`EventFrame` may carry."""

EVENT_PAYLOADS: Final[dict[EventKind, tuple[type[WireMessage], ...]]] = {
    EventKind.READING: (Reading, PowerReading),
    EventKind.SNAPSHOT: (Snapshot,),
    EventKind.ACTUATOR: (ActuatorSnapshot, ActuatorCommand, CommandResult),
    EventKind.DEVICE: (DeviceHealth,),
    EventKind.MODE: (ModeChanged,),
    EventKind.CONTRACT: (DispatchContract, ContractHeartbeat),
    EventKind.LINK: (LinkStatus,),
    EventKind.STORE: (StoreStats,),
    EventKind.PROBLEM: (ProblemEvent,),
    EventKind.AUDIT: (AuditEntry,),
    EventKind.LOG: (LogLine,),
    EventKind.HOLD: (HoldState, HoldEnded),
}
"""Which payload types each event stream carries; :class:`EventFrame` enforces it."""


class EventFrame(WireMessage):
    """A pushed event of stream ``event``, sent at ``at``."""

    type: Literal["event"] = "event"
    version: Literal[1] = 1
    event: EventKind
    payload: EventPayload
    at: UtcTime

    @model_validator(mode="after")
    def _check(self) -> EventFrame:
        if not isinstance(self.payload, EVENT_PAYLOADS[self.event]):
            # ValueError, not TypeError: pydantic turns only ValueError into a validation error.
            what = f"a {self.event!s} event cannot carry a {self.payload.type} message"
            raise ValueError(what)  # noqa: TRY004
        return self


class HouseInfo(WirePart):
    """A house the runtime can run: its layout file and whether this entry is simulated."""

    alias: Alias
    display_name: Label
    simulated: bool
    layout_path: Text


class HouseList(WirePart):
    """``result`` of ``req.list_houses``; ``current`` is the alias running now."""

    houses: tuple[HouseInfo, ...]
    current: Alias | None = None


class EventList(WirePart):
    """``result`` of ``req.recent_events``, oldest first."""

    events: tuple[EventFrame, ...]


class AuditList(WirePart):
    """``result`` of ``req.audit_log``, oldest first."""

    entries: tuple[AuditEntry, ...]
