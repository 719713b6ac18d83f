"""Telling everyone when the uplink's liveness changes.

The broker connection and the ATN are watched apart (defect 9 of the original merged them).
Each change is published twice: a ``link`` event carrying the new :class:`LinkStatus`, for the
consoles attached now, and a ``link_down`` / ``link_up`` problem, which also goes through the
store to the ATN, so that every outage is on record after the fact with when it began and
ended. An outage begins when a broker that was up is lost, or when an ATN that was heard goes
silent: a broker still connecting at start-up, or an ATN not heard yet, is not one.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from scada.actors.house import HouseState
from scada.protocol.enums import AtnState, EventKind, LinkState, ProblemKind, Severity
from scada.protocol.snapshot import LinkStatus

log = logging.getLogger("scada.link")

#: How often the liveness is looked at, in seconds. A broker change is pushed at once (the
#: runtime calls :meth:`LinkWatch.look` from the uplink's state listener), so this only bounds
#: how late an ATN's silence is reported; the controller's own fallback does not wait for it.
WATCH_PERIOD_S = 30.0

_BROKER_DOWN = frozenset({LinkState.DOWN, LinkState.CONNECTING})


class LinkWatch:
    """Publishes link changes; ``status`` gives the current liveness at a wall-clock time."""

    def __init__(
        self,
        house: HouseState,
        status: Callable[[datetime], LinkStatus],
        period_s: float = WATCH_PERIOD_S,
        *,
        states: Callable[[datetime], tuple[LinkState, AtnState]] | None = None,
    ) -> None:
        """``status`` tells the liveness with its detail; ``states``, if given, the broker's
        and the ATN's states alone, more cheaply (the detail is built only on a change)."""
        self._house = house
        self._status = status
        self._states = states
        self._period_s = period_s
        self._last: LinkStatus | None = None
        self._broker_out = False  # an outage was reported and has not ended yet

    async def run(self) -> None:
        clock = self._house.clock
        while True:
            self.look(clock.now())
            await clock.sleep(self._period_s)

    def look(self, now: datetime) -> LinkStatus:
        """Compare the liveness now with the last seen, publish what changed; return it."""
        last = self._last
        states = self._states
        if last is not None and states is not None and states(now) == (last.broker, last.atn):
            return last
        current = self._status(now)
        if last is not None and (last.broker, last.atn) == (current.broker, current.atn):
            return last
        self._last = current
        self._house.publish(EventKind.LINK, current)
        if last is not None:
            self._broker_changed(last.broker, current)
            self._atn_changed(last.atn, current)
        return current

    def _broker_changed(self, was: LinkState, now: LinkStatus) -> None:
        if now.broker in _BROKER_DOWN and was is LinkState.UP:
            log.warning("uplink: lost the MQTT broker (%s)", now.broker)
            self._broker_out = True
            self._house.problem(
                ProblemKind.LINK_DOWN,
                "broker",
                "lost the MQTT broker: statuses wait in the store",
                Severity.WARNING,
            )
        elif now.broker is LinkState.UP and self._broker_out:
            log.info("uplink: the MQTT broker is back")
            self._broker_out = False
            self._house.problem(
                ProblemKind.LINK_UP, "broker", "the MQTT broker is back", Severity.INFO
            )

    def _atn_changed(self, was: AtnState, now: LinkStatus) -> None:
        if now.atn is AtnState.SILENT and was is AtnState.ALIVE:
            log.warning("uplink: the ATN went silent (%s)", now.detail)
            self._house.problem(
                ProblemKind.LINK_DOWN,
                "atn",
                f"the ATN went silent ({now.detail})" if now.detail else "the ATN went silent",
                Severity.WARNING,
            )
        elif was is AtnState.SILENT and now.atn is AtnState.ALIVE:
            log.info("uplink: the ATN is back")
            self._house.problem(ProblemKind.LINK_UP, "atn", "the ATN is back", Severity.INFO)
