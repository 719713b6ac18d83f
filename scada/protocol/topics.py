"""MQTT topics of the uplink: ``gw/<src>/to/<dst>/<message-type>``.

Aliases keep their dots, dashes and underscores exactly (MQTT allows them); the original's
global ``.`` <-> ``-`` replacement corrupted any name holding a ``-`` (defect 20). Each level
must be a wire name (:data:`~scada.protocol.base.NAME_PATTERN`), which excludes ``/``, the
wildcards ``+`` and ``#``, spaces and empty levels. The message type is the message's
``type`` field (``status``, ``contract.heartbeat``).
"""

from __future__ import annotations

import re
from typing import Final, NamedTuple

from scada.protocol.base import NAME_PATTERN
from scada.protocol.errors import ProtocolError

PREFIX: Final = "gw"
_NAME = re.compile(NAME_PATTERN)
_MAX_ALIAS: Final = 128
_MAX_TYPE: Final = 64


class TopicParts(NamedTuple):
    """A parsed uplink topic."""

    src: str
    dst: str
    message_type: str


def _describe(topic: str) -> str:
    shown = topic if topic.isprintable() and len(topic) <= 200 else repr(topic[:200])
    return f"topic {shown}"


def _check_level(value: object, what: str, limit: int, where: str) -> str:
    if not isinstance(value, str):
        raise ProtocolError(f"{what} must be a string, not {type(value).__name__}", where=where)
    if len(value) > limit or not _NAME.fullmatch(value):
        raise ProtocolError(
            f"{what} {value[:limit]!r} is not a wire name "
            "(lowercase letters and digits joined by '.', '-' or '_')",
            where=where,
        )
    return value


def topic(src: str, dst: str, message_type: str) -> str:
    """``gw/<src>/to/<dst>/<message_type>``; raises :class:`ProtocolError` on a bad level."""
    where = "topic for " + "/".join(str(p) for p in (src, dst, message_type))[:200]
    _check_level(src, "source alias", _MAX_ALIAS, where)
    _check_level(dst, "destination alias", _MAX_ALIAS, where)
    _check_level(message_type, "message type", _MAX_TYPE, where)
    return f"{PREFIX}/{src}/to/{dst}/{message_type}"


def parse_topic(topic: str) -> TopicParts:
    """Split an uplink topic into (src, dst, message_type).

    Raises :class:`ProtocolError` for anything but exactly ``gw/<src>/to/<dst>/<type>`` with
    valid names (so wildcard filters, empty levels and foreign topics are refused).
    """
    raw: object = topic
    if not isinstance(raw, str):
        raise ProtocolError(f"a topic must be a string, not {type(raw).__name__}")
    where = _describe(raw)
    levels = raw.split("/")
    if len(levels) != 5 or levels[0] != PREFIX or levels[2] != "to":
        raise ProtocolError(f"expected {PREFIX}/<src>/to/<dst>/<message-type>", where=where)
    src = _check_level(levels[1], "source alias", _MAX_ALIAS, where)
    dst = _check_level(levels[3], "destination alias", _MAX_ALIAS, where)
    message_type = _check_level(levels[4], "message type", _MAX_TYPE, where)
    return TopicParts(src, dst, message_type)


def topic_filter(*, dst: str, src: str | None = None) -> str:
    """Subscription filter for everything sent to ``dst`` (from ``src``, or from anyone):
    ``gw/+/to/<dst>/#``."""
    where = "topic filter"
    _check_level(dst, "destination alias", _MAX_ALIAS, where)
    if src is not None:
        _check_level(src, "source alias", _MAX_ALIAS, where)
    return f"{PREFIX}/{src or '+'}/to/{dst}/#"
