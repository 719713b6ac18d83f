"""An uplink inside one process: the simulator's ATN and the SCADA share an event loop.

Each direction is a bounded queue of encoded frames, so both ends see exactly what an MQTT
link would carry (messages go through :func:`encode` / :func:`decode`), with no broker.
"""

from __future__ import annotations

import asyncio
import logging

from scada.link.base import UplinkHandler
from scada.protocol import ProtocolError, decode, encode
from scada.protocol.base import WireMessage
from scada.protocol.enums import LinkState

log = logging.getLogger(__name__)

QUEUE = 10_000


class LinkEnd:
    """One end of an :class:`InProcessLink`: sends to the other end, receives from it."""

    def __init__(
        self, name: str, inbox: asyncio.Queue[bytes], outbox: asyncio.Queue[bytes]
    ) -> None:
        self.name = name
        self._inbox = inbox
        self._outbox = outbox
        self.connected = True
        self.received = 0
        self.dropped = 0

    @property
    def broker_state(self) -> LinkState:
        return LinkState.UP if self.connected else LinkState.DOWN

    def send(self, message: WireMessage) -> bool:
        if not self.connected:
            self.dropped += 1
            return False
        try:
            self._outbox.put_nowait(encode(message))
        except asyncio.QueueFull:
            self.dropped += 1
            return False
        return True

    def send_encoded(self, message_type: str, payload: bytes) -> bool:  # noqa: ARG002 - the frame names its type
        if not self.connected:
            self.dropped += 1
            return False
        try:
            self._outbox.put_nowait(payload)
        except asyncio.QueueFull:
            self.dropped += 1
            return False
        return True

    async def run(self, handler: UplinkHandler) -> None:
        while True:
            frame = await self._inbox.get()
            if not self.connected:
                continue
            try:
                msg = decode(frame, where=f"in-process link to {self.name}")
            except ProtocolError as e:
                log.warning("dropping bad frame: %s", e)
                continue
            self.received += 1
            await handler(msg)


class InProcessLink:
    """A pair of connected ends: ``scada`` and ``atn``. ``cut()``/``restore()`` simulate outages."""

    def __init__(self) -> None:
        up: asyncio.Queue[bytes] = asyncio.Queue(QUEUE)
        down: asyncio.Queue[bytes] = asyncio.Queue(QUEUE)
        self.scada = LinkEnd("atn", inbox=down, outbox=up)
        self.atn = LinkEnd("scada", inbox=up, outbox=down)

    def cut(self) -> None:
        self.scada.connected = False
        self.atn.connected = False

    def restore(self) -> None:
        self.scada.connected = True
        self.atn.connected = True
