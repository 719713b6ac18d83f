"""Telling everyone when the uplink's liveness changes.

The broker connection and the ATN are watched apart (defect 9 of the original merged them).
Each change is published twice: a ``link`` event carrying the new :class:`LinkStatus`, for the
consoles attached now, and a ``link_down`` / ``link_up`` problem, which also goes through the
store to the ATN, so that every outage is on record after the fact with when it began and
ended. An outage begins when a broker that was up is lost, or when an ATN that was heard goes
silent: a broker still connecting at start-up, or an ATN not heard yet, is not one.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime

from scada.actors.house import HouseState
from scada.clock import Alarm
from scada.protocol.enums import AtnState, EventKind, LinkState, ProblemKind, Severity
from scada.protocol.snapshot import LinkStatus

log = logging.getLogger("scada.link")

#: How often the liveness is looked at, in seconds, when nothing says when it may change. A
#: broker change is pushed at once (the runtime calls :meth:`LinkWatch.look` from the uplink's
#: state listener), so this only bounds how late an ATN's silence is reported; the
#: controller's own fallback does not wait for it.
WATCH_PERIOD_S = 30.0
#: The safety net's period when ``changes_in`` tells when the liveness may change by time
#: alone and every other change is pushed (see :class:`LinkWatch`).
WATCH_NET_S = 300.0

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
        changes_in: Callable[[datetime], float | None] | None = None,
    ) -> None:
        """``status`` tells the liveness with its detail; ``states``, if given, the broker's
        and the ATN's states alone, more cheaply (the detail is built only on a change).
        ``changes_in``, if given, the seconds until the states may change by time alone
        (``None``: not by time alone): the watch then sleeps until then (at most
        :data:`WATCH_NET_S`) instead of every ``period_s``, looking again when it wakes, and
        whoever changes what the states are made of calls :meth:`look` (the runtime does, for
        the broker and for every change of the mode state)."""
        self._house = house
        self._status = status
        self._states = states
        self._changes_in = changes_in
        self._period_s = period_s
        self._last: LinkStatus | None = None
        self._broker_out = False  # an outage was reported and has not ended yet
        self._alarm = Alarm(asyncio.Event())

    async def run(self) -> None:
        clock = self._house.clock
        while True:
            self._alarm.event.clear()
            self.look(clock.now())
            await self._alarm.wait(self._sleep_s(clock.now()))

    def _sleep_s(self, now: datetime) -> float:
        if self._changes_in is None:
            return self._period_s
        due = self._changes_in(now)
        return WATCH_NET_S if due is None else min(WATCH_NET_S, due)

    def look(self, now: datetime) -> LinkStatus:
        """Compare the liveness now with the last seen, publish what changed; return it."""
        last = self._last
        if self._changes_in is not None:
            # Sooner (a first contract), never later: every heartbeat puts a silence further
            # off, and a watch woken early only looks and sleeps again.
            self._alarm.ring_by(self._sleep_s(now))
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
