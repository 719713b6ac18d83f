"""Simulated time shared by the soak's processes.

Every process of a soak (``scada serve``, the ATN, the orchestrator) computes simulated time the
same way from the same three numbers::

    simulated = start + (time.monotonic() - anchor) * speed

``time.monotonic()`` is CLOCK_MONOTONIC, one clock for every process of the machine, so they
agree to within the time it takes to read it; and a ``scada serve`` killed and started again
with the same ``--sim-start``/``--sim-anchor`` goes on from the simulated time it died at plus
the real time it was away (times ``speed``) — statuses never go back in time. The event loops
are :class:`~scada.clock.VirtualTimeLoop` with ``anchor`` and clocks from
:func:`~scada.clock.anchored_clock`; the orchestrator uses :class:`SimTime` directly.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True, slots=True)
class SimTime:
    """``start`` (aware UTC) at CLOCK_MONOTONIC ``anchor`` (s), running ``speed`` times real."""

    start: datetime
    anchor: float
    speed: float

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.speed <= 0:
            raise ValueError("simulated time needs an aware start and a positive speed")

    def now(self) -> datetime:
        return self.at_real(time.monotonic())

    def at_real(self, monotonic_s: float) -> datetime:
        """The simulated time at CLOCK_MONOTONIC reading ``monotonic_s``."""
        return self.start + timedelta(seconds=(monotonic_s - self.anchor) * self.speed)

    def real_at(self, when: datetime) -> float:
        """The CLOCK_MONOTONIC reading at which simulated time is ``when``."""
        return self.anchor + (when - self.start).total_seconds() / self.speed

    async def sleep_until(self, when: datetime) -> None:
        """Sleep (in real time) until simulated time is ``when``."""
        await asyncio.sleep(max(0.0, self.real_at(when) - time.monotonic()))

    def args(self) -> list[str]:
        """The command-line options that put a ``scada serve`` or ATN process on this time."""
        return [
            "--speed",
            repr(self.speed),
            "--sim-start",
            self.start.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "--sim-anchor",
            repr(self.anchor),
        ]
