"""Handing the MQTT link's outgoing messages to its paho client, and counting what gets lost.

A message goes to ``gw/<me>/to/<peer>/<type>`` (each type's topic checked once, then kept), at
QoS 1 if its type is one of ``qos1_types``, else QoS 0. What paho takes is counted as
``published``; what it cannot take is counted in ``dropped`` by reason (``encode``,
``publish_error``, ``queue_full``, ``not_connected``) and logged once per reason, so a broker
outage costs one log line, not one per message. A QoS 1 message published while paho is
disconnected counts as published: paho keeps it and sends it after the reconnect.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Final

import paho.mqtt.client as mqtt
from paho.mqtt.enums import MQTTErrorCode

from scada.protocol import ProtocolError, encode
from scada.protocol.base import WireMessage
from scada.protocol.topics import topic

QOS1_TYPES: Final = frozenset(
    {
        "status",
        "aggregate",
        "problem",
        "command",
        "command.result",
        "contract.heartbeat",
        "ack",
        "snapshot.request",
        "online",
    }
)
"""Message types published at QoS 1; every other type (power, readings, snapshots) at QoS 0."""

LogOnce = Callable[..., None]
"""``log_once(key, fmt, *args)``: a warning the first time for ``key``, debug afterwards."""


class Publisher:
    """Topics, QoS and counts for what one link sends to ``peer``; on the event loop only."""

    def __init__(self, me: str, peer: str, qos1_types: frozenset[str], log_once: LogOnce) -> None:
        self.me = me
        self.peer = peer
        self.qos1_types = qos1_types
        self._log_once = log_once
        self.published = 0
        self.dropped: Counter[str] = Counter()
        self._topics: dict[str, str] = {}  # by message type

    def qos(self, message_type: str) -> int:
        return 1 if message_type in self.qos1_types else 0

    def topic_for(self, message_type: str) -> str | None:
        """The topic for ``message_type``; ``None`` (dropped: ``encode``) if not a wire name."""
        try:
            return self._topic(message_type)
        except ProtocolError as e:
            self._cannot_send(message_type, e)
            return None

    def encode(self, message: WireMessage) -> tuple[str, bytes] | None:
        """``message``'s topic and payload; ``None`` (dropped: ``encode``) if it has none."""
        try:
            return self._topic(message.type), encode(message)
        except ProtocolError as e:
            self._cannot_send(message.type, e)
            return None

    def publish(
        self, client: mqtt.Client, topic_: str, payload: bytes, *, qos: int, retain: bool
    ) -> mqtt.MQTTMessageInfo | None:
        """Hand one message to ``client``; ``None`` (counted, logged once) if it refused it."""
        try:
            info = client.publish(topic_, payload, qos=qos, retain=retain)
        except (ValueError, OSError) as e:
            self.dropped["publish_error"] += 1
            self._log_once("publish", "cannot publish on %s: %s", topic_, e)
            return None
        rc = info.rc
        if rc == MQTTErrorCode.MQTT_ERR_SUCCESS or (
            rc == MQTTErrorCode.MQTT_ERR_NO_CONN and qos > 0  # kept; sent after the reconnect
        ):
            self.published += 1
            return info
        reason = "queue_full" if rc == MQTTErrorCode.MQTT_ERR_QUEUE_SIZE else "not_connected"
        self.dropped[reason] += 1
        self._log_once(
            f"drop:{reason}", "dropped a message for %s: %s", topic_, mqtt.error_string(rc)
        )
        return None

    def _topic(self, message_type: str) -> str:
        topic_ = self._topics.get(message_type)
        if topic_ is None:
            topic_ = topic(self.me, self.peer, message_type)  # checked once per type
            self._topics[message_type] = topic_
        return topic_

    def _cannot_send(self, message_type: str, e: ProtocolError) -> None:
        self.dropped["encode"] += 1
        self._log_once("encode", "cannot send %s: %s", message_type, e)
