"""The simulated ATN's acknowledgements: one :class:`Ack` per burst of messages, not per message.

A backlog arrives hundreds of messages at a time; acknowledging each on its own would send as
many Acks back. :class:`AckBatcher` collects the ids of the messages handled in one go and
sends them as one Ack (at most :data:`~scada.protocol.MAX_ACK_IDS` ids each) once the burst is
handled, i.e. at the event loop's next turn. Nothing is collected or sent while ``muted()``
(the ATN has gone silent), so a silent ATN acknowledges nothing it heard meanwhile.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from scada.clock import Clock
from scada.protocol import MAX_ACK_IDS, Ack, WireMessage


class AckBatcher:
    """Acks in bursts (see the module docstring); must be used inside a running event loop.

    Args:
        clock: stamps each Ack.
        send: sends a message; False if it could not be sent (the ids are not kept).
        muted: True while nothing may be acknowledged.
    """

    def __init__(
        self,
        clock: Clock,
        send: Callable[[WireMessage], bool],
        muted: Callable[[], bool],
    ) -> None:
        self._clock = clock
        self._send = send
        self._muted = muted
        self._to_ack: list[str] = []
        self._flush_due = False

    def add(self, message_id: str) -> None:
        """Acknowledge ``message_id`` with the rest of its burst."""
        if self._muted():
            return
        self._to_ack.append(message_id)
        if len(self._to_ack) >= MAX_ACK_IDS:
            self._flush()
        elif not self._flush_due:
            self._flush_due = True
            asyncio.get_running_loop().call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_due = False
        ids, self._to_ack = self._to_ack, []
        if ids and not self._muted():
            self._send(Ack(message_ids=tuple(ids), at=self._clock.now()))
