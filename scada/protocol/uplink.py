"""Messages that exist only on the MQTT uplink: acks, snapshot requests, presence.

The uplink is ``gw/<from>/to/<to>/<message-type>`` (see :mod:`scada.protocol.topics`), with
``<message-type>`` the message's ``type``.
"""

from __future__ import annotations

from typing import Literal

from scada.protocol.base import Alias, MessageId, UtcTime, WireMessage
from scada.protocol.enums import OnlineState


class Ack(WireMessage):
    """The peer has durably received message ``message_id`` (a status, aggregate report or
    problem event); the sender may now delete it from its outbox."""

    type: Literal["ack"] = "ack"
    version: Literal[1] = 1
    message_id: MessageId
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
