"""The one error the protocol raises, and its translation from pydantic's errors.

:class:`ProtocolError` says *what* is wrong, *where* the bytes came from (given by the caller:
``socket frame 17``, ``topic gw/x/to/y/status``), which *message type* it claimed to be and the
JSON *path* of the offending value (``channels[2].values``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from scada.protocol.base import SCHEMA_VERSION

_ROOT_NOT_OBJECT = frozenset({"dict_type", "model_type", "model_attributes_type"})


class ProtocolError(ValueError):
    """A message could not be decoded (or encoded).

    Attributes:
        what: the problem, for a person (``Input should be a valid number``).
        where: the caller's context (``socket frame 17``), possibly empty.
        path: JSON path of the offending value (``channels[2].values``), empty for the whole
            frame.
        message_type: the ``type`` the frame claimed, when it got that far.
        frame_id: the integer ``id`` of a broken local API request, when one could be read,
            so the server can still answer it; else ``None``.

    ``str()`` joins the non-empty parts: ``socket frame 17: status: channels[2].values: ...``.
    """

    def __init__(
        self,
        what: str,
        *,
        where: str = "",
        path: str = "",
        message_type: str | None = None,
        frame_id: int | None = None,
    ) -> None:
        super().__init__(what)
        self.what = what
        self.where = where
        self.path = path
        self.message_type = message_type
        self.frame_id = frame_id

    def __str__(self) -> str:
        parts = (self.where, self.message_type or "", self.path, self.what)
        return ": ".join(p for p in parts if p)

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (self.what, self.where, self.path, self.message_type, self.frame_id))


def _rebuild(
    what: str, where: str, path: str, message_type: str | None, frame_id: int | None
) -> ProtocolError:
    return ProtocolError(what, where=where, path=path, message_type=message_type, frame_id=frame_id)


def render_path(loc: Sequence[str | int]) -> str:
    """``("channels", 2, "values")`` -> ``channels[2].values``."""
    out: list[str] = []
    for part in loc:
        if isinstance(part, int):
            out.append(f"[{part}]")
        else:
            out.append(f".{part}" if out else part)
    return "".join(out)


def _short(value: object, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _json_kind(value: object) -> str:
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if value is None:
        return "null"
    return type(value).__name__


def _request_id(data: bytes) -> int | None:
    """Best effort: the integer ``id`` of a frame that parsed as JSON but failed validation."""
    try:
        obj = json.loads(data)
    except (ValueError, RecursionError):
        return None
    frame_id = obj.get("id") if isinstance(obj, dict) else None
    if isinstance(frame_id, int) and not isinstance(frame_id, bool) and frame_id >= 0:
        return frame_id
    return None


def _is_version_error(err: ErrorDetails) -> bool:
    return err["type"] == "literal_error" and bool(err["loc"]) and err["loc"][-1] == "version"


def _is_type_error(err: ErrorDetails) -> bool:
    return err["type"] == "literal_error" and tuple(err["loc"]) == ("type",)


def _describe(err: ErrorDetails, data: bytes, expected_type: str | None) -> str:
    kind, loc, msg = err["type"], err["loc"], err["msg"]
    if kind == "json_invalid":
        try:
            data.decode("utf-8")
        except UnicodeDecodeError as exc:
            return f"invalid UTF-8 at byte {exc.start}"
        return "invalid JSON: " + msg.removeprefix("Invalid JSON: ")
    if kind in _ROOT_NOT_OBJECT and not loc:
        return f"a message must be a JSON object, not {_json_kind(err.get('input'))}"
    if kind == "union_tag_not_found":
        return "no 'type' field: cannot tell which message this is"
    if kind == "union_tag_invalid":
        return f"unknown message type {_short(err.get('ctx', {}).get('tag'))}"
    if _is_version_error(err):
        # each message has its own version (a status is at 2): name the one this type wants
        expected = err.get("ctx", {}).get("expected", SCHEMA_VERSION)
        return (
            f"unsupported version {_short(err.get('input'))}; this SCADA speaks version {expected}"
        )
    if _is_type_error(err) and expected_type is not None:
        return f"expected a {expected_type!r} message, got type {_short(err.get('input'))}"
    if kind == "extra_forbidden":
        return "unknown field"
    if kind == "missing":
        return "required field is missing"
    return msg.removeprefix("Value error, ")


def from_validation_error(
    exc: ValidationError,
    *,
    where: str,
    data: bytes,
    tagged: bool,
    expected_type: str | None = None,
) -> ProtocolError:
    """Turn pydantic's error list into one :class:`ProtocolError`.

    A message of the wrong ``type`` (for :func:`~scada.protocol.decode_as`) is reported as
    such; else a wrong ``version`` wins over every other problem (a newer schema breaks fields
    too, and the version is the real news); otherwise the first error is reported and the rest
    counted.
    ``tagged`` says the errors come from the discriminated union, whose ``loc`` starts with the
    message's tag.
    """
    errors = exc.errors(include_url=False)
    if not errors:
        return ProtocolError(str(exc), where=where)
    first = next(
        (e for e in errors if _is_type_error(e)),
        next((e for e in errors if _is_version_error(e)), errors[0]),
    )
    loc: tuple[str | int, ...] = tuple(first["loc"])
    message_type = expected_type
    if tagged and loc and isinstance(loc[0], str):
        message_type, loc = loc[0], loc[1:]
    what = _describe(first, data, expected_type)
    if len(errors) > 1 and not _is_version_error(first):
        more = len(errors) - 1
        what += f" (and {more} more problem{'s' if more > 1 else ''})"
    frame_id = None if first["type"] == "json_invalid" else _request_id(data)
    return ProtocolError(
        what, where=where, path=render_path(loc), message_type=message_type, frame_id=frame_id
    )
