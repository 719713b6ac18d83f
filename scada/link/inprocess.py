"""An uplink inside one process: the simulator's ATN and the SCADA share an event loop.

Each direction is a bounded queue. A message is handed over as the object it is: wire messages
are frozen pydantic models, validated when built, so the receiver cannot change what the sender
holds, and the JSON round trip an MQTT link makes would only cost time (about a tenth of a
simulated house's). What the store keeps as bytes (statuses, problems and aggregates, sent with
:meth:`LinkEnd.send_encoded`) travels as those bytes and is decoded at the other end, exactly as
over MQTT. Every message type's encoding is tested on its own and over the MQTT link.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from scada.link.base import UplinkHandler
from scada.protocol import ProtocolError, decode
from scada.protocol.base import WireMessage
from scada.protocol.enums import LinkState

log = logging.getLogger(__name__)

QUEUE = 10_000

Frame = WireMessage | bytes
"""What a queue carries: a message, or a message's encoding as the store keeps it."""


class LinkEnd:
    """One end of an :class:`InProcessLink`: sends to the other end, receives from it."""

    def __init__(
        self, name: str, inbox: asyncio.Queue[Frame], outbox: asyncio.Queue[Frame]
    ) -> None:
        self.name = name
        self._inbox = inbox
        self._outbox = outbox
        self.connected = True
        self.received = 0
        self.dropped = 0
        self._listeners: list[Callable[[LinkState, str | None], None]] = []

    @property
    def broker_state(self) -> LinkState:
        return LinkState.UP if self.connected else LinkState.DOWN

    def add_state_listener(self, listener: Callable[[LinkState, str | None], None]) -> None:
        """Call ``listener(state, detail)`` at every change of :attr:`broker_state`, as the
        MQTT link does."""
        self._listeners.append(listener)

    def set_connected(self, connected: bool) -> None:
        if connected is self.connected:
            return
        self.connected = connected
        for listener in list(self._listeners):
            listener(self.broker_state, None if connected else "cut")

    def send(self, message: WireMessage) -> bool:
        return self._put(message)

    def send_encoded(self, message_type: str, payload: bytes) -> bool:  # noqa: ARG002 - the frame names its type
        return self._put(payload)

    def _put(self, frame: Frame) -> bool:
        if not self.connected:
            self.dropped += 1
            return False
        try:
            self._outbox.put_nowait(frame)
        except asyncio.QueueFull:
            self.dropped += 1
            return False
        return True

    async def run(self, handler: UplinkHandler) -> None:
        while True:
            frame = await self._inbox.get()
            if not self.connected:
                continue
            msg: WireMessage
            if isinstance(frame, bytes):
                try:
                    msg = decode(frame, where=f"in-process link to {self.name}")
                except ProtocolError as e:
                    log.warning("dropping bad frame: %s", e)
                    continue
            else:
                msg = frame
            self.received += 1
            await handler(msg)


class InProcessLink:
    """A pair of connected ends: ``scada`` and ``atn``. ``cut()``/``restore()`` simulate outages."""

    def __init__(self) -> None:
        up: asyncio.Queue[Frame] = asyncio.Queue(QUEUE)
        down: asyncio.Queue[Frame] = asyncio.Queue(QUEUE)
        self.scada = LinkEnd("atn", inbox=down, outbox=up)
        self.atn = LinkEnd("scada", inbox=up, outbox=down)

    def cut(self) -> None:
        self.scada.set_connected(False)
        self.atn.set_connected(False)

    def restore(self) -> None:
        self.scada.set_connected(True)
        self.atn.set_connected(True)
