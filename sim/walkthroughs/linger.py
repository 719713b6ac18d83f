"""After a watched walkthrough's end: keep serving its consoles until the last one has gone.

A console left on the final picture should stay live (its detail views and requests still
work) rather than grey out the moment the record closes, so the runtime keeps serving; but the
loop is slowed to real time first, so the house barely moves past the judged end. Once the
record's own subscription is closed, every hub subscriber left is a console's session: the run
stops when there has been none for :data:`LINGER_GRACE_S`, on a stop signal, or when the runtime
ends by itself.
"""

from __future__ import annotations

import asyncio

from scada.clock import VirtualTimeLoop
from scada.hub import EventHub

LINGER_GRACE_S = 2.0
"""After the end, how long (real seconds) no console may be attached before the run stops; long
enough for a console dropped as too slow to come back."""
_LINGER_POLL_S = 0.25


async def serve_until_detached(
    hub: EventHub, halt: asyncio.Event, running: asyncio.Task[object]
) -> None:
    """Run on at real time until ``hub`` has had no subscriber for :data:`LINGER_GRACE_S`,
    ``halt`` is set or ``running`` (the runtime) ends. Call it only once the caller's own
    subscriptions to ``hub`` are closed, as any left would count as a console."""
    loop = asyncio.get_running_loop()
    if isinstance(loop, VirtualTimeLoop):
        loop.set_speed(1.0)
    quiet_s = 0.0
    while quiet_s < LINGER_GRACE_S and not halt.is_set() and not running.done():
        quiet_s = 0.0 if hub.subscribers else quiet_s + _LINGER_POLL_S
        halted = asyncio.ensure_future(halt.wait())
        try:
            await asyncio.wait({halted, running}, timeout=_LINGER_POLL_S)
        finally:
            halted.cancel()
