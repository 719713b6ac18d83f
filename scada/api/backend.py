"""What the local API server needs from the runtime, and nothing more.

The server knows frames and sessions; the runtime knows the house. This seam keeps the server
testable with a small fake backend and keeps the runtime free of socket code.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from scada.hub import Subscription
from scada.protocol import ApiRequest, EventKind, Hello, Reply, Snapshot


@dataclass(frozen=True, slots=True)
class Peer:
    """The process at the other end of a socket, from SO_PEERCRED."""

    pid: int
    uid: int
    gid: int
    #: Its supplementary groups (``/proc/<pid>/status``): an installer who joined ``gwscada``
    #: keeps their own primary group.
    groups: frozenset[int] = field(default=frozenset(), compare=False)


class ApiBackend(Protocol):
    def hello(self) -> Hello:
        """The first frame of every session."""
        ...

    def snapshot(self) -> Snapshot:
        """The whole current state, sent on connect."""
        ...

    def subscribe(
        self, name: str, maxsize: int, kinds: frozenset[EventKind] | None
    ) -> Subscription:
        """A bounded event feed for one session; the hub drops it when it falls behind."""
        ...

    async def handle(self, request: ApiRequest, peer: Peer) -> Reply:
        """Answer one request. Never raises: a refusal is a Reply with ok=False."""
        ...
