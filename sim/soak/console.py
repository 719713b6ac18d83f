"""Consoles for the soak: a monitor that stays attached (re-attaching after each restart), and
consoles that attach and drop abruptly.

The monitor subscribes to the mode and problem streams of ``scada serve``'s local API and
keeps every event with the CLOCK_MONOTONIC reading at which it arrived (the checks place them
against the faults). Each (re-)attach also records the mode of the snapshot, so a mode entered
while no console was attached (right after a restart) is seen too. (The broker's and the
ATN's comings and goings are judged from the ``link_down`` / ``link_up`` problems the ATN got.)
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field
from pathlib import Path

from scada.api.client import ApiClient, ApiClientError
from scada.protocol.api_requests import Subscribe
from scada.protocol.codec import MAX_FRAME_BYTES, encode
from scada.protocol.control import ModeChanged
from scada.protocol.enums import EventKind
from scada.protocol.events import ProblemEvent

RETRY_S = 0.2
"""How soon (real seconds) the monitor tries to attach again after losing the SCADA."""


@dataclass(frozen=True, slots=True)
class Seen:
    """What the monitor saw at CLOCK_MONOTONIC ``t``: ``what`` is ``mode`` (``value`` the
    mode), ``problem`` (``value`` ``kind:subject``) or ``attach`` (``value`` the mode at
    attach)."""

    t: float
    what: str
    value: str


@dataclass
class Monitor:
    """A console kept attached to the SCADA at ``socket`` while :meth:`run` runs."""

    socket: Path
    seen: list[Seen] = field(default_factory=list)
    attached: bool = False
    mode: str | None = None

    def _note(self, what: str, value: str) -> None:
        self.seen.append(Seen(time.monotonic(), what, value))

    async def run(self) -> None:
        """Attach, record, re-attach when the SCADA goes, until cancelled."""
        while True:
            try:
                client = await ApiClient.connect(self.socket, timeout=5.0)
            except ApiClientError:
                await asyncio.sleep(RETRY_S)
                continue
            try:
                await self._follow(client)
            except ApiClientError:
                pass
            finally:
                self.attached = False
                await client.close()
            await asyncio.sleep(RETRY_S)

    async def _follow(self, client: ApiClient) -> None:
        snap = await client.snapshot()
        self.mode = snap.mode.value
        self._note("attach", self.mode)
        await client.subscribe((EventKind.MODE, EventKind.PROBLEM))
        self.attached = True
        async for ev in client.events():
            payload = getattr(ev, "payload", None)
            if isinstance(payload, ModeChanged):
                self.mode = payload.mode.value
                self._note("mode", self.mode)
            elif isinstance(payload, ProblemEvent):
                self._note("problem", f"{payload.kind.value}:{payload.subject}")


async def drop_consoles(socket: Path) -> int:
    """Two consoles that go without a word: one attaches, subscribes to everything and reads a
    little, then its connection is aborted; the other aborts in the middle of a request frame.
    Returns how many attached (each got the SCADA's hello)."""
    attached = 0
    frame = encode(Subscribe(id=1, topics=tuple(EventKind))) + b"\n"
    for cut in (len(frame), len(frame) // 2):
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_unix_connection(str(socket), limit=MAX_FRAME_BYTES), timeout=5.0
            )
        except (OSError, TimeoutError):
            continue
        try:
            async with asyncio.timeout(5.0):
                if not await reader.readline():
                    continue  # turned away before the hello
                attached += 1
                writer.write(frame[:cut])
                await writer.drain()
                if cut == len(frame):
                    for _ in range(3):  # the reply and the first events
                        await reader.readline()
        except (OSError, TimeoutError, ValueError):
            pass  # it is being dropped anyway; the checks look at what the SCADA made of it
        finally:
            writer.transport.abort()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
    return attached


async def attach_once(socket: Path) -> bool:
    """Whether a fresh console attaches and gets a snapshot within a few real seconds."""
    try:
        async with await ApiClient.connect(socket, timeout=5.0) as client:
            await client.snapshot()
    except ApiClientError:
        return False
    return True
