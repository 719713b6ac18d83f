"""The broker connection's state as :class:`~scada.link.mqtt.MqttLink` reports it: the state,
why it is so (for a person), and the listeners told of every change.

``connecting`` until the first outcome, ``up`` once connected *and* subscribed, ``down``
otherwise. All of it runs on the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from scada.protocol.enums import LinkState

log = logging.getLogger(__name__)

StateListener = Callable[[LinkState, str | None], None]

_RETRY = "; retrying in"


class BrokerState:
    """The state of one link's broker connection and who hears of its changes."""

    def __init__(self) -> None:
        self.state = LinkState.NOT_CONFIGURED
        self.detail: str | None = None
        """Why the state is what it is, for a person (``None`` while up)."""
        self._listeners: list[StateListener] = []
        self._changed = asyncio.Event()

    def add_listener(self, listener: StateListener) -> None:
        self._listeners.append(listener)

    def remove_listener(self, listener: StateListener) -> None:
        with contextlib.suppress(ValueError):
            self._listeners.remove(listener)

    async def wait_for(self, state: LinkState) -> None:
        """Return once the state is ``state``."""
        while self.state is not state:
            self._changed.clear()
            await self._changed.wait()

    def set(self, state: LinkState, detail: str | None) -> None:
        """Make it ``state`` because of ``detail``; the listeners hear of a change of state (a
        new detail alone is no change). A listener that raises is logged, never passed on."""
        changed = state is not self.state
        self.state = state
        self.detail = detail
        self._changed.set()
        if not changed:
            return
        for listener in list(self._listeners):
            try:
                listener(state, detail)
            except Exception:
                log.exception("a link state listener failed")

    # ------------------------------------------------------------ what happened, in words
    def refused(self, why: str) -> None:
        """The broker refused the connection (bad credentials, a banned client id)."""
        self.set(LinkState.DOWN, f"the broker refused the connection: {why}")

    def subscribed(self, refused: str | None) -> None:
        """Connected and subscribed: up (with the reason if the subscription was refused)."""
        self.set(LinkState.UP, f"subscription refused: {refused}" if refused else None)

    def lost(self, why: str, delay: int, *, was_connected: bool) -> None:
        """The connection ended (or an attempt did); the next is in ``delay`` seconds."""
        if was_connected:
            self.set(LinkState.DOWN, f"connection lost: {why}{_RETRY} {delay} s")
        elif self.state is not LinkState.DOWN:
            self.set(LinkState.DOWN, f"{why}{_RETRY} {delay} s")
        else:  # keep the broker's reason (e.g. Not authorized), note the retry
            base = (self.detail or why).split(_RETRY)[0]
            self.set(LinkState.DOWN, f"{base}{_RETRY} {delay} s")

    def unreachable(self, url: str, why: str, delay: int) -> None:
        """The broker at ``url`` could not be reached; the next try is in ``delay`` seconds."""
        self.set(LinkState.DOWN, f"cannot reach {url}: {why}{_RETRY} {delay} s")
