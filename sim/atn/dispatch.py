"""The simulated ATN's orders: deciding on price and readings, and sending the commands.

While its contract is accepted the ATN orders every actuator with a role in the layout
(:mod:`sim.atn.policy`): on any change of the decision at once, and all of them every
``command_period_s`` with ``expires_at = now + command_ttl_s``. Decisions are re-taken on each
status or snapshot and at each hour boundary (prices are hourly). A refused command (the ATN
is not boss: an admin hold, a lapse; or an interlock held it back, e.g. the compressor's minimum
off time, and the SCADA does not remember such commands) is sent again one heartbeat period
later.

:class:`Dispatcher` owns the orders and their results, and nothing of the contract: its owner
says at each :meth:`Dispatcher.step` whether the ATN is boss, and calls
:meth:`Dispatcher.restart` when a contract is dropped so that the next one starts with every
actuator ordered afresh. It sends only through the ``send`` it is given.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta

from scada.layout import ControlSettings
from scada.protocol import (
    ActuatorCommand,
    CommandOutcome,
    CommandResult,
    CommandSource,
    RelayState,
    WireMessage,
    new_id,
)
from sim.atn.policy import DispatchInputs, DispatchPolicy, Order, decide
from sim.atn.prices import PriceBands
from sim.atn.readings import LatestReadings
from sim.atn.timing import AtnTiming, seconds_between

_MARGIN_S = 0.001  # wake just after an hour boundary, never a float's width before it

REFUSED_KEPT = 100
"""The latest refused results kept in :attr:`Dispatcher.refused`."""


class Dispatcher:
    """The ATN's orders to one house (see the module docstring).

    Args:
        timing: the ATN's periods (command period and TTL, heartbeat period, reading age).
        settings: the house's control settings (which actuators play which part).
        prices: the hourly price bands the policy reads.
        policy: dispatch thresholds.
        readings: the ATN's picture of the house, kept up to date by its owner.
        send: sends a message; False if it could not be sent.
    """

    def __init__(
        self,
        *,
        timing: AtnTiming,
        settings: ControlSettings,
        prices: PriceBands,
        policy: DispatchPolicy,
        readings: LatestReadings,
        send: Callable[[WireMessage], bool],
    ) -> None:
        self.timing = timing
        self.settings = settings
        self.prices = prices
        self.policy = policy
        self.readings = readings
        self._send = send

        self.orders: dict[str, Order] = {}
        """The latest decision, by actuator node."""
        self.commanded: dict[str, RelayState] = {}
        """The state last ordered, by actuator node."""
        self.results: Counter[CommandOutcome] = Counter()
        """Command results received, by outcome."""
        self.refused: list[CommandResult] = []
        """The latest :data:`REFUSED_KEPT` refused results, oldest first."""
        self.wake = asyncio.Event()
        """Set when :meth:`step` is due at once (a refused command to retry, new readings)."""

        self._retry: dict[str, datetime] = {}  # refused orders: node -> when to send again
        self._last_full: datetime | None = None

    def step(self, now: datetime, *, boss: bool) -> float:
        """Decide and order if ``boss``; returns the seconds until the next decision is due."""
        until_hour = seconds_between(now, self.prices.next_change(now)) + _MARGIN_S
        if not boss:
            return until_hour
        inputs = DispatchInputs(
            readings=self.readings.fresh(now, self.timing.reading_max_age_s),
            band=self.prices.band(now),
            peak_ahead=self.prices.peak_within(now, self.policy.pre_peak_h),
            now=now,
            previous=self.commanded,
        )
        orders = decide(inputs, self.settings, self.policy)
        self.orders = {o.node: o for o in orders}
        full = self._last_full is None or (
            seconds_between(self._last_full, now) >= self.timing.command_period_s
        )
        for order in orders:
            retry = self._retry.get(order.node)
            if (
                full
                or self.commanded.get(order.node) is not order.state
                or (retry is not None and now >= retry)
            ):
                self._retry.pop(order.node, None)
                self._command(order, now)
        if full:
            self._last_full = now
        assert self._last_full is not None
        due = [self._last_full + timedelta(seconds=self.timing.command_period_s)]
        due.extend(self._retry.values())
        return min([until_hour, *(max(0.0, seconds_between(now, d)) for d in due)])

    def result_in(self, result: CommandResult, now: datetime) -> None:
        """Count ``result``; a refused command is ordered again a heartbeat period later."""
        self.results[result.outcome] += 1
        if result.outcome is CommandOutcome.REFUSED:
            self.refused.append(result)
            del self.refused[:-REFUSED_KEPT]
            # Not boss (a hold, a lapse) or held back by an interlock (the SCADA forgets
            # those): order it again a heartbeat period later.
            self._retry.setdefault(result.target, now + timedelta(seconds=self.timing.heartbeat_s))
            self.wake.set()

    def restart(self) -> None:
        """The contract was dropped: order every actuator again under the next one."""
        self._last_full = None
        self.forget_retries()

    def forget_retries(self) -> None:
        """Forget when to send refused commands again: those actuators are next ordered with
        the next full round or a change of decision."""
        self._retry.clear()

    def _command(self, order: Order, now: datetime) -> None:
        cmd = ActuatorCommand(
            id=new_id(),
            source=CommandSource.ATN,
            target=order.node,
            state=order.state,
            issued_at=now,
            expires_at=now + timedelta(seconds=self.timing.command_ttl_s),
        )
        if self._send(cmd):
            self.commanded[order.node] = order.state
