"""paho's callbacks for one MQTT client, and how what they receive crosses to the asyncio loop.

paho runs its network loop in its own thread (``loop_start``): connecting, reading, writing,
keepalive pings and reconnecting all happen there. Every callback here does one thing — hand
plain data (topic, payload bytes, reason strings) to the asyncio loop, through a queue that one
``loop.call_soon_threadsafe`` empties however much piled up — and never raises (each body is
guarded, and the client runs with ``suppress_exceptions``): in the original one exception in a
callback killed the network thread and left the SCADA deaf (defect 4). The only paho calls made
*from* callbacks are the ones paho documents for that place: ``subscribe`` in ``on_connect`` (so
every reconnect re-subscribes) and ``reconnect_delay_set`` (to steer the back-off). Everything
else — decoding, counting, state, listeners, the handler — runs on the loop, in
:class:`~scada.link.mqtt.MqttLink`.

Incoming messages wait in an :class:`Inbox` of bounded size; paho's thread reserves room before
handing one over, so a flood is dropped (and counted) in that thread instead of piling up on
the loop.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

import paho.mqtt.client as mqtt
from paho.mqtt.reasoncodes import ReasonCode

from scada.link.mqtt_types import Session

# The link's logger: its records keep one name however the link's code is split into modules.
log = logging.getLogger("scada.link.mqtt")

STABLE_S: Final = 30.0
"""A connection that lasted this long resets the back-off; a shorter one keeps escalating."""

Inbound = tuple[Session, str | None, bytes, bool]
"""An incoming message as paho handed it over: its session, topic (``None`` if not UTF-8),
payload and retain flag."""


class Inbox:
    """Incoming messages handed over by paho's thread and not yet taken by the link, at most
    ``limit`` of them; beyond that they are dropped and counted (:attr:`dropped`).

    A message takes a slot in paho's thread (:meth:`take_slot`) before it is handed over and
    gives it back when taken (:meth:`get`), left (:meth:`clear`) or never handed over
    (:meth:`give_slot`); slots and the count are thread-safe, the queue is the loop's.
    """

    def __init__(self, limit: int) -> None:
        self._queue: asyncio.Queue[Inbound] = asyncio.Queue(limit)
        self._limit = limit
        self._lock = threading.Lock()
        self._slots = 0  # handed over by paho's thread, not yet taken by get()
        self._dropped = 0  # guarded by _lock

    @property
    def dropped(self) -> int:
        """Messages refused for want of room, since the inbox was built."""
        with self._lock:
            return self._dropped

    def take_slot(self) -> bool:
        """Reserve room for one incoming message (any thread); False (and counted) if full."""
        with self._lock:
            if self._slots >= self._limit:
                self._dropped += 1
                return False
            self._slots += 1
            return True

    def give_slot(self) -> None:
        with self._lock:
            self._slots -= 1

    def put(self, message: Inbound) -> None:
        """On the loop: queue a message whose slot was taken."""
        try:
            self._queue.put_nowait(message)
        except asyncio.QueueFull:  # cannot happen while slots <= the queue's size
            with self._lock:
                self._slots -= 1
                self._dropped += 1

    async def get(self) -> Inbound:
        """The oldest message, its slot given back."""
        message = await self._queue.get()
        self.give_slot()
        return message

    def clear(self) -> None:
        """Forget every message not yet taken, giving their slots back."""
        while not self._queue.empty():
            self._queue.get_nowait()
            self.give_slot()


@dataclass(frozen=True, slots=True)
class LoopSide:
    """Where :class:`Callbacks` hand things over: each ``fn(sess, ...)`` runs on the loop, except
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


class Callbacks:
    """paho's callbacks for one session. They run in paho's network thread, hand plain data to
    the loop and never raise (defect 4)."""

    def __init__(
        self,
        sess: Session,
        loop: asyncio.AbstractEventLoop,
        subscription: str,
        to: LoopSide,
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
