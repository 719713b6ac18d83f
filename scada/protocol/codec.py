"""Encode any message to compact JSON bytes; decode bytes back to the right message.

Contracts:

* :func:`encode` gives compact UTF-8 JSON without a trailing newline (framing is the
  transport's business: the local API appends ``\\n``, MQTT needs nothing).
* :func:`decode` and :func:`decode_as` validate strictly (no ``"1"`` for a number, no ``1``
  for ``true``, times as ISO-8601 strings) and raise :class:`ProtocolError` and nothing else,
  whatever the input: invalid UTF-8 or JSON, a non-object, a missing or unknown ``type``, a
  wrong ``version``, unknown fields, more than :data:`MAX_FRAME_BYTES` (refused before
  parsing), nesting too deep, or anything unforeseen.
"""

from __future__ import annotations

import functools
from typing import Annotated, Final, TypeVar, get_args

from pydantic import Field, TypeAdapter, ValidationError
from pydantic_core import PydanticSerializationError

from scada.protocol.api_frames import EventFrame, Hello, Reply
from scada.protocol.api_requests import (
    AuditLog,
    GetSnapshot,
    KeepAliveHold,
    ListHouses,
    RecentEvents,
    ReleaseHold,
    SetMode,
    SetRelay,
    Subscribe,
    SwitchHouse,
    TakeHold,
)
from scada.protocol.base import WireMessage
from scada.protocol.commands import ActuatorCommand, CommandResult
from scada.protocol.control import (
    ContractHeartbeat,
    DispatchContract,
    HoldEnded,
    HoldState,
    ModeChanged,
)
from scada.protocol.errors import ProtocolError, from_validation_error
from scada.protocol.events import AuditEntry, LogLine, ProblemEvent
from scada.protocol.readings import AggregateReport, PowerReading, Reading, Status
from scada.protocol.snapshot import (
    ActuatorSnapshot,
    DeviceHealth,
    LinkStatus,
    Snapshot,
    StoreStats,
)
from scada.protocol.uplink import Ack, OnlineStatus, SnapshotRequest

MAX_FRAME_BYTES: Final = 1 << 20
"""Largest frame :func:`decode` looks at (1 MiB); a 40-channel snapshot is about 15 KiB."""

M = TypeVar("M", bound=WireMessage)

Message = Annotated[
    Reading
    | PowerReading
    | Status
    | AggregateReport
    | Snapshot
    | ActuatorSnapshot
    | DeviceHealth
    | LinkStatus
    | StoreStats
    | ProblemEvent
    | AuditEntry
    | LogLine
    | ActuatorCommand
    | CommandResult
    | ModeChanged
    | DispatchContract
    | ContractHeartbeat
    | HoldState
    | HoldEnded
    | Ack
    | SnapshotRequest
    | OnlineStatus
    | Hello
    | GetSnapshot
    | SetRelay
    | TakeHold
    | KeepAliveHold
    | ReleaseHold
    | SetMode
    | ListHouses
    | SwitchHouse
    | RecentEvents
    | AuditLog
    | Subscribe
    | Reply
    | EventFrame,
    Field(discriminator="type"),
]
"""Every top-level message, discriminated on ``type``."""

_ADAPTER: Final[TypeAdapter[Message]] = TypeAdapter(Message)

MESSAGE_TYPES: Final[tuple[type[WireMessage], ...]] = get_args(get_args(Message)[0])
"""Every top-level message class, in :data:`Message` order."""

MESSAGE_CLASSES: Final[dict[str, type[WireMessage]]] = {
    cls.model_fields["type"].default: cls for cls in MESSAGE_TYPES
}
"""Message class by its ``type`` string (``"status"`` -> :class:`Status`)."""


@functools.cache
def _type_name(cls: type[WireMessage]) -> str:
    default = cls.model_fields["type"].default
    return default if isinstance(default, str) else cls.__name__


def _frame_bytes(data: bytes | str, where: str) -> bytes:
    raw: object = data  # typed loosely on purpose: callers' bugs must still end in ProtocolError
    if isinstance(raw, str):
        if len(raw) > MAX_FRAME_BYTES:  # each character is at least one UTF-8 byte
            raise ProtocolError(f"frame exceeds {MAX_FRAME_BYTES} bytes", where=where)
        try:
            raw = raw.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise ProtocolError(
                f"text is not valid Unicode at character {exc.start}", where=where
            ) from None
    elif isinstance(raw, bytearray | memoryview):
        raw = bytes(raw)
    if not isinstance(raw, bytes):
        raise ProtocolError(f"expected bytes or str, got {type(raw).__name__}", where=where)
    if len(raw) > MAX_FRAME_BYTES:
        raise ProtocolError(
            f"frame of {len(raw)} bytes exceeds {MAX_FRAME_BYTES} bytes", where=where
        )
    return raw


def _explain(
    exc: ValidationError, where: str, raw: bytes, expected_type: str | None
) -> ProtocolError:
    try:
        return from_validation_error(
            exc, where=where, data=raw, tagged=expected_type is None, expected_type=expected_type
        )
    except Exception:  # noqa: BLE001 -- a bug in explaining must not leak a second error type
        return ProtocolError(str(exc).splitlines()[0], where=where, message_type=expected_type)


def encode(msg: WireMessage) -> bytes:
    """Compact UTF-8 JSON of ``msg``; raises :class:`ProtocolError` if it cannot be serialised
    (only possible for a ``Reply.result`` holding non-JSON objects)."""
    try:
        return msg.__pydantic_serializer__.to_json(msg)
    except PydanticSerializationError as exc:
        what = f"cannot encode: {exc}"
        raise ProtocolError(what, where="encode", message_type=msg.type) from None


def decode(data: bytes | str, *, where: str = "") -> Message:
    """Decode one frame into whichever message its ``type`` names.

    ``where`` names the source for the error message (``socket frame 17``).
    Raises :class:`ProtocolError`, and only that.
    """
    try:
        raw = _frame_bytes(data, where)
        try:
            return _ADAPTER.validate_json(raw, strict=True)
        except ValidationError as exc:
            raise _explain(exc, where, raw, None) from None
    except ProtocolError:
        raise
    except RecursionError:
        raise ProtocolError("nested too deeply", where=where) from None
    except Exception as exc:  # the contract: nothing but ProtocolError escapes
        raise ProtocolError(f"undecodable ({type(exc).__name__}: {exc})", where=where) from exc


def decode_as(data: bytes | str, cls: type[M], *, where: str = "") -> M:
    """Decode one frame that must be a ``cls`` message (same errors as :func:`decode`; a frame
    of another type is refused naming both types)."""
    expected_type = _type_name(cls)
    try:
        raw = _frame_bytes(data, where)
        try:
            return cls.model_validate_json(raw, strict=True)
        except ValidationError as exc:
            raise _explain(exc, where, raw, expected_type) from None
    except ProtocolError:
        raise
    except RecursionError:
        raise ProtocolError("nested too deeply", where=where, message_type=expected_type) from None
    except Exception as exc:  # the contract: nothing but ProtocolError escapes
        raise ProtocolError(
            f"undecodable ({type(exc).__name__}: {exc})", where=where, message_type=expected_type
        ) from exc
