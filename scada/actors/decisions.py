"""The control core's pure decisions as a control pass asks them, each remembered for as long as
the core itself says its answer holds (a :class:`~scada.actors.pass_schedule.Memo`).

Most passes read what the pass before read, inside the same dead bands and minimum times, so
the home-alone strategy and the interlocks are asked again only when an input changed or the
time the core gave has come. An answer is never taken from a memo that does not fit exactly:
the house stays exactly as if each pass asked afresh (``tests/sim/test_quiet_passes.py``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from scada.actors.pass_schedule import Memo, earliest
from scada.control import (
    HomeAloneInputs,
    Override,
    RelayRecord,
    apply_interlocks,
    decide,
)
from scada.control.home_alone import steady_until as home_alone_steady_until
from scada.control.interlocks import steady_until as interlocks_steady_until
from scada.layout import Actuator
from scada.layout.control import ControlSettings
from scada.protocol.enums import CommandSource, RelayState

Interlocked = tuple[dict[str, RelayState], list[Override]]
"""What the interlocks leave of a wish: the final states and the interlocks that fired."""
_InterlockKey = tuple[
    CommandSource, dict[str, RelayState], dict[str, float | None], dict[str, RelayRecord]
]


class Decisions:
    """The home-alone strategy and the interlocks of one house, with their last answers."""

    def __init__(self, settings: ControlSettings, actuators: Sequence[Actuator]) -> None:
        self._settings = settings
        self._actuators = actuators
        self._home_alone: Memo[HomeAloneInputs, dict[str, RelayState]] | None = None
        self._interlocks: Memo[_InterlockKey, Interlocked] | None = None

    def home_alone(self, inputs: HomeAloneInputs, now: datetime) -> dict[str, RelayState]:
        """What the home-alone strategy wants at ``now`` (a fresh dict the caller may keep)."""
        memo = self._home_alone
        if memo is None or not memo.fits(inputs, now):
            desired = decide(inputs, self._settings, now).desired
            until = home_alone_steady_until(inputs, self._settings, now)
            memo = self._home_alone = Memo(inputs, now, until, desired)
        return dict(memo.result)

    def interlocked(
        self,
        desired: dict[str, RelayState],
        source: CommandSource,
        now: datetime,
        readings: dict[str, float | None],
        history: dict[str, RelayRecord],
    ) -> Interlocked:
        """``desired`` (from ``source``) as the interlocks let it be, asked afresh (a command
        is judged on its own)."""
        res = apply_interlocks(
            desired,
            source,
            readings=readings,
            relay_history=history,
            actuators=self._actuators,
            settings=self._settings,
            now=now,
        )
        return res.final, res.overrides

    def interlocked_pass(
        self,
        desired: dict[str, RelayState],
        source: CommandSource,
        now: datetime,
        readings: dict[str, float | None],
        history: dict[str, RelayRecord],
    ) -> Interlocked:
        """:meth:`interlocked` for a control pass: many passes see the inputs of the one
        before, inside the same minimum times, and get its answer again."""
        key = (source, desired, readings, history)
        memo = self._interlocks
        if memo is not None and memo.fits(key, now):
            return memo.result
        result = self.interlocked(desired, source, now, readings, history)
        until = interlocks_steady_until(
            desired, relay_history=history, actuators=self._actuators, now=now
        )
        self._interlocks = Memo(key, now, until, result)
        return result

    def steady_until(self, source: CommandSource) -> datetime | None:
        """Until when time alone leaves the last answers for a pass under ``source`` as they
        are (``None``: no such time)."""
        home_alone = self._home_alone if source is CommandSource.HOME_ALONE else None
        return earliest(
            home_alone.until if home_alone is not None else None,
            self._interlocks.until if self._interlocks is not None else None,
        )
