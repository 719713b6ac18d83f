"""The MQTT uplink: one end (SCADA or ATN) of ``gw/<from>/to/<to>/<message-type>`` over paho-mqtt 2.

**Threading.** paho runs its network loop in its own thread (``loop_start``): connecting,
reading, writing, keepalive pings and reconnecting all happen there. Every paho callback does
one thing — hand plain data (topic, payload bytes, reason strings) to the asyncio loop, through
a queue that one ``loop.call_soon_threadsafe`` empties however much piled up — and never raises
(each body is guarded, and the client runs with ``suppress_exceptions``): in the original one
exception in a callback killed the network thread and left the SCADA deaf (defect 4). The only
paho calls made *from* callbacks are the ones paho documents for that place: ``subscribe`` in
``on_connect`` (so every reconnect re-subscribes) and ``reconnect_delay_set`` (to steer the
back-off). Everything else — decoding, counting, state, listeners, the handler — runs on the
asyncio loop. A watchdog on the loop replaces the client (a fresh one, reconnecting) should its
network thread ever die anyway.

**Connecting.** :meth:`MqttLink.start` (also done by :meth:`run`) returns at once: the TCP/TLS
connect happens in paho's thread, so no broker at boot never holds up local control (defect 6).
Reconnects follow a capped exponential back-off with jitter, in whole seconds, at least
``reconnect_min_s`` (>= 1 s) apart, so an unreachable broker costs one attempt per delay and
never a busy loop (defect 7); a connection that drops within :data:`STABLE_S` of connecting
keeps escalating (two clients fighting over one client id back off instead of flapping). The
keepalive setting is passed to the client (defect 8), so a half-open socket is noticed within
about two keepalives (a ping after one, given up after the next).

**State.** :attr:`MqttLink.broker_state` is the broker connection only (``connecting`` until the
first outcome, ``up`` once connected *and* subscribed, ``down`` otherwise, with
:attr:`~MqttLink.detail` saying why: ``Not authorized``, ``connection refused``, a TLS error).
Whether the ATN is alive is the controller's business (its heartbeats), kept apart (defect 9).
:meth:`~MqttLink.add_state_listener` reports every change on the loop, promptly.

**Topics and QoS.** The link publishes to ``gw/<me>/to/<peer>/<type>`` and subscribes to
``gw/<peer>/to/<me>/#`` (at QoS 1, again on every reconnect). Statuses, aggregate reports,
problem events, command results, contract heartbeats, commands, acks and snapshot requests
go at QoS 1 (:data:`QOS1_TYPES`); power, readings and snapshots at QoS 0. Nothing the link
sends is retained except its presence: a retained :class:`~scada.protocol.OnlineStatus`
``online`` on every connect, and the same topic's ``offline`` as MQTT last will and on a clean
close; both carry the link's ``boot_id``, so a peer tells a restart from a reconnect (the
will's ``at`` is when the link started: MQTT cannot know when a client dies).
Delivery beyond the broker is the store's business: QoS 1 only reaches the broker, the ATN's
application-level :class:`~scada.protocol.Ack` is what empties the outbox.
:meth:`~MqttLink.publish` / :meth:`~MqttLink.publish_encoded` return a :class:`Publication`
whose future says when the broker acknowledged a message (PUBACK).

**Bad input** never crashes anything. A topic of the wrong shape, a message for another
alias, one from someone other than the peer, an undecodable or unknown payload, a payload whose
``type`` disagrees with its topic, and a retained message other than presence (commands are
never retained; acting on a stale retained message is how other systems re-ran old commands)
are each counted by kind in :meth:`~MqttLink.stats` and logged once per kind. A command that
arrives for another SCADA or from a sender other than the peer is answered with a refused
:class:`~scada.protocol.CommandResult` giving the reason.

**Expired commands are delivered**, not dropped here: the controller refuses them and its
:class:`~scada.protocol.CommandResult` carries the reason back to the ATN (a command dropped in
the link would vanish without an answer, defect 30). The link only counts them
(``expired_commands``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import random
import ssl
import sys
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import Any, Final

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode, MQTTProtocolVersion
from paho.mqtt.reasoncodes import ReasonCode

from scada.clock import Clock
from scada.link.base import UplinkHandler
from scada.link.mqtt_settings import MqttSettings
from scada.protocol import ProtocolError, decode, encode
from scada.protocol.base import WireMessage, new_id
from scada.protocol.commands import ActuatorCommand, CommandResult
from scada.protocol.enums import CommandOutcome, LinkState, OnlineState
from scada.protocol.topics import TopicParts, parse_topic, topic, topic_filter
from scada.protocol.uplink import OnlineStatus

log = logging.getLogger(__name__)

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

PRESENCE_TYPE: Final = "online"
INBOUND_LIMIT: Final = 10_000
"""Messages handed from paho's thread and not yet taken by :meth:`MqttLink.run`; beyond it
incoming messages are dropped and counted (``dropped['inbound_full']``)."""
MAX_INFLIGHT: Final = 100
"""QoS 1 messages on the wire awaiting the broker's PUBACK (paho queues the rest)."""
STABLE_S: Final = 30.0
"""A connection that lasted this long resets the back-off; a shorter one keeps escalating."""
WATCHDOG_S: Final = 5.0
"""How often the loop checks that paho's network thread is still there."""
TOPICS_KEPT: Final = 256
"""Incoming topics kept parsed (a peer uses one per message type; others are parsed each time)."""


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
    """Counters of one link since it was built (a copy; see :meth:`MqttLink.stats`)."""

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
class Publication:
    """A message handed to the broker by :meth:`MqttLink.publish`.

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


StateListener = Callable[[LinkState, str | None], None]


@dataclass(eq=False)
class _Session:
    """One paho client from :meth:`MqttLink.start` to :meth:`MqttLink.close`.

    Callbacks of a closed session are ignored (they may still trickle in from its thread).
    ``backoff`` and ``connected_at`` are touched only by paho's thread.
    """

    backoff: Backoff
    client: mqtt.Client | None = None
    closing: bool = False
    connected_at: float | None = None
    watchdog: asyncio.TimerHandle | None = None
    thread: threading.Thread | None = None
    pending: dict[int, Publication] = field(default_factory=dict)


class MqttLink:
    """One end of the uplink over an MQTT broker; implements :class:`~scada.link.base.Uplink`.

    Args:
        settings: broker URL, identity, credentials, TLS, timing (:class:`MqttSettings`).
        me: this end's alias (topics ``gw/<me>/to/<peer>/...`` out).
        peer: the other end's alias (topics ``gw/<peer>/to/<me>/...`` in).
        clock: time for message stamps (presence, refusals, expiry checks).
        qos1_types: message types sent at QoS 1 (:data:`QOS1_TYPES`).
        boot_id: carried by the presence messages; fresh by default. Settable until
            :meth:`start` (the runtime hands over its own).
        presence: publish the retained online/offline presence and last will.
        inbound_limit: see :data:`INBOUND_LIMIT`.
        rng: jitter source (tests).
    """

    def __init__(
        self,
        settings: MqttSettings,
        me: str,
        peer: str,
        clock: Clock,
        *,
        qos1_types: Collection[str] = QOS1_TYPES,
        boot_id: str | None = None,
        presence: bool = True,
        inbound_limit: int = INBOUND_LIMIT,
        rng: random.Random | None = None,
    ) -> None:
        self.settings = settings
        self.me = me
        self.peer = peer
        self.clock = clock
        self.qos1_types = frozenset(qos1_types)
        self.boot_id = boot_id or new_id()
        self.presence = presence
        self.client_id = settings.client_id or me
        # Checked now: a bad alias is a configuration error, not something to find at runtime.
        self.subscription = topic_filter(dst=me, src=peer)
        self._presence_topic = topic(me, peer, PRESENCE_TYPE)
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not cryptography
        self._state = LinkState.NOT_CONFIGURED
        self._detail: str | None = None
        self._listeners: list[StateListener] = []
        self._changed = asyncio.Event()
        self._session: _Session | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._inbox: asyncio.Queue[tuple[_Session, str | None, bytes, bool]] = asyncio.Queue(
            inbound_limit
        )
        self._inbound_limit = inbound_limit
        self._slots_lock = threading.Lock()
        self._slots = 0  # handed over by paho's thread, not yet taken by run()
        self._inbound_dropped = 0  # guarded by _slots_lock
        self._logged: set[str] = set()
        self.peer_presence: OnlineStatus | None = None
        """The peer's latest presence message (retained ones included)."""
        self._published = 0
        self._broker_acked = 0
        self._received = 0
        self._malformed: Counter[str] = Counter()
        self._dropped: Counter[str] = Counter()
        self._connects = 0
        self._disconnects = 0
        self._connect_failures = 0
        self._handler_errors = 0
        self._expired = 0
        self._answered = 0
        self._thread_restarts = 0
        self._tasks: set[asyncio.Task[None]] = set()
        self._topics: dict[str, str] = {}  # outgoing topic by message type
        self._topics_in: dict[str, TopicParts] = {}  # incoming topics parsed, a few per type

    # ================================================================ public API
    @property
    def broker_state(self) -> LinkState:
        return self._state

    @property
    def detail(self) -> str | None:
        """Why the broker state is what it is, for a person (``None`` while up)."""
        return self._detail

    def stats(self) -> LinkStats:
        with self._slots_lock:
            inbound_dropped = self._inbound_dropped
        dropped = dict(self._dropped)
        if inbound_dropped:
            dropped["inbound_full"] = inbound_dropped
        return LinkStats(
            state=self._state,
            detail=self._detail,
            published=self._published,
            broker_acked=self._broker_acked,
            received=self._received,
            malformed=dict(self._malformed),
            dropped=dropped,
            connects=self._connects,
            disconnects=self._disconnects,
            connect_failures=self._connect_failures,
            handler_errors=self._handler_errors,
            expired_commands=self._expired,
            answered=self._answered,
            thread_restarts=self._thread_restarts,
        )

    def add_state_listener(self, listener: StateListener) -> None:
        """Call ``listener(state, detail)`` on the event loop at every broker state change."""
        self._listeners.append(listener)

    def remove_state_listener(self, listener: StateListener) -> None:
        with contextlib.suppress(ValueError):
            self._listeners.remove(listener)

    async def wait_for_state(self, state: LinkState) -> None:
        """Return once :attr:`broker_state` is ``state`` (bound it with ``asyncio.timeout``)."""
        while self._state is not state:
            self._changed.clear()
            await self._changed.wait()

    def start(self) -> bool:
        """Start connecting in the background (needs a running event loop); returns at once.

        False if already started. A client that cannot even be set up (an unreadable CA or
        password file) leaves the link ``down`` with the reason in :attr:`detail`; it never
        raises for a broker problem.
        """
        if self._session is not None:
            return False
        self._loop = asyncio.get_running_loop()
        sess = _Session(
            Backoff(self.settings.reconnect_min_s, self.settings.reconnect_max_s, self._rng)
        )
        self._session = sess
        self._logged.discard("connect")
        self._set_state(LinkState.CONNECTING, f"connecting to {self.settings.display_url}")
        try:
            client = self._make_client(sess)
        except (OSError, ValueError) as e:  # ssl.SSLError is an OSError
            why = f"cannot set up the MQTT client: {e}"
            log.error("%s", why)  # noqa: TRY400 - the reason is the message; no traceback
            self._set_state(LinkState.DOWN, why)
            return True
        sess.client = client
        log.info(
            "MQTT link %s -> %s: connecting to %s as %r",
            self.me,
            self.peer,
            self.settings.display_url,
            self.client_id,
        )
        client.connect_async(
            self.settings.host, self.settings.port, keepalive=self.settings.keepalive_s
        )
        before = set(threading.enumerate())
        client.loop_start()
        sess.thread = next(
            (t for t in threading.enumerate() if t not in before and t.name.startswith("paho-")),
            None,
        )
        sess.watchdog = self._loop.call_later(WATCHDOG_S, self._watchdog, sess)
        return True

    async def close(self) -> None:
        """Say ``offline`` (retained), disconnect cleanly and stop the network thread."""
        sess = self._session
        if sess is None:
            return
        self._session = None
        sess.closing = True
        if sess.watchdog is not None:
            sess.watchdog.cancel()
        client = sess.client
        if client is not None:
            if self.presence and self._state is LinkState.UP:
                self._publish_raw(
                    client,
                    self._presence_topic,
                    self._presence(OnlineState.OFFLINE),
                    qos=1,
                    retain=True,
                )
            client.disconnect()
            await asyncio.to_thread(client.loop_stop)
            # Break the client <-> callbacks cycle so the client is freed (and its sockets
            # closed by paho) right away rather than by the garbage collector some day.
            sess.client = None
        for pub in sess.pending.values():
            if not pub.broker_ack.done():
                pub.broker_ack.set_result(False)
        sess.pending.clear()
        while not self._inbox.empty():  # what nobody took: gone with the session
            self._inbox.get_nowait()
            self._give_slot()
        self._set_state(LinkState.DOWN, "closed")
        log.info("MQTT link %s -> %s closed", self.me, self.peer)

    async def __aenter__(self) -> MqttLink:
        self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def run(self, handler: UplinkHandler) -> None:
        """Connect (if not yet), then deliver incoming messages to ``handler`` in arrival order
        until cancelled; closes the connection on the way out if it opened it.

        Reconnects by itself. An exception from ``handler`` is logged and counted
        (``handler_errors``); the link goes on with the next message.
        """
        opened = self.start()
        try:
            while True:
                sess, topic_, payload, retain = await self._inbox.get()
                self._give_slot()
                if sess is not self._session:
                    continue
                msg = self._accept(topic_, payload, retain=retain)
                if msg is None:
                    continue
                self._received += 1
                try:
                    await handler(msg)
                except Exception:
                    self._handler_errors += 1
                    log.exception("the uplink handler failed on %s from %s", msg.type, self.peer)
        finally:
            if opened:
                await self.close()

    def send(self, message: WireMessage) -> bool:
        """Publish ``message`` to the peer without waiting; False when it could not be handed to
        the client (broker not up, client queue full, unencodable)."""
        return self._send_message(message) is not None

    def send_encoded(self, message_type: str, payload: bytes) -> bool:
        """The seam's form of :meth:`publish_encoded`."""
        return self.publish_encoded(message_type, payload) is not None

    def publish(self, message: WireMessage) -> Publication | None:
        """Like :meth:`send`, returning a :class:`Publication` whose ``broker_ack`` future says
        when the broker took the message; ``None`` when it could not be handed over."""
        return self._track(self._send_message(message), getattr(message, "id", None))

    def publish_encoded(
        self, message_type: str, payload: bytes, *, message_id: str | None = None
    ) -> Publication | None:
        """:meth:`publish` for a message already encoded (e.g. kept as bytes in the store's
        outbox): no decode/encode round trip. ``message_type`` picks the topic and QoS; the
        payload is sent as it is."""
        try:
            topic_ = self._topics.get(message_type) or self._topic_for(message_type)
        except ProtocolError as e:
            self._dropped["encode"] += 1
            self._log_once("encode", "cannot send %s: %s", message_type, e)
            return None
        return self._track(self._send(message_type, topic_, payload), message_id)

    # ================================================================ outgoing
    def _send_message(
        self, message: WireMessage
    ) -> tuple[_Session, mqtt.MQTTMessageInfo, int, str] | None:
        if self._state is not LinkState.UP:  # before encoding: nothing to do while down
            self._dropped["not_connected"] += 1
            return None
        try:
            topic_ = self._topics.get(message.type) or self._topic_for(message.type)
            payload = encode(message)
        except ProtocolError as e:
            self._dropped["encode"] += 1
            self._log_once("encode", "cannot send %s: %s", message.type, e)
            return None
        return self._send(message.type, topic_, payload)

    def _send(
        self, message_type: str, topic_: str, payload: bytes
    ) -> tuple[_Session, mqtt.MQTTMessageInfo, int, str] | None:
        sess = self._session
        client = sess.client if sess is not None else None
        if sess is None or client is None or self._state is not LinkState.UP:
            self._dropped["not_connected"] += 1
            return None
        qos = 1 if message_type in self.qos1_types else 0
        info = self._publish_raw(client, topic_, payload, qos=qos, retain=False)
        return None if info is None else (sess, info, qos, topic_)

    def _track(
        self,
        sent: tuple[_Session, mqtt.MQTTMessageInfo, int, str] | None,
        message_id: str | None,
    ) -> Publication | None:
        if sent is None:
            return None
        sess, info, qos, topic_ = sent
        assert self._loop is not None
        pub = Publication(info.mid, qos, topic_, message_id, self._loop.create_future())
        old = sess.pending.pop(info.mid, None)
        if old is not None and not old.broker_ack.done():  # a wrapped-around mid: long lost
            old.broker_ack.set_result(False)
        sess.pending[info.mid] = pub
        return pub

    def _topic_for(self, message_type: str) -> str:
        topic_ = topic(self.me, self.peer, message_type)  # checked once per type
        self._topics[message_type] = topic_
        return topic_

    def _publish_raw(
        self, client: mqtt.Client, topic_: str, payload: bytes, *, qos: int, retain: bool
    ) -> mqtt.MQTTMessageInfo | None:
        try:
            info = client.publish(topic_, payload, qos=qos, retain=retain)
        except (ValueError, OSError) as e:
            self._dropped["publish_error"] += 1
            self._log_once("publish", "cannot publish on %s: %s", topic_, e)
            return None
        rc = info.rc
        if rc == MQTTErrorCode.MQTT_ERR_SUCCESS or (
            rc == MQTTErrorCode.MQTT_ERR_NO_CONN and qos > 0  # kept; sent after the reconnect
        ):
            self._published += 1
            return info
        reason = "queue_full" if rc == MQTTErrorCode.MQTT_ERR_QUEUE_SIZE else "not_connected"
        self._dropped[reason] += 1
        self._log_once(
            f"drop:{reason}", "dropped a message for %s: %s", topic_, mqtt.error_string(rc)
        )
        return None

    def _presence(self, state: OnlineState) -> bytes:
        return encode(OnlineStatus(state=state, boot_id=self.boot_id, at=self.clock.now()))

    # ================================================================ incoming
    def _accept(self, topic_: str | None, payload: bytes, *, retain: bool) -> WireMessage | None:
        """Decode and check one incoming message; ``None`` (counted, logged once) if refused."""
        if topic_ is None:
            self._refuse("topic", "a message on a topic that is not UTF-8")
            return None
        parts = self._topics_in.get(topic_)
        if parts is None:
            try:
                parts = parse_topic(topic_)
            except ProtocolError as e:
                self._refuse("topic", str(e))
                return None
            if len(self._topics_in) < TOPICS_KEPT:
                self._topics_in[topic_] = parts
        where = f"topic {topic_}"
        try:
            msg = decode(payload, where=where)
        except ProtocolError as e:
            self._refuse(_decode_kind(e), str(e))
            return None
        if parts.dst != self.me:
            self._refuse("foreign", f"{where}: addressed to {parts.dst}, this is {self.me}")
            self._answer(msg, parts.src, f"this is {self.me}, not {parts.dst}")
            return None
        if parts.src != self.peer:
            self._refuse("sender", f"{where}: from {parts.src}; only {self.peer} is heard")
            self._answer(msg, parts.src, f"{self.me} takes commands from {self.peer} only")
            return None
        if msg.type != parts.message_type:
            self._refuse(
                "type_mismatch",
                f"{where}: a {msg.type!r} message on the {parts.message_type!r} topic",
            )
            return None
        if isinstance(msg, OnlineStatus):
            self.peer_presence = msg
        elif retain:
            self._refuse("retained", f"{where}: a retained {msg.type} (only presence may be)")
            return None
        if isinstance(msg, ActuatorCommand) and msg.expired(self.clock.now()):
            self._expired += 1  # delivered all the same: the controller answers with the reason
        return msg

    def _refuse(self, kind: str, text: str) -> None:
        self._malformed[kind] += 1
        self._log_once(
            f"in:{kind}",
            "ignored an incoming message (%s): %s; more of this kind are only counted",
            kind,
            text,
        )

    def _answer(self, msg: WireMessage, to: str, reason: str) -> None:
        """Refuse a command that was not for us, back to whoever sent it."""
        sess = self._session
        if not isinstance(msg, ActuatorCommand) or sess is None or sess.client is None:
            return
        try:
            topic_ = topic(self.me, to, "command.result")
        except ProtocolError:
            return
        result = CommandResult(
            command_id=msg.id,
            target=msg.target,
            outcome=CommandOutcome.REFUSED,
            reason=reason,
            at=self.clock.now(),
        )
        if self._publish_raw(sess.client, topic_, encode(result), qos=1, retain=False) is not None:
            self._answered += 1

    # ================================================================ client set-up
    def _make_client(self, sess: _Session) -> mqtt.Client:
        s = self.settings
        v5 = s.protocol == "5"
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=self.client_id,
            clean_session=None if v5 else True,
            protocol=MQTTProtocolVersion.MQTTv5 if v5 else MQTTProtocolVersion.MQTTv311,
            reconnect_on_failure=True,
        )
        client.suppress_exceptions = True  # belt and braces: our callbacks never raise anyway
        client.connect_timeout = s.connect_timeout_s
        client.max_queued_messages_set(s.max_queued)
        client.max_inflight_messages_set(MAX_INFLIGHT)
        client.reconnect_delay_set(s.reconnect_min_s, s.reconnect_min_s)
        username = s.effective_username()
        if username:
            client.username_pw_set(username, s.read_password())
        if s.tls:
            ctx = ssl.create_default_context(cafile=str(s.ca_file) if s.ca_file else None)
            if s.cert_file is not None:
                ctx.load_cert_chain(str(s.cert_file), str(s.key_file) if s.key_file else None)
            if s.tls_insecure:
                ctx.check_hostname = False  # the chain is still verified
            ctx.sslsocket_class = _ClosingSSLSocket
            client.tls_set_context(ctx)
        if self.presence:
            client.will_set(
                self._presence_topic, self._presence(OnlineState.OFFLINE), qos=1, retain=True
            )
        assert self._loop is not None
        callbacks = _Callbacks(
            sess,
            self._loop,
            self.subscription,
            _LoopSide(
                refused=self._loop_refused,
                connected=self._loop_connected,
                subscribed=self._loop_subscribed,
                disconnected=self._loop_disconnected,
                connect_failed=self._loop_connect_failed,
                inbound=self._loop_inbound,
                published=self._loop_published,
                take_slot=self._take_slot,
                give_slot=self._give_slot,
            ),
        )
        client.on_connect = callbacks.on_connect
        client.on_subscribe = callbacks.on_subscribe
        client.on_disconnect = callbacks.on_disconnect
        client.on_connect_fail = callbacks.on_connect_fail
        client.on_message = callbacks.on_message
        client.on_publish = callbacks.on_publish
        return client

    def _take_slot(self) -> bool:
        """Reserve room for one incoming message (any thread); False (and counted) if full."""
        with self._slots_lock:
            if self._slots >= self._inbound_limit:
                self._inbound_dropped += 1
                return False
            self._slots += 1
            return True

    def _give_slot(self) -> None:
        with self._slots_lock:
            self._slots -= 1

    # ================================================================ on the loop
    def _loop_refused(self, sess: _Session, why: str) -> None:
        if sess is not self._session:
            return
        self._connect_failures += 1
        self._set_state(LinkState.DOWN, f"the broker refused the connection: {why}")
        self._log_once("connect", "MQTT broker %s refused us: %s", self.settings.display_url, why)

    def _loop_connected(self, sess: _Session) -> None:
        if sess is not self._session:
            return
        self._connects += 1
        self._logged.discard("connect")
        if self.presence and sess.client is not None:
            self._publish_raw(
                sess.client,
                self._presence_topic,
                self._presence(OnlineState.ONLINE),
                qos=1,
                retain=True,
            )

    def _loop_subscribed(self, sess: _Session, refused: str | None) -> None:
        if sess is not self._session:
            return
        if refused:
            log.error(
                "the broker refused the subscription to %s (%s): nothing from %s will arrive",
                self.subscription,
                refused,
                self.peer,
            )
        log.info("MQTT link %s -> %s up on %s", self.me, self.peer, self.settings.display_url)
        self._set_state(LinkState.UP, f"subscription refused: {refused}" if refused else None)

    def _loop_disconnected(self, sess: _Session, why: str, delay: int, was_connected: bool) -> None:
        if sess is not self._session:
            return
        for mid, pub in list(sess.pending.items()):
            if pub.qos == 0:  # paho forgets QoS 0 messages on a lost connection
                del sess.pending[mid]
                if not pub.broker_ack.done():
                    pub.broker_ack.set_result(False)
        if was_connected:
            self._disconnects += 1
            log.warning(
                "MQTT link %s -> %s lost the broker (%s); reconnecting in %d s",
                self.me,
                self.peer,
                why,
                delay,
            )
            self._set_state(LinkState.DOWN, f"connection lost: {why}; retrying in {delay} s")
        elif self._state is not LinkState.DOWN:
            self._set_state(LinkState.DOWN, f"{why}; retrying in {delay} s")
        else:  # keep the broker's reason (e.g. Not authorized), note the retry
            base = (self._detail or why).split("; retrying in")[0]
            self._set_state(LinkState.DOWN, f"{base}; retrying in {delay} s")

    def _loop_connect_failed(self, sess: _Session, why: str, delay: int) -> None:
        if sess is not self._session:
            return
        self._connect_failures += 1
        self._log_once(
            "connect",
            "cannot reach MQTT broker %s: %s (retrying with back-off)",
            self.settings.display_url,
            why,
        )
        self._set_state(
            LinkState.DOWN,
            f"cannot reach {self.settings.display_url}: {why}; retrying in {delay} s",
        )

    def _loop_inbound(
        self, sess: _Session, topic_: str | None, payload: bytes, retain: bool
    ) -> None:
        if sess is not self._session:  # arrived after close(): nobody will take it
            self._give_slot()
            return
        try:
            self._inbox.put_nowait((sess, topic_, payload, retain))
        except asyncio.QueueFull:  # cannot happen while slots <= the queue's size
            with self._slots_lock:
                self._slots -= 1
                self._inbound_dropped += 1

    def _loop_published(self, sess: _Session, mid: int, ok: bool) -> None:
        if ok:
            self._broker_acked += 1
        pub = sess.pending.pop(mid, None)
        if pub is not None and not pub.broker_ack.done():
            pub.broker_ack.set_result(ok)

    def _watchdog(self, sess: _Session) -> None:
        if sess is not self._session or sess.closing:
            return
        assert self._loop is not None
        if sess.thread is not None and not sess.thread.is_alive():
            self._thread_restarts += 1
            log.error("the MQTT network thread of %s stopped; starting a fresh client", self.me)
            task = self._loop.create_task(self._renew(sess), name=f"mqtt-renew:{self.me}")
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            return
        sess.watchdog = self._loop.call_later(WATCHDOG_S, self._watchdog, sess)

    async def _renew(self, sess: _Session) -> None:
        if sess is self._session:
            await self.close()
            self.start()

    def _set_state(self, state: LinkState, detail: str | None) -> None:
        changed = state is not self._state
        self._state = state
        self._detail = detail
        self._changed.set()
        if not changed:
            return
        for listener in list(self._listeners):
            try:
                listener(state, detail)
            except Exception:
                log.exception("a link state listener failed")

    def _log_once(self, key: str, fmt: str, *args: object) -> None:
        if key in self._logged:
            log.debug(fmt, *args)
            return
        self._logged.add(key)
        log.warning(fmt, *args)


@dataclass(frozen=True, slots=True)
class _LoopSide:
    """Where :class:`_Callbacks` hand things over: each ``fn(sess, ...)`` runs on the loop, except
    the two slot functions, which are thread-safe and run in paho's thread."""

    refused: Callable[..., None]
    connected: Callable[..., None]
    subscribed: Callable[..., None]
    disconnected: Callable[..., None]
    connect_failed: Callable[..., None]
    inbound: Callable[..., None]
    published: Callable[..., None]
    take_slot: Callable[[], bool]
    give_slot: Callable[[], None]


class _Callbacks:
    """paho's callbacks for one session. They run in paho's network thread, hand plain data to
    the loop and never raise (defect 4)."""

    def __init__(
        self,
        sess: _Session,
        loop: asyncio.AbstractEventLoop,
        subscription: str,
        to: _LoopSide,
    ) -> None:
        self.sess = sess
        self.loop = loop
        self.subscription = subscription
        self.to = to
        # Calls for the loop, in order. One wake-up of the loop takes all that piled up:
        # call_soon_threadsafe per message (a write to the loop's self-pipe each, and a GIL
        # hand-over between the two threads) was a good part of a re-upload's cost, with a
        # message and a PUBACK per stored row.
        self._calls: deque[tuple[Callable[..., None], tuple[Any, ...]]] = deque()
        self._calls_lock = threading.Lock()
        self._drain_due = False  # guarded by _calls_lock

    def post(self, fn: Callable[..., None], *args: Any) -> bool:
        """Schedule ``fn(sess, *args)`` on the loop (after every call posted before it); False
        if the loop is gone."""
        with self._calls_lock:
            if self.loop.is_closed():  # nobody is listening any more
                self._calls.clear()
                return False
            self._calls.append((fn, args))
            if self._drain_due:
                return True
            self._drain_due = True
        try:
            self.loop.call_soon_threadsafe(self._drain)
        except RuntimeError:  # closed meanwhile
            with self._calls_lock:
                self._calls.clear()
                self._drain_due = False
            return False
        return True

    def _drain(self) -> None:
        """On the loop: run every posted call, oldest first."""
        while True:
            with self._calls_lock:
                if not self._calls:
                    self._drain_due = False
                    return
                calls = list(self._calls)
                self._calls.clear()
            for fn, args in calls:
                try:
                    fn(self.sess, *args)
                except Exception:
                    log.exception("MQTT link: handling %s", getattr(fn, "__name__", fn))

    def _backoff(self, client: mqtt.Client) -> int:
        delay = self.sess.backoff.next()
        client.reconnect_delay_set(delay, delay)  # paho's next wait is exactly this
        return delay

    def on_connect(
        self, client: mqtt.Client, _u: Any, _f: mqtt.ConnectFlags, rc: ReasonCode, _p: Any
    ) -> None:
        try:
            if rc.is_failure:
                self.post(self.to.refused, str(rc))
                return
            self.sess.connected_at = time.monotonic()
            client.subscribe(self.subscription, qos=1)  # again on every reconnect
            self.post(self.to.connected)
        except Exception:
            log.exception("MQTT on_connect")

    def on_subscribe(
        self, _c: mqtt.Client, _u: Any, _mid: int, rcs: list[ReasonCode], _p: Any
    ) -> None:
        try:
            refused = ", ".join(str(r) for r in rcs if r.is_failure)
            self.post(self.to.subscribed, refused or None)
        except Exception:
            log.exception("MQTT on_subscribe")

    def on_disconnect(
        self, client: mqtt.Client, _u: Any, flags: mqtt.DisconnectFlags, rc: ReasonCode, _p: Any
    ) -> None:
        try:
            sess = self.sess
            if sess.closing:
                return
            since = sess.connected_at
            sess.connected_at = None
            if since is not None and time.monotonic() - since >= STABLE_S:
                sess.backoff.reset()
            delay = self._backoff(client)
            why = str(rc)
            if why == "Unspecified error" and not flags.is_disconnect_packet_from_server:
                why = "the socket closed"  # paho says "Unspecified error" for a dropped socket
            self.post(self.to.disconnected, why, delay, since is not None)
        except Exception:
            log.exception("MQTT on_disconnect")

    def on_connect_fail(self, client: mqtt.Client, _u: Any) -> None:
        try:
            # paho calls this from inside its ``except OSError`` block: the error is at hand.
            why = _describe_error(sys.exc_info()[1])
            self.post(self.to.connect_failed, why, self._backoff(client))
        except Exception:
            log.exception("MQTT on_connect_fail")

    def on_message(self, _c: mqtt.Client, _u: Any, m: mqtt.MQTTMessage) -> None:
        try:
            try:
                topic_: str | None = m.topic
            except UnicodeDecodeError:
                topic_ = None
            if not self.to.take_slot():
                return
            if not self.post(self.to.inbound, topic_, bytes(m.payload), bool(m.retain)):
                self.to.give_slot()
        except Exception:
            log.exception("MQTT on_message")

    def on_publish(self, _c: mqtt.Client, _u: Any, mid: int, rc: ReasonCode, _p: Any) -> None:
        try:
            self.post(self.to.published, mid, not rc.is_failure)
        except Exception:
            log.exception("MQTT on_publish")


class _ClosingSSLSocket(ssl.SSLSocket):
    """Closes itself when the TLS handshake fails. paho leaves that socket to the garbage
    collector (an open descriptor, then a ResourceWarning, per failed attempt)."""

    def do_handshake(self, block: bool = False) -> None:
        try:
            super().do_handshake(block)
        except BaseException:
            self.close()
            raise


def _decode_kind(e: ProtocolError) -> str:
    if e.what.startswith(("unknown message type", "no 'type' field")):
        return "unknown_type"
    if e.what.startswith("unsupported version"):
        return "version"
    return "payload"


def _describe_error(exc: BaseException | None) -> str:
    if exc is None:
        return "connection failed"
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"TLS: certificate verify failed ({exc.verify_message or exc.reason})"
    if isinstance(exc, ssl.SSLError):
        return f"TLS: {exc.reason or exc}"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, TimeoutError):
        return "timed out"
    text = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
    return text or type(exc).__name__
