"""Local API requests (console -> runtime), one model per method.

Every request carries an integer ``id`` chosen by the console; the runtime answers each with
exactly one :class:`~scada.protocol.api_frames.Reply` carrying the same ``id``. Requests that
change anything name their ``operator``, which ends up in the audit log.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from scada.protocol.base import Alias, Operator, Text, WireMessage
from scada.protocol.enums import EventKind, Mode, RelayState

RequestId = Annotated[int, Field(ge=0, le=2**53)]
Limit = Annotated[int, Field(ge=1, le=1000)]

MAX_HOLD_MINUTES = 1440.0
"""Upper bound of a hold request (24 h); the runtime may apply a lower cap of its own."""


class ApiRequest(WireMessage):
    """Base of every request: ``isinstance(msg, ApiRequest)`` tells requests apart."""

    id: RequestId


class GetSnapshot(ApiRequest):
    """Reply ``result``: the current :class:`~scada.protocol.snapshot.Snapshot` as JSON."""

    type: Literal["req.snapshot"] = "req.snapshot"
    version: Literal[1] = 1


class SetRelay(ApiRequest):
    """Move actuator ``node`` to ``state``; allowed only under ``operator``'s admin hold."""

    type: Literal["req.set_relay"] = "req.set_relay"
    version: Literal[1] = 1
    node: Alias
    state: RelayState
    operator: Operator


class TakeHold(ApiRequest):
    """Start (or extend) an admin hold of ``minutes`` (> 0, at most 24 h) for ``operator``."""

    type: Literal["req.take_hold"] = "req.take_hold"
    version: Literal[1] = 1
    operator: Operator
    minutes: Annotated[float, Field(gt=0, le=MAX_HOLD_MINUTES)]


class KeepAliveHold(ApiRequest):
    """The console of ``operator`` is still there; restart the hold's keep-alive timer."""

    type: Literal["req.keep_alive_hold"] = "req.keep_alive_hold"
    version: Literal[1] = 1
    operator: Operator


class ReleaseHold(ApiRequest):
    """End ``operator``'s admin hold now; the previous mode resumes."""

    type: Literal["req.release_hold"] = "req.release_hold"
    version: Literal[1] = 1
    operator: Operator


class SetMode(ApiRequest):
    """Switch to ``mode`` (``remote`` needs a live contract)."""

    type: Literal["req.set_mode"] = "req.set_mode"
    version: Literal[1] = 1
    mode: Mode
    operator: Operator


class ListHouses(ApiRequest):
    """Reply ``result``: :class:`~scada.protocol.api_frames.HouseList` as JSON."""

    type: Literal["req.list_houses"] = "req.list_houses"
    version: Literal[1] = 1


class SwitchHouse(ApiRequest):
    """Run house ``house_alias`` instead (``simulated`` picks its simulated twin).

    Switching to a real house needs ``confirm`` equal to the house alias, so a stray key
    press cannot start driving real hardware.
    """

    type: Literal["req.switch_house"] = "req.switch_house"
    version: Literal[1] = 1
    house_alias: Alias
    simulated: bool
    operator: Operator
    confirm: Text | None = None


class RecentEvents(ApiRequest):
    """Reply ``result``: :class:`~scada.protocol.api_frames.EventList`, newest last."""

    type: Literal["req.recent_events"] = "req.recent_events"
    version: Literal[1] = 1
    limit: Limit = 100


class AuditLog(ApiRequest):
    """Reply ``result``: :class:`~scada.protocol.api_frames.AuditList`, newest last."""

    type: Literal["req.audit_log"] = "req.audit_log"
    version: Literal[1] = 1
    limit: Limit = 100


class Subscribe(ApiRequest):
    """Replace this session's subscriptions with ``topics`` (empty: none)."""

    type: Literal["req.subscribe"] = "req.subscribe"
    version: Literal[1] = 1
    topics: tuple[EventKind, ...]


REQUEST_TYPES: tuple[type[ApiRequest], ...] = (
    GetSnapshot,
    SetRelay,
    TakeHold,
    KeepAliveHold,
    ReleaseHold,
    SetMode,
    ListHouses,
    SwitchHouse,
    RecentEvents,
    AuditLog,
    Subscribe,
)

Request = Annotated[
    GetSnapshot
    | SetRelay
    | TakeHold
    | KeepAliveHold
    | ReleaseHold
    | SetMode
    | ListHouses
    | SwitchHouse
    | RecentEvents
    | AuditLog
    | Subscribe,
    Field(discriminator="type"),
]
"""Any request, discriminated on ``type``."""
