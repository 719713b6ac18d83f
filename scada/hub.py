"""Fan-out of runtime events to subscribers (console sessions, the uplink) with bounded queues.

Publishing never waits: each subscriber has its own bounded queue, and a subscriber whose
queue is full is dropped (its ``dropped`` flag set and its queue closed) so one slow console
can never slow the runtime or the other consoles.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from datetime import datetime

from scada.protocol import EventKind, WireMessage

log = logging.getLogger(__name__)

DEFAULT_QUEUE = 2048


class Event:
    """One published event. ``wire()`` renders it once and shares the bytes with every
    subscriber, so three consoles cost one encoding, not three."""

    __slots__ = ("_wire", "at", "kind", "payload")

    def __init__(self, kind: EventKind, payload: WireMessage, at: datetime) -> None:
        self.kind = kind
        self.payload = payload
        self.at = at
        self._wire: bytes | None = None

    def wire(self, render: Callable[[Event], bytes]) -> bytes:
        """``render(self)``, computed on first use and cached."""
        if self._wire is None:
            self._wire = render(self)
        return self._wire


_CLOSED = object()


class Subscription:
    """One subscriber's bounded queue. Iterate it; iteration ends when it is closed or dropped."""

    def __init__(
        self, hub: EventHub, name: str, maxsize: int, kinds: frozenset[EventKind] | None
    ) -> None:
        self.name = name
        self.kinds = kinds
        self.dropped = False
        self._hub = hub
        self._queue: asyncio.Queue[Event | object] = asyncio.Queue(maxsize)
        self._closed = False

    def offer(self, event: Event) -> bool:
        """Queue ``event`` without waiting; False when full (the caller drops us)."""
        if self._closed:
            return True
        try:
            self._queue.put_nowait(event)
        except asyncio.QueueFull:
            return False
        return True

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._hub.unsubscribe(self)
        # Make room for the end marker so a blocked reader wakes even when the queue is full.
        while self._queue.full():
            self._queue.get_nowait()
        self._queue.put_nowait(_CLOSED)

    async def get(self) -> Event | None:
        """The next event, or None once closed."""
        item = await self._queue.get()
        if item is _CLOSED:
            return None
        assert isinstance(item, Event)
        return item

    def __aiter__(self) -> AsyncIterator[Event]:
        return self._iter()

    async def _iter(self) -> AsyncIterator[Event]:
        while (ev := await self.get()) is not None:
            yield ev

    @property
    def backlog(self) -> int:
        return self._queue.qsize()


class EventHub:
    """The runtime's broadcast point."""

    def __init__(self) -> None:
        self._subs: list[Subscription] = []
        self.published = 0

    def subscribe(
        self, name: str, *, maxsize: int = DEFAULT_QUEUE, kinds: frozenset[EventKind] | None = None
    ) -> Subscription:
        sub = Subscription(self, name, maxsize, kinds)
        self._subs.append(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        if sub in self._subs:
            self._subs.remove(sub)

    def wants(self, kind: EventKind) -> bool:
        """Whether any subscriber takes ``kind``: a publisher may skip building an event no
        one would get (a headless SCADA reads tens of channels a second with no console)."""
        return any(sub.kinds is None or kind in sub.kinds for sub in self._subs)

    def publish(self, kind: EventKind, payload: WireMessage, at: datetime) -> None:
        self.published += 1
        event = Event(kind, payload, at)
        for sub in tuple(self._subs):
            if sub.kinds is not None and kind not in sub.kinds:
                continue
            if not sub.offer(event):
                log.warning(
                    "dropping subscriber %s: %d events queued and unread", sub.name, sub.backlog
                )
                sub.dropped = True
                sub.close()

    @property
    def subscribers(self) -> int:
        return len(self._subs)
