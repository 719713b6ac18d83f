"""What the console needs from a SCADA connection, and the reconnect back-off.

The app talks to :class:`ScadaClient`, which :class:`scada.api.client.ApiClient` satisfies as it
is; tests hand the app a fake one through a :data:`Connector`. Nothing here imports Textual.
"""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from scada.api.client import ApiClient, UnknownEvent
from scada.protocol import (
    AuditList,
    CommandResult,
    EventFrame,
    EventKind,
    EventList,
    Hello,
    HouseList,
    Mode,
    RelayState,
    Snapshot,
)


class ScadaClient(Protocol):
    """The slice of the local API client the console uses."""

    hello: Hello

    @property
    def closed(self) -> bool: ...

    async def close(self) -> None: ...

    async def snapshot(self) -> Snapshot: ...

    async def set_relay(
        self, node: str, state: RelayState, operator: str
    ) -> CommandResult | dict[str, Any]: ...

    async def take_hold(self, operator: str, minutes: float) -> dict[str, Any]: ...

    async def keep_alive(self, operator: str) -> dict[str, Any]: ...

    async def release_hold(self, operator: str) -> dict[str, Any]: ...

    async def set_mode(self, mode: Mode, operator: str) -> dict[str, Any]: ...

    async def list_houses(self) -> HouseList: ...

    async def switch_house(
        self, alias: str, simulated: bool, operator: str, confirm: str | None = None
    ) -> dict[str, Any]: ...

    async def recent_events(self, limit: int = 100) -> EventList: ...

    async def audit_log(self, limit: int = 100) -> AuditList: ...

    async def subscribe(self, kinds: Iterable[EventKind]) -> dict[str, Any]: ...

    def events(self) -> AsyncIterator[EventFrame | UnknownEvent]: ...


Connector = Callable[[Path | None], Awaitable[ScadaClient]]
"""Opens one connection (``None``: find the socket the usual way) or raises
``ApiConnectError``."""


async def connect_api(path: Path | None) -> ScadaClient:
    """The production :data:`Connector`: the real local API client."""
    return await ApiClient.connect(path)


_JITTER = random.Random()  # noqa: S311 -- jitter, not secrets


@dataclass
class Backoff:
    """Capped, jittered exponential back-off between reconnect attempts.

    Starts fast (an SCADA restart takes about a second) and settles at ``cap_s`` so a console
    left attached to a stopped SCADA polls gently.
    """

    first_s: float = 0.25
    cap_s: float = 5.0
    jitter: float = 0.2
    attempt: int = 0

    def next_delay(self, rng: random.Random | None = None) -> float:
        base = min(self.cap_s, self.first_s * 2.0**self.attempt)
        self.attempt += 1
        # Jitter so consoles attached to one restarting SCADA do not reconnect in lockstep.
        spread = (rng or _JITTER).uniform(-self.jitter, self.jitter)
        return max(0.05, base * (1 + spread))

    def reset(self) -> None:
        self.attempt = 0
