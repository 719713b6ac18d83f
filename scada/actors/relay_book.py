"""What the controller knows of each actuator: what it was last told, what its board last read
back, when its state last changed (the interlocks' minimum-time history), which interlock holds
it, and its last command and result.

Plain bookkeeping, no I/O: the controller switches the relays and publishes; this says what
they are. A normally-closed contact inverts the coil: ``ON`` is a de-energized coil there.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime

from scada.control import RelayRecord
from scada.layout import Actuator, Layout
from scada.protocol.commands import ActuatorCommand, CommandResult
from scada.protocol.enums import CommandSource, RelayState
from scada.protocol.snapshot import ActuatorSnapshot


@dataclass(slots=True)
class ActuatorRecord:
    """One actuator's state as the controller knows it (``None``: not known yet)."""

    spec: Actuator
    display_name: str
    commanded: RelayState | None = None
    observed: RelayState | None = None
    last_command: ActuatorCommand | None = None
    last_result: CommandResult | None = None
    overridden_by: str | None = None
    """The interlock holding it against its boss's wish, if one does."""

    @property
    def current(self) -> RelayState | None:
        """What it was last told, or before any command (just after a restart) what it reads
        back: where hysteresis runs from."""
        return self.commanded if self.commanded is not None else self.observed

    def energize(self, state: RelayState) -> bool:
        """Whether the coil is energized for ``state``."""
        return (state is RelayState.ON) == (self.spec.contact == "normally_open")

    def snapshot(self, boss: CommandSource) -> ActuatorSnapshot:
        return ActuatorSnapshot(
            node=self.spec.node,
            display_name=self.display_name,
            state=self.observed,
            commanded=self.commanded,
            boss=boss,
            last_command=self.last_command,
            last_result=self.last_result,
        )


class RelayBook(Mapping[str, ActuatorRecord]):
    """Every actuator of the layout by node alias, and their switching history."""

    def __init__(self, layout: Layout) -> None:
        self._records = {
            a.node: ActuatorRecord(a, layout.node(a.node).display_name) for a in layout.actuators
        }
        self._by_coil = {(a.device, a.board_channel): a.node for a in layout.actuators}
        #: When each actuator's state last changed. Replaced, never changed in place: a reader
        #: (a memo of the interlocks) tells a new history by its identity.
        self.history: dict[str, RelayRecord] = {}

    def __getitem__(self, node: str) -> ActuatorRecord:
        return self._records[node]

    def __iter__(self) -> Iterator[str]:
        return iter(self._records)

    def __len__(self) -> int:
        return len(self._records)

    def current(self) -> dict[str, RelayState]:
        """:attr:`ActuatorRecord.current` of every actuator that has one."""
        return {n: s for n, r in self._records.items() if (s := r.current) is not None}

    def observe(
        self, board: str, channel: int, energized: bool, now: datetime
    ) -> ActuatorRecord | None:
        """Board ``board`` read coil ``channel`` back as ``energized``: the actuator on it, now
        observed so (``None``: no actuator on that coil). Its first observation starts its
        history (the state it was found in counts from now)."""
        node = self._by_coil.get((board, channel))
        if node is None:
            return None
        record = self._records[node]
        on = energized == record.energize(RelayState.ON)
        record.observed = RelayState.ON if on else RelayState.OFF
        if node not in self.history:
            self.history = {**self.history, node: RelayRecord(record.observed, now)}
        return record

    def switched(self, node: str, state: RelayState, now: datetime) -> bool:
        """``node`` was switched to ``state`` and read back so; True if that changed its
        history (it was in another state before)."""
        prev = self.history.get(node)
        if prev is not None and prev.state is state:
            return False
        self.history = {**self.history, node: RelayRecord(state, now)}
        return True
