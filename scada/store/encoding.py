"""How a message sits in the store: its kind and tier, its time span, its compressed payload.

Contracts:

* Times are integer microseconds since the Unix epoch (exact, and sortable by SQLite).
* A payload is the codec's JSON (:func:`scada.protocol.encode`) compressed with zlib. zlib's
  Adler-32 check means a payload damaged on disk is caught when it is read back, not sent.
* A row is *verified* against the protocol of the code that reads it: :func:`protocol_fingerprint`
  names the message models (their JSON schema, the schema version and the package version).
  A row written by this code was encoded from a validated model; a row written by another
  version must be decoded once before it is sent (an upgrade may have made it undecodable).
"""

from __future__ import annotations

import functools
import hashlib
import json
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from importlib import metadata
from typing import Final, Literal

from scada.protocol.base import SCHEMA_VERSION
from scada.protocol.codec import decode
from scada.protocol.errors import ProtocolError
from scada.protocol.events import ProblemEvent
from scada.protocol.readings import AggregateReport, Status

OutboxMessage = Status | AggregateReport | ProblemEvent
"""What the outbox carries: the messages the ATN acknowledges."""

Kind = Literal["status", "aggregate", "problem"]

CODEC_ZLIB_JSON: Final = 1
"""The ``codec`` column: 1 = zlib-compressed codec JSON (the only codec so far)."""

ZLIB_LEVEL: Final = 1  # a 35 KB status in ~0.35 ms to ~13 KB; level 6 is 4x slower for 15 % less

EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_US: Final = timedelta(microseconds=1)


def to_us(when: datetime) -> int:
    """``when`` (aware) as whole microseconds since the epoch, exactly."""
    if when.tzinfo is None:
        raise ValueError("store times must be timezone-aware")
    return (when - EPOCH) // _US


def from_us(us: int) -> datetime:
    """The aware UTC instant ``us`` microseconds after the epoch."""
    return EPOCH + timedelta(microseconds=us)


@dataclass(frozen=True, slots=True)
class Placement:
    """Where a message goes in the outbox: its kind, tier and the span of time it covers.

    Tier 1 holds whole messages (statuses and problem events), tier 2 aggregates shorter than
    ``tier3_period_s`` (5-minute ones), tier 3 the longer (hourly) ones.
    """

    kind: Kind
    tier: int
    start_us: int
    end_us: int


def place(msg: OutboxMessage, tier3_period_s: int) -> Placement:
    """The :class:`Placement` of ``msg``."""
    if isinstance(msg, Status):
        start = to_us(msg.slot_start)
        return Placement("status", 1, start, start + msg.slot_duration_s * 1_000_000)
    if isinstance(msg, AggregateReport):
        start = to_us(msg.period_start)
        tier = 3 if msg.period_s >= tier3_period_s else 2
        return Placement("aggregate", tier, start, start + msg.period_s * 1_000_000)
    at = to_us(msg.at)
    return Placement("problem", 1, at, at)


def compress(encoded: bytes) -> bytes:
    return zlib.compress(encoded, ZLIB_LEVEL)


def decompress(payload: bytes) -> bytes:
    """The JSON inside ``payload``; raises ``zlib.error`` if it is damaged."""
    return zlib.decompress(payload)


def pack_digest(digest: str) -> bytes:
    """A digest (the store's aggregation summary, JSON) as stored: compressed."""
    return zlib.compress(digest.encode("utf-8"), ZLIB_LEVEL)


def unpack_digest(blob: bytes) -> str:
    """The digest in ``blob``; raises ``ValueError`` if it is damaged."""
    try:
        return zlib.decompress(blob).decode("utf-8")
    except (zlib.error, UnicodeDecodeError) as exc:
        raise ValueError(f"damaged digest ({exc})") from exc


@functools.cache
def protocol_fingerprint() -> str:
    """A short hash naming the outbox message models of this code (computed once, ~15 ms)."""
    try:
        package = metadata.version("gw-spaceheat-scada")
    except metadata.PackageNotFoundError:  # running from a bare source tree
        package = "source"
    schemas = [cls.model_json_schema() for cls in (Status, AggregateReport, ProblemEvent)]
    text = json.dumps([SCHEMA_VERSION, package, schemas], sort_keys=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def readable_payload(
    mid: str, kind: str, codec: int, blob: bytes, verified: bool
) -> tuple[bytes, str] | tuple[None, str]:
    """The JSON in a stored row, or ``None`` and why the row is poison. ``verified``: the row
    was checked against this release's protocol already, so it is not decoded again."""
    if codec != CODEC_ZLIB_JSON:
        return None, f"unknown codec {codec}"
    try:
        payload = decompress(blob)
    except zlib.error as exc:
        return None, f"damaged payload ({exc})"
    if verified:
        return payload, ""
    try:
        msg = decode(payload, where=f"stored {kind} {mid}")
    except ProtocolError as exc:
        return None, f"cannot be decoded by this release: {exc}"
    if msg.type != kind or getattr(msg, "id", None) != mid:
        return None, f"payload is a {msg.type} message, not the {kind} {mid} it is filed as"
    return payload, ""
