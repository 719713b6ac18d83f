"""Safety interlocks: the last word on every actuator, whoever is boss (admin included).

``apply(desired, ...)`` takes what the boss wants and returns what the relays will do, plus one
:class:`Override` for each actuator an interlock moved away from what was wanted, naming the
interlock and why. Pure: readings, relay history and ``now`` are inputs. Temperatures °C.

Interlocks, strongest first (the first with an opinion decides an actuator):

1. ``tank-over-temp`` — no boost element on while any tank layer is at or above
   ``tank_max_c``, or any tank layer is unknown (stale or broken): a temperature we cannot see
   is not known to be safe. Beats freeze protection and minimum on times.
2. ``freeze-pipe`` — circulator on while any freeze channel is below ``freeze_pipe_c``, and kept
   on (once on) until all are at ``freeze_pipe_c + freeze_hysteresis_c``. A freeze channel with
   no fresh reading counts as freezing unless a fresh outdoor reading is at or above that
   release temperature (defect 33: the original did nothing on a missing reading).
   ``freeze-tank`` — boost elements on while any fresh tank layer is below ``freeze_tank_c``,
   kept on until all are at ``freeze_tank_c + freeze_hysteresis_c``. Frozen pipes cost more
   than a short-cycled pump, so freeze protection beats minimum on/off times.
3. ``min-on-time`` / ``min-off-time`` — an actuator with ``min_on_s`` / ``min_off_s`` in the
   layout (the heat pump's compressor above all) does not change state before that long after
   its last change; the reason gives the seconds left. No history for an actuator: no limit
   (the runtime records each relay's state and change time from start-up on).

Actuators missing from ``desired`` are wanted in their current state (from ``relay_history``,
else off); they appear in the result only if an interlock moves them.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import NamedTuple

from scada.control.outcome import check_now
from scada.layout import Actuator, ControlSettings
from scada.protocol import CommandSource, RelayState

_ON, _OFF = RelayState.ON, RelayState.OFF


class Interlock(StrEnum):
    """The safety interlocks, by the name an override carries."""

    TANK_OVER_TEMP = "tank-over-temp"
    FREEZE_PIPE = "freeze-pipe"
    FREEZE_TANK = "freeze-tank"
    MIN_ON_TIME = "min-on-time"
    MIN_OFF_TIME = "min-off-time"


@dataclass(frozen=True, slots=True)
class RelayRecord:
    """An actuator's current state and when it last changed (aware UTC)."""

    state: RelayState
    since: datetime


@dataclass(frozen=True, slots=True)
class Override:
    """Interlock ``interlock`` forced ``node`` to ``forced`` when ``wanted`` was asked for."""

    node: str
    interlock: Interlock
    wanted: RelayState
    forced: RelayState
    reason: str


class Interlocked(NamedTuple):
    """The states the relays will take, and the overrides that produced them."""

    final: dict[str, RelayState]
    overrides: list[Override]


@dataclass(frozen=True, slots=True)
class _Force:
    state: RelayState
    interlock: Interlock
    reason: str


def apply(
    desired: Mapping[str, RelayState],
    source: CommandSource,
    *,
    readings: Mapping[str, float | None],
    relay_history: Mapping[str, RelayRecord],
    actuators: Iterable[Actuator],
    settings: ControlSettings,
    now: datetime,
) -> Interlocked:
    """Run every interlock over what ``source`` wants (see the module docstring)."""
    check_now(now)
    by_node: dict[str, Actuator] | None = None  # only a change of state needs the min times
    nodes = list(desired)
    extra = [settings.circulator, *settings.boost_elements]
    nodes += [n for n in extra if n is not None and n not in desired]
    final: dict[str, RelayState] = {}
    overrides: list[Override] = []
    for node in nodes:
        record = relay_history.get(node)
        current = record.state if record is not None else _OFF
        wanted = desired.get(node, current)
        force = _over_temp(node, readings, settings) or _freeze(node, current, readings, settings)
        if force is None and record is not None and record.state is not wanted:
            if by_node is None:
                by_node = {a.node: a for a in actuators}
            force = _min_time(by_node.get(node), record, wanted, now)
        state = wanted if force is None else force.state
        if node in desired or state is not wanted:
            final[node] = state
        if force is not None and state is not wanted:
            reason = f"{source.value} wanted {wanted.value}; {force.reason}"
            overrides.append(Override(node, force.interlock, wanted, state, reason))
    return Interlocked(final, overrides)


def steady_until(
    desired: Mapping[str, RelayState],
    *,
    relay_history: Mapping[str, RelayRecord],
    actuators: Iterable[Actuator],
    now: datetime,
) -> datetime | None:
    """The first instant from ``now`` on at which :func:`apply`, given the same other inputs,
    may decide otherwise (a minimum on or off time running out); ``None``: never.

    Time enters the interlocks only through the minimum times, so a caller may reuse a result
    until then (the overrides' reasons, which count the seconds left, excepted).
    """
    check_now(now)
    by_node: dict[str, Actuator] | None = None
    until: datetime | None = None
    for node, wanted in desired.items():
        record = relay_history.get(node)
        if record is None or record.state is wanted:
            continue
        if by_node is None:
            by_node = {a.node: a for a in actuators}
        actuator = by_node.get(node)
        if actuator is None:
            continue
        minimum_s = actuator.min_on_s if record.state is _ON else actuator.min_off_s
        ends = record.since + timedelta(seconds=minimum_s)
        if ends >= now and (until is None or ends < until):
            until = ends
    return until


Band = tuple[float, float]
"""Readings ``lo <= value < hi`` of one channel (``-inf`` / ``inf`` for no bound)."""


def reading_bands(
    readings: Mapping[str, float | None],
    relay_history: Mapping[str, RelayRecord],
    settings: ControlSettings,
) -> dict[str, Band | None]:
    """For each channel :func:`apply` reads, the band of values around its reading inside
    which every comparison the interlocks make of it comes out the same; ``None`` for a
    channel without a fresh reading (only that reading changes nothing).

    So :func:`apply`, given the same other inputs (the relays' states above all, which set the
    freeze hysteresis), decides the same final states and the same interlocks for any readings
    inside these bands; only its reasons, which quote the values, may read otherwise. A
    channel not listed is not read at all.
    """
    margin_c = settings.freeze_hysteresis_c

    def on(node: str | None) -> bool:
        record = relay_history.get(node) if node is not None else None
        return record is not None and record.state is _ON

    tank_limits = [settings.tank_max_c]
    tank_limits += [
        settings.freeze_tank_c + (margin_c if on(e) else 0.0) for e in settings.boost_elements
    ]
    pipe_limits = [settings.freeze_pipe_c + (margin_c if on(settings.circulator) else 0.0)]
    limits: dict[str, list[float]] = {}
    for channel in settings.tank_layers:
        limits.setdefault(channel, []).extend(tank_limits)
    for channel in settings.freeze_channels:
        limits.setdefault(channel, []).extend(pipe_limits)
    if settings.outdoor_channel is not None:
        limits.setdefault(settings.outdoor_channel, []).append(settings.freeze_pipe_c + margin_c)
    return {channel: _band(readings.get(channel), cuts) for channel, cuts in limits.items()}


def _band(value: float | None, cuts: Iterable[float]) -> Band | None:
    """The band around ``value`` between the nearest ``cuts``: each cut ``c`` splits the line
    into ``< c`` and ``>= c``, the two outcomes of every comparison made against it."""
    if value is None:
        return None
    lo, hi = -math.inf, math.inf
    for c in cuts:
        if c <= value:
            lo = max(lo, c)
        else:
            hi = min(hi, c)
    return lo, hi


def in_band(value: float | None, band: Band | None) -> bool:
    """``value`` is inside ``band`` (a missing reading only inside the band of none)."""
    if band is None or value is None:
        return band is None and value is None
    return band[0] <= value < band[1]


def _over_temp(
    node: str, readings: Mapping[str, float | None], settings: ControlSettings
) -> _Force | None:
    if node not in settings.boost_elements:
        return None
    for channel in settings.tank_layers:
        temp_c = readings.get(channel)
        if temp_c is None:
            why = f"tank layer {channel} unknown (stale or broken): element off"
            return _Force(_OFF, Interlock.TANK_OVER_TEMP, why)
        if temp_c >= settings.tank_max_c:
            why = f"tank layer {channel} at {temp_c:.1f} °C, tank_max_c {settings.tank_max_c:g} °C"
            return _Force(_OFF, Interlock.TANK_OVER_TEMP, why)
    return None


def _freeze(
    node: str,
    current: RelayState,
    readings: Mapping[str, float | None],
    settings: ControlSettings,
) -> _Force | None:
    # Once on, stay on until every reading clears the threshold plus the hysteresis.
    margin_c = settings.freeze_hysteresis_c if current is _ON else 0.0
    if node == settings.circulator:
        limit_c = settings.freeze_pipe_c + margin_c
        release_c = settings.freeze_pipe_c + settings.freeze_hysteresis_c
        outdoor_c = readings.get(settings.outdoor_channel) if settings.outdoor_channel else None
        for channel in settings.freeze_channels:
            temp_c = readings.get(channel)
            if temp_c is None and (outdoor_c is None or outdoor_c < release_c):
                outdoor = "unknown" if outdoor_c is None else f"{outdoor_c:.1f} °C"
                why = f"pipe {channel} unknown and outdoor {outdoor}: assumed freezing"
                return _Force(_ON, Interlock.FREEZE_PIPE, why)
            if temp_c is not None and temp_c < limit_c:
                why = f"pipe {channel} at {temp_c:.1f} °C, below {limit_c:g} °C"
                return _Force(_ON, Interlock.FREEZE_PIPE, why)
    if node in settings.boost_elements:
        limit_c = settings.freeze_tank_c + margin_c
        for channel in settings.tank_layers:
            temp_c = readings.get(channel)
            if temp_c is not None and temp_c < limit_c:
                why = f"tank layer {channel} at {temp_c:.1f} °C, below {limit_c:g} °C"
                return _Force(_ON, Interlock.FREEZE_TANK, why)
    return None


def _min_time(
    actuator: Actuator | None, record: RelayRecord | None, wanted: RelayState, now: datetime
) -> _Force | None:
    if actuator is None or record is None or record.state is wanted:
        return None
    held_s = (now - record.since).total_seconds()
    if record.state is _ON:
        minimum_s, interlock, field = actuator.min_on_s, Interlock.MIN_ON_TIME, "min_on_s"
    else:
        minimum_s, interlock, field = actuator.min_off_s, Interlock.MIN_OFF_TIME, "min_off_s"
    if held_s >= minimum_s:
        return None
    left_s = math.ceil(minimum_s - held_s)
    why = (
        f"{actuator.node} {record.state.value} for {held_s:.0f} s, "
        f"{field} {minimum_s:g} s: {left_s} s left"
    )
    return _Force(record.state, interlock, why)
