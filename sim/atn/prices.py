"""Electricity prices as the simulated ATN sees them, and the price bands it dispatches on.

A price profile is any callable ``price(t) -> float`` (``t`` aware, the price in $/MWh at
``t``), so the ATN does not depend on where prices come from: the simulator's data files, a
test's lambda, or :func:`simple_price_profile`.

Bands are relative to the *local day* of the house (its ``time_zone``): the profile is sampled
at each hour of that day, and an hour is

* ``cheapest`` if its price is among the day's lowest sixth,
* ``cheap`` if among the lowest third,
* ``peak`` if among the highest third,
* ``shoulder`` otherwise.

Ties go to the cheaper band, so a flat price is ``cheapest`` all day.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from enum import StrEnum
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from scada.layout import Layout

log = logging.getLogger("sim.atn")

PriceProfile = Callable[[datetime], float]
"""``price(t)``: the electricity price ($/MWh) at the aware instant ``t``."""

HOUR = timedelta(hours=1)


class PriceBand(StrEnum):
    """How an hour's price ranks within its day."""

    CHEAPEST = "cheapest"
    CHEAP = "cheap"
    SHOULDER = "shoulder"
    PEAK = "peak"


# Local hour -> $/MWh: cheap nights, a morning peak (7-10 h) and a higher evening one (17-22 h).
_SIMPLE_PRICES: tuple[float, ...] = (
    *(28.0,) * 6,  # 00-05
    45.0,  # 06
    *(110.0,) * 3,  # 07-09
    70.0,  # 10
    *(52.0,) * 5,  # 11-15
    75.0,  # 16
    *(140.0,) * 4,  # 17-20
    80.0,  # 21
    40.0,  # 22
    40.0,  # 23
)


def house_tz(layout: Layout) -> tzinfo:
    """The house's time zone, or UTC (with a warning) when this machine has no tz database."""
    try:
        return ZoneInfo(layout.house.time_zone)
    except (ZoneInfoNotFoundError, ValueError):
        log.warning("time zone %r unknown here; prices follow UTC", layout.house.time_zone)
        return UTC


def simple_price_profile(tz: tzinfo = UTC) -> PriceProfile:
    """An hourly profile with cheap nights and morning / evening peaks, in local time ``tz``."""

    def price(t: datetime) -> float:
        return _SIMPLE_PRICES[t.astimezone(tz).hour]

    return price


@dataclass(frozen=True, slots=True)
class DayThresholds:
    """Price limits of one local day: at or below ``cheapest_max`` / ``cheap_max`` is cheap,
    at or above ``peak_min`` (and above ``cheap_max``) is peak."""

    cheapest_max: float
    cheap_max: float
    peak_min: float


class PriceBands:
    """Classifies instants into :class:`PriceBand` by ranking them within their local day."""

    def __init__(self, profile: PriceProfile, tz: tzinfo = UTC) -> None:
        self.profile = profile
        self.tz = tz
        self._days: dict[date, DayThresholds] = {}

    def price(self, t: datetime) -> float:
        return self.profile(t)

    def thresholds(self, t: datetime) -> DayThresholds:
        """The thresholds of the local day containing ``t`` (computed once per day)."""
        day = t.astimezone(self.tz).date()
        found = self._days.get(day)
        if found is None:
            prices = sorted(self.profile(h) for h in _hours_of(day, self.tz))
            n = len(prices)
            found = DayThresholds(
                cheapest_max=prices[max(1, n // 6) - 1],
                cheap_max=prices[max(1, n // 3) - 1],
                peak_min=prices[n - max(1, n // 3)],
            )
            if len(self._days) > 64:
                self._days.clear()
            self._days[day] = found
        return found

    def band(self, t: datetime) -> PriceBand:
        """The band of the price at ``t``."""
        p = self.profile(t)
        th = self.thresholds(t)
        if p <= th.cheapest_max:
            return PriceBand.CHEAPEST
        if p <= th.cheap_max:
            return PriceBand.CHEAP
        if p >= th.peak_min:
            return PriceBand.PEAK
        return PriceBand.SHOULDER

    def peak_within(self, t: datetime, hours: float) -> bool:
        """True if an hour starting after ``t`` and within ``hours`` of it is a peak hour."""
        limit = t + timedelta(hours=hours)
        h = self.next_change(t)
        while h <= limit:
            if self.band(h) is PriceBand.PEAK:
                return True
            h = self.next_change(h)
        return False

    def next_change(self, t: datetime) -> datetime:
        """The start of the next local hour after ``t``: prices are hourly, so this is when the
        band can next change."""
        offset = t.astimezone(self.tz).utcoffset() or timedelta(0)
        wall = (t.astimezone(UTC) + offset).replace(minute=0, second=0, microsecond=0)
        return wall + HOUR - offset


def _hours_of(day: date, tz: tzinfo) -> list[datetime]:
    """The start of every hour of local day ``day`` (23, 24 or 25 of them), as aware UTC."""
    start = datetime.combine(day, time(0), tz).astimezone(UTC)
    end = datetime.combine(day + timedelta(days=1), time(0), tz).astimezone(UTC)
    hours = []
    h = start
    while h < end:
        hours.append(h)
        h += HOUR
    return hours
