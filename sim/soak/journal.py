"""What the soak's ATN received and acknowledged, as a JSON-lines file, and reading it back.

The ATN process (:mod:`sim.soak.atn_proc`) writes one line per status, aggregate report and
problem report it receives, and one per acknowledgement it sends, each stamped with the
CLOCK_MONOTONIC reading ``t`` (s) — one clock for every process of the machine, so the
orchestrator can place each line against its own record of faults and outbox samples. The line
is flushed before the message is handled: what the ATN saw is on disk even if it is stopped
or killed right after.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from scada.link.base import Uplink, UplinkHandler
from scada.protocol import Ack, LinkState, ProblemEvent, Status, WireMessage
from scada.protocol.readings import AggregateReport


@dataclass(frozen=True, slots=True)
class Received:
    """One message received by the ATN at CLOCK_MONOTONIC ``t``."""

    t: float
    kind: str  # "status", "aggregate" or "problem"
    id: str
    boot_id: str | None = None  # statuses
    seq: int | None = None  # statuses
    slot_start: str | None = None  # statuses: ISO
    problem: str | None = None  # problems: the ProblemKind value
    subject: str | None = None  # problems: the channel or device
    at: str | None = None  # problems: when the SCADA raised it (ISO, simulated)


@dataclass(frozen=True, slots=True)
class Journal:
    """A journal file read back: what was received, and when each id was acknowledged."""

    received: list[Received]
    acks: dict[str, list[float]]


class RecordingLink:
    """An :class:`Uplink` end that writes what passes through it to ``out`` (see the module
    docstring) and otherwise is ``link``."""

    def __init__(self, link: Uplink, out: IO[str]) -> None:
        self.link = link
        self._out = out

    @property
    def broker_state(self) -> LinkState:
        return self.link.broker_state

    def send(self, message: WireMessage) -> bool:
        sent = self.link.send(message)
        if sent and isinstance(message, Ack):
            t = time.monotonic()
            for message_id in message.message_ids:
                self._write({"t": t, "ack": message_id})
        return sent

    def send_encoded(self, message_type: str, payload: bytes) -> bool:
        return self.link.send_encoded(message_type, payload)

    async def run(self, handler: UplinkHandler) -> None:
        async def record(msg: WireMessage) -> None:
            row = _row(msg)
            if row is not None:
                self._write(row)
            await handler(msg)

        await self.link.run(record)

    def _write(self, row: dict[str, object]) -> None:
        self._out.write(json.dumps(row, separators=(",", ":")) + "\n")
        self._out.flush()


def _row(msg: WireMessage) -> dict[str, object] | None:
    t = time.monotonic()
    if isinstance(msg, Status):
        return {
            "t": t,
            "kind": "status",
            "id": msg.id,
            "boot_id": msg.boot_id,
            "seq": msg.seq,
            "slot_start": msg.slot_start.isoformat(),
        }
    if isinstance(msg, ProblemEvent):
        return {
            "t": t,
            "kind": "problem",
            "id": msg.id,
            "problem": msg.kind.value,
            "subject": msg.subject,
            "at": msg.at.isoformat(),
        }
    if isinstance(msg, AggregateReport):
        return {"t": t, "kind": "aggregate", "id": msg.id}
    return None


def read_journal(path: Path) -> Journal:
    """The journal at ``path``; a last line cut short (the writer was killed) is skipped."""
    received: list[Received] = []
    acks: dict[str, list[float]] = {}
    if not path.exists():
        return Journal(received, acks)
    for line in path.read_text().splitlines():
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue
        if "ack" in row:
            acks.setdefault(row["ack"], []).append(row["t"])
        else:
            received.append(Received(**row))
    return Journal(received, acks)
