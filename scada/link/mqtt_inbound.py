"""Checking what arrives on the MQTT link's subscription before anyone acts on it.

Bad input never crashes anything. A topic of the wrong shape, a message for another alias, one
from someone other than the peer, an undecodable or unknown payload, a payload whose ``type``
disagrees with its topic, and a retained message other than presence (commands are never
retained; acting on a stale retained message is how other systems re-ran old commands) each
come back as a :class:`Refusal` of its kind, for :class:`~scada.link.mqtt.MqttLink` to count
and log once per kind. A command that arrives for another SCADA or from a sender other than
the peer carries an :class:`Answer`: the link refuses it back to its sender with the reason.

Expired commands pass: the controller answers them (see :mod:`scada.link.mqtt`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Final, NamedTuple

from scada.protocol import ProtocolError, decode
from scada.protocol.base import WireMessage
from scada.protocol.commands import ActuatorCommand, CommandResult
from scada.protocol.enums import CommandOutcome
from scada.protocol.topics import TopicParts, parse_topic, topic
from scada.protocol.uplink import OnlineStatus

TOPICS_KEPT: Final = 256
"""Incoming topics kept parsed (a peer uses one per message type; others are parsed each time)."""


class Answer(NamedTuple):
    """A command to refuse back to its sender, on ``topic``, saying ``reason``."""

    command: ActuatorCommand
    topic: str
    reason: str

    def result(self, at: datetime) -> CommandResult:
        """The refusal, stamped ``at``."""
        return CommandResult(
            command_id=self.command.id,
            target=self.command.target,
            outcome=CommandOutcome.REFUSED,
            reason=self.reason,
            at=at,
        )


class Refusal(NamedTuple):
    """An incoming message not to deliver.

    ``kind`` is the key it is counted under (:attr:`~scada.link.mqtt_types.LinkStats.malformed`),
    ``text`` says what was wrong, for the log; ``answer`` is set for a command sent to or by the
    wrong party.
    """

    kind: str
    text: str
    answer: Answer | None = None


class InboundCheck:
    """Lets through well-formed messages from ``peer`` to ``me``, none retained but presence."""

    def __init__(self, me: str, peer: str) -> None:
        self.me = me
        self.peer = peer
        self._topics: dict[str, TopicParts] = {}  # parsed, a few per message type

    def check(self, topic_: str | None, payload: bytes, *, retain: bool) -> WireMessage | Refusal:
        """The decoded message, or why it is refused. ``topic_`` is ``None`` when not UTF-8."""
        if topic_ is None:
            return Refusal("topic", "a message on a topic that is not UTF-8")
        parts = self._topics.get(topic_)
        if parts is None:
            try:
                parts = parse_topic(topic_)
            except ProtocolError as e:
                return Refusal("topic", str(e))
            if len(self._topics) < TOPICS_KEPT:
                self._topics[topic_] = parts
        where = f"topic {topic_}"
        try:
            msg = decode(payload, where=where)
        except ProtocolError as e:
            return Refusal(_decode_kind(e), str(e))
        if parts.dst != self.me:
            return Refusal(
                "foreign",
                f"{where}: addressed to {parts.dst}, this is {self.me}",
                self._answer(msg, parts.src, f"this is {self.me}, not {parts.dst}"),
            )
        if parts.src != self.peer:
            return Refusal(
                "sender",
                f"{where}: from {parts.src}; only {self.peer} is heard",
                self._answer(msg, parts.src, f"{self.me} takes commands from {self.peer} only"),
            )
        if msg.type != parts.message_type:
            return Refusal(
                "type_mismatch",
                f"{where}: a {msg.type!r} message on the {parts.message_type!r} topic",
            )
        if retain and not isinstance(msg, OnlineStatus):
            return Refusal("retained", f"{where}: a retained {msg.type} (only presence may be)")
        return msg

    def _answer(self, msg: WireMessage, to: str, reason: str) -> Answer | None:
        if not isinstance(msg, ActuatorCommand):
            return None
        try:
            topic_ = topic(self.me, to, "command.result")
        except ProtocolError:
            return None
        return Answer(msg, topic_, reason)


def _decode_kind(e: ProtocolError) -> str:
    if e.what.startswith(("unknown message type", "no 'type' field")):
        return "unknown_type"
    if e.what.startswith("unsupported version"):
        return "version"
    return "payload"
