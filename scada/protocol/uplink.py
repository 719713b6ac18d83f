"""Messages that exist only on the MQTT uplink: acks, snapshot requests, presence.

The uplink is ``gw/<from>/to/<to>/<message-type>`` (see :mod:`scada.protocol.topics`), with
``<message-type>`` the message's ``type``.
"""

from __future__ import annotations

from typing import Annotated, Final, Literal

from pydantic import Field

from scada.protocol.base import Alias, MessageId, UtcTime, WireMessage
from scada.protocol.enums import OnlineState

MAX_ACK_IDS: Final = 500
"""The most message ids one :class:`Ack` carries."""


class Ack(WireMessage):
    """The peer has durably received the messages ``message_ids`` (statuses, aggregate reports
    or problem events); the sender may now delete them from its outbox.

    Version 2 acknowledges many at once (1 to :data:`MAX_ACK_IDS`): a peer receiving a burst
    (a backlog going up) answers it with one message, not one per message.
    """

    type: Literal["ack"] = "ack"
    version: Literal[2] = 2
    message_ids: Annotated[tuple[MessageId, ...], Field(min_length=1, max_length=MAX_ACK_IDS)]
    at: UtcTime


class SnapshotRequest(WireMessage):
    """``from_alias`` (the ATN or an admin tool) asks for a :class:`Snapshot` now."""

    type: Literal["snapshot.request"] = "snapshot.request"
    version: Literal[1] = 1
    from_alias: Alias
    at: UtcTime


class OnlineStatus(WireMessage):
    """Retained presence of the SCADA; the ``offline`` form is also its MQTT last will.

    ``boot_id`` changes at every start, so a peer can tell a restart from a reconnect.
    """

    type: Literal["online"] = "online"
    version: Literal[1] = 1
    state: OnlineState
    boot_id: MessageId
    at: UtcTime
