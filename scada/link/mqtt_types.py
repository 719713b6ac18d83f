"""The MQTT link's data: what it reports and what it keeps for each paho client it runs.

:class:`LinkStats` and :class:`Publication` are what callers of
:class:`~scada.link.mqtt.MqttLink` get back; :class:`LinkCounts` are the counters behind the
stats. :class:`Session` (with its :class:`Backoff`) is
shared by the link, on the asyncio loop, and paho's callbacks, in paho's network thread
(:mod:`scada.link.mqtt_callbacks`); its docstring says which side may touch what.
"""

from __future__ import annotations

import asyncio
import math
import random
import threading
from collections import Counter
from dataclasses import dataclass, field

import paho.mqtt.client as mqtt

from scada.protocol.enums import LinkState


class Backoff:
    """Capped exponential back-off with "equal jitter", in whole seconds (paho counts seconds).

    Attempt *n* (from 0) waits a random whole number of seconds in
    ``[ceil(b/2), b]`` with ``b = min(max_s, min_s * 2**n)``: the delay doubles on average, never
    exceeds ``max_s``, never goes below ``min_s`` >= 1, and a fleet that lost one broker does not
    come back in lock-step.
    """

    def __init__(self, min_s: int, max_s: int, rng: random.Random | None = None) -> None:
        if min_s < 1 or max_s < min_s:
            raise ValueError("back-off needs 1 <= min_s <= max_s")
        self.min_s = min_s
        self.max_s = max_s
        self.attempt = 0
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not cryptography

    def next(self) -> int:
        base = min(self.max_s, self.min_s * 2 ** min(self.attempt, 32))
        self.attempt += 1
        low = max(self.min_s, math.ceil(base / 2))
        return self._rng.randint(low, base)

    def reset(self) -> None:
        self.attempt = 0


@dataclass(frozen=True, slots=True)
class LinkStats:
    """Counters of one link since it was built (a copy; see
    :meth:`~scada.link.mqtt.MqttLink.stats`)."""

    state: LinkState
    detail: str | None
    published: int
    """Messages handed to the client (QoS 1 ones are retransmitted by it until the broker
    acknowledges them)."""
    broker_acked: int
    """PUBACKs for QoS 1 messages (and QoS 0 messages written to the socket)."""
    received: int
    """Messages delivered to the handler."""
    malformed: dict[str, int]
    """Incoming messages refused, by kind: topic, foreign, sender, payload, unknown_type,
    version, type_mismatch, retained."""
    dropped: dict[str, int]
    """Messages lost, by reason: not_connected, queue_full, encode (outgoing), inbound_full
    (incoming)."""
    connects: int
    disconnects: int
    connect_failures: int
    handler_errors: int
    expired_commands: int
    answered: int
    """Refusals the link itself answered (commands for another SCADA or from a stranger)."""
    thread_restarts: int


@dataclass(slots=True)
class LinkCounts:
    """A link's running counters (what each counts: :class:`LinkStats`); on the event loop
    only."""

    broker_acked: int = 0
    received: int = 0
    malformed: Counter[str] = field(default_factory=Counter)
    connects: int = 0
    disconnects: int = 0
    connect_failures: int = 0
    handler_errors: int = 0
    expired_commands: int = 0
    answered: int = 0
    thread_restarts: int = 0

    def report(
        self, state: LinkState, detail: str | None, published: int, dropped: dict[str, int]
    ) -> LinkStats:
        """The stats now, with what the link's other parts count."""
        return LinkStats(
            state=state,
            detail=detail,
            published=published,
            broker_acked=self.broker_acked,
            received=self.received,
            malformed=dict(self.malformed),
            dropped=dropped,
            connects=self.connects,
            disconnects=self.disconnects,
            connect_failures=self.connect_failures,
            handler_errors=self.handler_errors,
            expired_commands=self.expired_commands,
            answered=self.answered,
            thread_restarts=self.thread_restarts,
        )


@dataclass(slots=True)
class Publication:
    """A message handed to the broker by :meth:`~scada.link.mqtt.MqttLink.publish`.

    ``broker_ack`` resolves ``True`` when the broker acknowledged it (QoS 1: PUBACK; QoS 0:
    written to the socket), ``False`` if it was lost first (a QoS 0 message on a dropped
    connection, or the link closed). A QoS 1 message survives reconnects: the client sends it
    again until the broker takes it.
    """

    mid: int
    qos: int
    topic: str
    message_id: str | None
    broker_ack: asyncio.Future[bool]


@dataclass(eq=False)
class Session:
    """One paho client from :meth:`~scada.link.mqtt.MqttLink.start` to
    :meth:`~scada.link.mqtt.MqttLink.close`.

    Callbacks of a closed session are ignored (they may still trickle in from its thread).
    ``backoff`` and ``connected_at`` are touched only by paho's thread; ``pending`` (by MQTT
    message id) only on the loop.
    """

    backoff: Backoff
    client: mqtt.Client | None = None
    closing: bool = False
    connected_at: float | None = None
    watchdog: asyncio.TimerHandle | None = None
    thread: threading.Thread | None = None
    pending: dict[int, Publication] = field(default_factory=dict)

    def track(self, pub: Publication) -> None:
        """Await the broker's acknowledgement of ``pub``."""
        old = self.pending.pop(pub.mid, None)
        if old is not None and not old.broker_ack.done():  # a wrapped-around mid: long lost
            old.broker_ack.set_result(False)
        self.pending[pub.mid] = pub

    def settle(self, mid: int, ok: bool) -> None:
        """The broker took message ``mid`` (``ok``), or paho gave up on it."""
        pub = self.pending.pop(mid, None)
        if pub is not None and not pub.broker_ack.done():
            pub.broker_ack.set_result(ok)

    def connection_lost(self) -> None:
        """Fail the QoS 0 messages: paho forgets them on a lost connection (QoS 1 ones it
        sends again after the reconnect)."""
        for mid, pub in list(self.pending.items()):
            if pub.qos == 0:
                del self.pending[mid]
                if not pub.broker_ack.done():
                    pub.broker_ack.set_result(False)

    def fail_all(self) -> None:
        """Fail every message still awaiting the broker (the session is over)."""
        for pub in self.pending.values():
            if not pub.broker_ack.done():
                pub.broker_ack.set_result(False)
        self.pending.clear()
