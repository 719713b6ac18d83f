"""Store-and-forward: every status, aggregate report and problem event goes through the outbox.

Messages are written to the store first (committed to disk), and only then sent. While the
SCADA is in RemoteControl with the uplink up, the forwarder sends them oldest first — statuses
before aggregates — with at most :data:`WINDOW` in flight; each leaves the store only when the
ATN acknowledges it. A message unacknowledged after :data:`ACK_TIMEOUT_S` goes back to the
queue; a link that goes down puts everything in flight back. Outside RemoteControl nothing is
sent, and the store's retention tiers keep the data (24 h whole, 7 days of 5-minute aggregates,
28 days hourly), compacted every :data:`COMPACT_PERIOD_S`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime

from scada.clock import Clock
from scada.link.base import Uplink
from scada.protocol.enums import LinkState
from scada.protocol.events import ProblemEvent
from scada.protocol.readings import AggregateReport, Status
from scada.protocol.snapshot import StoreStats
from scada.store import Store

log = logging.getLogger("scada.forwarder")

WINDOW = 256
ACK_TIMEOUT_S = 30.0
COMPACT_PERIOD_S = 300.0
IDLE_S = 1.0
BATCH_BYTES = 1_000_000  # one pass never unpacks more than this (a 40-channel status is ~35 KB)

Storable = Status | AggregateReport | ProblemEvent


class Forwarder:
    def __init__(
        self,
        store: Store,
        uplink: Uplink | None,
        clock: Clock,
        *,
        may_send: Callable[[], bool],
    ) -> None:
        self.store = store
        self.uplink = uplink
        self.clock = clock
        self._may_send = may_send
        self._in_flight: dict[str, float] = {}
        self._acks: list[str] = []
        self._wake = asyncio.Event()
        # Whether the store may hold messages not yet sent: set by every put, requeue and
        # compaction, cleared when a batch comes back empty. A quiet house then costs no query
        # a second (86,400 a day) for an outbox with nothing to send.
        self._pending = True
        self.sent = 0
        self.acked = 0
        self.last_ack_at: datetime | None = None

    def offer(self, msg: Storable) -> None:
        """Keep ``msg`` until the ATN acknowledges it (on disk when this returns)."""
        self.store.put(msg)
        self._pending = True
        self._wake.set()

    def ack(self, message_id: str) -> None:
        """The ATN has the message. Deleted on the next pass, with the other acks of that pass:
        one transaction for many acks, because each commit is a flush to the SD card."""
        self._in_flight.pop(message_id, None)
        self._acks.append(message_id)
        self._wake.set()

    def link_changed(self) -> None:
        """The uplink went up or down (or the mode changed): re-plan at once."""
        self._wake.set()

    def stats(self) -> StoreStats:
        return self.store.stats()

    async def run(self) -> None:
        # Whatever was in flight when the last run ended is unacknowledged: send it again.
        self.store.requeue_in_flight()
        next_compact = self.clock.monotonic()
        while True:
            now = self.clock.monotonic()
            if now >= next_compact:
                next_compact = now + COMPACT_PERIOD_S
                try:
                    report = self.store.compact(self.clock.now())
                except Exception:  # the boundary: what is stored must still go up without it
                    log.exception(
                        "store: compaction failed (rolled back); sending goes on, compaction "
                        "is tried again in %.0f s",
                        COMPACT_PERIOD_S,
                    )
                else:
                    if not report.done:
                        next_compact = now + IDLE_S
                    self._pending = True  # compaction may have made aggregates to send
            if self._acks:
                done = self.store.ack_many(self._acks)
                self._acks.clear()
                if done:
                    self.acked += done
                    self.last_ack_at = self.clock.now()
            if self._ready():
                self._expire_in_flight(now)
                self._send_some(now)
            elif self._in_flight:
                self.store.requeue_in_flight(list(self._in_flight))
                self._in_flight.clear()
                self._pending = True
            self._wake.clear()
            # With nothing awaiting an ack, and nothing to send or no right to send it (not in
            # RemoteControl: a mode change wakes us), only a wake (a message, an ack, the link or
            # the mode changing) or the next compaction has work for this loop.
            idle_s = IDLE_S
            if not self._in_flight and (not self._pending or not self._may_send()):
                idle_s = max(IDLE_S, next_compact - self.clock.monotonic())
            try:
                async with asyncio.timeout(idle_s):
                    await self._wake.wait()
            except TimeoutError:
                pass

    def _ready(self) -> bool:
        up = self.uplink is not None and self.uplink.broker_state is LinkState.UP
        return up and self._may_send()

    def _expire_in_flight(self, now: float) -> None:
        late = [mid for mid, sent in self._in_flight.items() if now - sent > ACK_TIMEOUT_S]
        if late:
            log.info(
                "%d messages unacknowledged after %.0f s: queued again", len(late), ACK_TIMEOUT_S
            )
            self.store.requeue_in_flight(late)
            self._pending = True
            for mid in late:
                del self._in_flight[mid]

    def _send_some(self, now: float) -> None:
        assert self.uplink is not None
        room = WINDOW - len(self._in_flight)
        if room <= 0 or not self._pending:
            return
        # What is in flight is marked so in the store (mark_sent right after the send, and
        # requeue when it leaves the window), so the store hands out only what is not: the
        # batch is exactly the room, and no payload is unpacked only to be skipped.
        batch = self.store.next_batch(room, max_bytes=BATCH_BYTES)
        if not batch:
            self._pending = False
            return
        sent_ids: list[str] = []
        for item in batch:
            if not self.uplink.send_encoded(item.kind, item.payload):
                break
            self._in_flight[item.id] = now
            sent_ids.append(item.id)
        if sent_ids:
            self.store.mark_sent(sent_ids)
            self.sent += len(sent_ids)
