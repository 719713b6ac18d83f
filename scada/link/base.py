"""The uplink interface. Everything above it is the same code for MQTT and in-process links.

A link carries :mod:`scada.protocol` messages between the SCADA and its ATN. It reports the
broker's liveness (``broker_state``); ATN liveness is the controller's business (heartbeats),
kept apart from the broker's (defect 9 of the original merged them).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol

from scada.protocol.base import WireMessage
from scada.protocol.enums import LinkState

UplinkHandler = Callable[[WireMessage], Awaitable[None]]
"""Called with each message that arrives from the ATN, in arrival order."""


class Uplink(Protocol):
    """A connection to the ATN."""

    @property
    def broker_state(self) -> LinkState: ...

    async def run(self, handler: UplinkHandler) -> None:
        """Deliver incoming messages to ``handler`` until cancelled; reconnects by itself."""
        ...

    def send(self, message: WireMessage) -> bool:
        """Queue ``message`` for the ATN without waiting; False when it could not be queued."""
        ...

    def send_encoded(self, message_type: str, payload: bytes) -> bool:
        """:meth:`send` for a message already encoded (the store keeps its outbox as bytes)."""
        ...
