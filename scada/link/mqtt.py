"""The MQTT uplink: one end (SCADA or ATN) of ``gw/<from>/to/<to>/<message-type>`` over paho-mqtt 2.

**Threading.** paho runs its network loop in its own thread; its callbacks
(:mod:`scada.link.mqtt_callbacks`) only hand plain data to the asyncio loop and never raise
(defect 4). Everything else — decoding, counting, state, listeners, the handler — runs on the
asyncio loop, here. A watchdog on the loop replaces the client (a fresh one, reconnecting)
should its network thread ever die anyway.

**Connecting.** :meth:`MqttLink.start` (also done by :meth:`run`) returns at once: the TCP/TLS
connect happens in paho's thread, so no broker at boot never holds up local control (defect 6).
Reconnects follow a capped exponential back-off with jitter, in whole seconds, at least
``reconnect_min_s`` (>= 1 s) apart, so an unreachable broker costs one attempt per delay and
never a busy loop (defect 7); a connection that drops within
:data:`~scada.link.mqtt_callbacks.STABLE_S` of connecting keeps escalating (two clients
fighting over one client id back off instead of flapping). The keepalive setting is passed to
the client (defect 8), so a half-open socket is noticed within about two keepalives (a ping
after one, given up after the next).

**State.** :attr:`MqttLink.broker_state` is the broker connection only (``connecting`` until the
first outcome, ``up`` once connected *and* subscribed, ``down`` otherwise, with
:attr:`~MqttLink.detail` saying why: ``Not authorized``, ``connection refused``, a TLS error).
Whether the ATN is alive is the controller's business (its heartbeats), kept apart (defect 9).
:meth:`~MqttLink.add_state_listener` reports every change on the loop, promptly
(:mod:`scada.link.mqtt_state` keeps the state and words it).

**Topics and QoS.** The link publishes to ``gw/<me>/to/<peer>/<type>`` and subscribes to
``gw/<peer>/to/<me>/#`` (at QoS 1, again on every reconnect). Statuses, aggregate reports,
problem events, command results, contract heartbeats, commands, acks and snapshot requests
go at QoS 1 (:data:`~scada.link.mqtt_outbound.QOS1_TYPES`); power, readings and snapshots at
QoS 0. Nothing the link sends is retained except its presence: a retained
:class:`~scada.protocol.OnlineStatus` ``online`` on every connect, and the same topic's
``offline`` as MQTT last will and on a clean close; both carry the link's ``boot_id``, so a
peer tells a restart from a reconnect (the will's ``at`` is when the link started: MQTT cannot
know when a client dies).
Delivery beyond the broker is the store's business: QoS 1 only reaches the broker, the ATN's
application-level :class:`~scada.protocol.Ack` is what empties the outbox.
:meth:`~MqttLink.publish` / :meth:`~MqttLink.publish_encoded` return a
:class:`~scada.link.mqtt_types.Publication` whose future says when the broker acknowledged a
message (PUBACK).

**Bad input** never crashes anything: what is refused, and why, is
:mod:`scada.link.mqtt_inbound`'s business. Each refusal is counted by kind in
:meth:`~MqttLink.stats` and logged once per kind; a command that arrives for another SCADA or
from a sender other than the peer is answered with a refused
:class:`~scada.protocol.CommandResult` giving the reason.

**Expired commands are delivered**, not dropped here: the controller refuses them and its
:class:`~scada.protocol.CommandResult` carries the reason back to the ATN (a command dropped in
the link would vanish without an answer, defect 30). The link only counts them
(``expired_commands``).
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Collection
from typing import Final

import paho.mqtt.client as mqtt

from scada.clock import Clock
from scada.link.base import UplinkHandler
from scada.link.mqtt_callbacks import Callbacks, Inbox, LoopSide
from scada.link.mqtt_client import make_client, start_network_thread
from scada.link.mqtt_inbound import Answer, InboundCheck, Refusal
from scada.link.mqtt_outbound import QOS1_TYPES, Publisher
from scada.link.mqtt_settings import MqttSettings
from scada.link.mqtt_state import BrokerState, StateListener
from scada.link.mqtt_types import Backoff, LinkCounts, LinkStats, Publication, Session
from scada.protocol import encode
from scada.protocol.base import WireMessage, new_id
from scada.protocol.commands import ActuatorCommand
from scada.protocol.enums import LinkState, OnlineState
from scada.protocol.topics import topic, topic_filter
from scada.protocol.uplink import OnlineStatus

log = logging.getLogger(__name__)

PRESENCE_TYPE: Final = "online"
INBOUND_LIMIT: Final = 10_000
"""Messages handed from paho's thread and not yet taken by :meth:`MqttLink.run`; beyond it
incoming messages are dropped and counted (``dropped['inbound_full']``)."""
WATCHDOG_S: Final = 5.0
"""How often the loop checks that paho's network thread is still there."""


class MqttLink:
    """One end of the uplink over an MQTT broker; implements :class:`~scada.link.base.Uplink`.

    Args:
        settings: broker URL, identity, credentials, TLS, timing (:class:`MqttSettings`).
        me: this end's alias (topics ``gw/<me>/to/<peer>/...`` out).
        peer: the other end's alias (topics ``gw/<peer>/to/<me>/...`` in).
        clock: time for message stamps (presence, refusals, expiry checks).
        qos1_types: message types sent at QoS 1
            (:data:`~scada.link.mqtt_outbound.QOS1_TYPES`).
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
        self._broker = BrokerState()
        self._session: Session | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._inbox = Inbox(inbound_limit)
        self._check = InboundCheck(me, peer)
        self._out = Publisher(me, peer, self.qos1_types, self._log_once)
        self._logged: set[str] = set()
        self.peer_presence: OnlineStatus | None = None
        """The peer's latest presence message (retained ones included)."""
        self._counts = LinkCounts()
        self._tasks: set[asyncio.Task[None]] = set()

    # ================================================================ public API
    @property
    def broker_state(self) -> LinkState:
        return self._broker.state

    @property
    def detail(self) -> str | None:
        """Why the broker state is what it is, for a person (``None`` while up)."""
        return self._broker.detail

    def stats(self) -> LinkStats:
        inbound_dropped = self._inbox.dropped
        dropped = dict(self._out.dropped)
        if inbound_dropped:
            dropped["inbound_full"] = inbound_dropped
        return self._counts.report(
            self._broker.state, self._broker.detail, self._out.published, dropped
        )

    def add_state_listener(self, listener: StateListener) -> None:
        """Call ``listener(state, detail)`` on the event loop at every broker state change."""
        self._broker.add_listener(listener)

    def remove_state_listener(self, listener: StateListener) -> None:
        self._broker.remove_listener(listener)

    async def wait_for_state(self, state: LinkState) -> None:
        """Return once :attr:`broker_state` is ``state`` (bound it with ``asyncio.timeout``)."""
        await self._broker.wait_for(state)

    def start(self) -> bool:
        """Start connecting in the background (needs a running event loop); returns at once.

        False if already started. A client that cannot even be set up (an unreadable CA or
        password file) leaves the link ``down`` with the reason in :attr:`detail`; it never
        raises for a broker problem.
        """
        if self._session is not None:
            return False
        self._loop = asyncio.get_running_loop()
        sess = Session(
            Backoff(self.settings.reconnect_min_s, self.settings.reconnect_max_s, self._rng)
        )
        self._session = sess
        self._logged.discard("connect")
        self._broker.set(LinkState.CONNECTING, f"connecting to {self.settings.display_url}")
        try:
            client = self._make_client(sess)
        except (OSError, ValueError) as e:  # ssl.SSLError is an OSError
            why = f"cannot set up the MQTT client: {e}"
            log.error("%s", why)  # noqa: TRY400 - the reason is the message; no traceback
            self._broker.set(LinkState.DOWN, why)
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
        sess.thread = start_network_thread(client)
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
            if self.presence and self._broker.state is LinkState.UP:
                self._out.publish(
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
        sess.fail_all()
        self._inbox.clear()  # what nobody took: gone with the session
        self._broker.set(LinkState.DOWN, "closed")
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
                if sess is not self._session:
                    continue
                msg = self._accept(topic_, payload, retain=retain)
                if msg is None:
                    continue
                self._counts.received += 1
                try:
                    await handler(msg)
                except Exception:
                    self._counts.handler_errors += 1
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
        topic_ = self._out.topic_for(message_type)
        if topic_ is None:
            return None
        return self._track(self._send(message_type, topic_, payload), message_id)

    # ================================================================ outgoing
    def _send_message(
        self, message: WireMessage
    ) -> tuple[Session, mqtt.MQTTMessageInfo, int, str] | None:
        if self._broker.state is not LinkState.UP:  # before encoding: nothing to do while down
            self._out.dropped["not_connected"] += 1
            return None
        encoded = self._out.encode(message)
        return None if encoded is None else self._send(message.type, *encoded)

    def _send(
        self, message_type: str, topic_: str, payload: bytes
    ) -> tuple[Session, mqtt.MQTTMessageInfo, int, str] | None:
        sess = self._session
        client = sess.client if sess is not None else None
        if sess is None or client is None or self._broker.state is not LinkState.UP:
            self._out.dropped["not_connected"] += 1
            return None
        qos = self._out.qos(message_type)
        info = self._out.publish(client, topic_, payload, qos=qos, retain=False)
        return None if info is None else (sess, info, qos, topic_)

    def _track(
        self,
        sent: tuple[Session, mqtt.MQTTMessageInfo, int, str] | None,
        message_id: str | None,
    ) -> Publication | None:
        if sent is None:
            return None
        sess, info, qos, topic_ = sent
        assert self._loop is not None
        pub = Publication(info.mid, qos, topic_, message_id, self._loop.create_future())
        sess.track(pub)
        return pub

    def _presence(self, state: OnlineState) -> bytes:
        return encode(OnlineStatus(state=state, boot_id=self.boot_id, at=self.clock.now()))

    # ================================================================ incoming
    def _accept(self, topic_: str | None, payload: bytes, *, retain: bool) -> WireMessage | None:
        """Decode and check one incoming message; ``None`` (counted, logged once) if refused."""
        msg = self._check.check(topic_, payload, retain=retain)
        if isinstance(msg, Refusal):
            self._refuse(msg.kind, msg.text)
            if msg.answer is not None:
                self._answer(msg.answer)
            return None
        if isinstance(msg, OnlineStatus):
            self.peer_presence = msg
        if isinstance(msg, ActuatorCommand) and msg.expired(self.clock.now()):
            # delivered all the same: the controller answers with the reason
            self._counts.expired_commands += 1
        return msg

    def _refuse(self, kind: str, text: str) -> None:
        self._counts.malformed[kind] += 1
        self._log_once(
            f"in:{kind}",
            "ignored an incoming message (%s): %s; more of this kind are only counted",
            kind,
            text,
        )

    def _answer(self, answer: Answer) -> None:
        """Refuse a command that was not for us, back to whoever sent it."""
        sess = self._session
        if sess is None or sess.client is None:
            return
        result = encode(answer.result(self.clock.now()))
        if self._out.publish(sess.client, answer.topic, result, qos=1, retain=False) is not None:
            self._counts.answered += 1

    # ================================================================ client set-up
    def _make_client(self, sess: Session) -> mqtt.Client:
        assert self._loop is not None
        will = (
            (self._presence_topic, self._presence(OnlineState.OFFLINE)) if self.presence else None
        )
        callbacks = Callbacks(
            sess,
            self._loop,
            self.subscription,
            LoopSide(
                refused=self._loop_refused,
                connected=self._loop_connected,
                subscribed=self._loop_subscribed,
                disconnected=self._loop_disconnected,
                connect_failed=self._loop_connect_failed,
                inbound=self._loop_inbound,
                published=self._loop_published,
                take_slot=self._inbox.take_slot,
                give_slot=self._inbox.give_slot,
            ),
        )
        return make_client(self.settings, self.client_id, callbacks, will=will)

    # ================================================================ on the loop
    def _loop_refused(self, sess: Session, why: str) -> None:
        if sess is not self._session:
            return
        self._counts.connect_failures += 1
        self._broker.refused(why)
        self._log_once("connect", "MQTT broker %s refused us: %s", self.settings.display_url, why)

    def _loop_connected(self, sess: Session) -> None:
        if sess is not self._session:
            return
        self._counts.connects += 1
        self._logged.discard("connect")
        if self.presence and sess.client is not None:
            self._out.publish(
                sess.client,
                self._presence_topic,
                self._presence(OnlineState.ONLINE),
                qos=1,
                retain=True,
            )

    def _loop_subscribed(self, sess: Session, refused: str | None) -> None:
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
        self._broker.subscribed(refused)

    def _loop_disconnected(self, sess: Session, why: str, delay: int, was_connected: bool) -> None:
        if sess is not self._session:
            return
        sess.connection_lost()
        if was_connected:
            self._counts.disconnects += 1
            log.warning(
                "MQTT link %s -> %s lost the broker (%s); reconnecting in %d s",
                self.me,
                self.peer,
                why,
                delay,
            )
        self._broker.lost(why, delay, was_connected=was_connected)

    def _loop_connect_failed(self, sess: Session, why: str, delay: int) -> None:
        if sess is not self._session:
            return
        self._counts.connect_failures += 1
        self._log_once(
            "connect",
            "cannot reach MQTT broker %s: %s (retrying with back-off)",
            self.settings.display_url,
            why,
        )
        self._broker.unreachable(self.settings.display_url, why, delay)

    def _loop_inbound(
        self, sess: Session, topic_: str | None, payload: bytes, retain: bool
    ) -> None:
        if sess is not self._session:  # arrived after close(): nobody will take it
            self._inbox.give_slot()
            return
        self._inbox.put((sess, topic_, payload, retain))

    def _loop_published(self, sess: Session, mid: int, ok: bool) -> None:
        if ok:
            self._counts.broker_acked += 1
        sess.settle(mid, ok)

    def _watchdog(self, sess: Session) -> None:
        if sess is not self._session or sess.closing:
            return
        assert self._loop is not None
        if sess.thread is not None and not sess.thread.is_alive():
            self._counts.thread_restarts += 1
            log.error("the MQTT network thread of %s stopped; starting a fresh client", self.me)
            task = self._loop.create_task(self._renew(sess), name=f"mqtt-renew:{self.me}")
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            return
        sess.watchdog = self._loop.call_later(WATCHDOG_S, self._watchdog, sess)

    async def _renew(self, sess: Session) -> None:
        if sess is self._session:
            await self.close()
            self.start()

    def _log_once(self, key: str, fmt: str, *args: object) -> None:
        if key in self._logged:
            log.debug(fmt, *args)
            return
        self._logged.add(key)
        log.warning(fmt, *args)
