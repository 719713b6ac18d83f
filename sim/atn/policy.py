"""The simulated ATN's dispatch policy: what each actuator should do, given prices and readings.

``decide(inputs, settings, policy)`` is a pure function. It returns one :class:`Order` per
actuator the house's :class:`~scada.layout.ControlSettings` gives a role (heat pump, boost
elements, circulator, zone relays), each with a reason. Actuators without a role are left
alone: the ATN does not know what they do. Temperatures °C; hysteresis comes from the states
the ATN last ordered (``previous``).

**Heat pump** (charges the tank; ``avg`` is the mean of the fresh tank layers, ``top`` the
top-most fresh one):

* tank top within ``near_min_c`` of ``tank_min_c``: **on**, whatever the price (the house
  must stay warm); on a peak it then keeps running until the top is ``near_min_c`` higher;
* cheap and cheapest hours, and shoulder hours with a peak ahead (``pre_peak_h``): **charge**
  to ``tank_target_c``: on below ``tank_target_c - recharge_c``, off at the target, in between
  as before;
* other shoulder hours: keep a **reserve**: on below the midpoint of ``tank_min_c`` and
  ``tank_target_c``, off ``reserve_band_c`` above it;
* peak hours: **coast** (off);
* tank temperature unknown: on unless the price is at its peak.

**Boost elements**: on only in the cheapest hours, with the tank *far* below its target (average
below ``tank_target_c - far_below_c``), until the average is ``element_release_c`` higher; never
with the tank unknown or any layer within ``element_margin_c`` of ``tank_max_c`` (the SCADA's
interlocks enforce the limit too).

**Zones and circulator**: the ATN is boss of every actuator, the distribution included. A zone
calls for heat below ``setpoint - room_deadband_c`` and stops above ``setpoint +
room_deadband_c`` (by default half the comfort band, tighter than the home-alone strategy so
the room stays well inside its band), keeping its state in between; with its room temperature
unknown it heats the first half of every 30-minute slot. Zone relays follow their zone; the
circulator runs while any zone calls. The price does not touch the zones: coasting means
drawing on the tank, not letting the house go cold.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from scada.layout import ControlSettings, Zone
from scada.protocol import RelayState
from sim.atn.prices import PriceBand

_ON, _OFF = RelayState.ON, RelayState.OFF

UNKNOWN_ROOM_SLOT_S = 1800
_CHEAP = (PriceBand.CHEAPEST, PriceBand.CHEAP)


@dataclass(frozen=True, slots=True)
class DispatchPolicy:
    """Thresholds of the policy (°C and hours). See the module docstring."""

    near_min_c: float = 3.0
    recharge_c: float = 3.0
    reserve_band_c: float = 5.0
    far_below_c: float = 15.0
    element_release_c: float = 5.0
    element_margin_c: float = 2.0
    pre_peak_h: float = 2.0
    room_deadband_c: float | None = None
    """Half-width of the zones' dead band; ``None``: half of ``comfort_band_c``."""


@dataclass(frozen=True, slots=True)
class DispatchInputs:
    """What the policy sees: fresh ``readings`` by channel (missing: unknown), the price band
    now, whether a peak hour is close ahead, and the states the ATN last ordered."""

    readings: Mapping[str, float]
    band: PriceBand
    peak_ahead: bool
    now: datetime
    previous: Mapping[str, RelayState] = field(default_factory=dict)

    def was_on(self, node: str | None) -> bool:
        return node is not None and self.previous.get(node) is _ON


@dataclass(frozen=True, slots=True)
class Order:
    """Actuator ``node`` should be in ``state``, because ``reason``."""

    node: str
    state: RelayState
    reason: str


@dataclass(frozen=True, slots=True)
class _Tank:
    top_c: float
    avg_c: float
    hottest_c: float


def decide(
    inputs: DispatchInputs, settings: ControlSettings, policy: DispatchPolicy | None = None
) -> tuple[Order, ...]:
    """One order per actuator with a role in ``settings`` (see the module docstring)."""
    pol = policy or DispatchPolicy()
    orders: list[Order] = []
    calling: list[str] = []
    for zone in settings.zones:
        call, why = _zone(zone, inputs, settings, pol)
        if call:
            calling.append(zone.name)
        if zone.relay is not None:
            orders.append(Order(zone.relay, _state(call), why))
    if settings.circulator is not None:
        why = f"heat wanted in {', '.join(calling)}" if calling else "no zone wants heat"
        orders.append(Order(settings.circulator, _state(bool(calling)), why))
    tank = _tank(inputs.readings, settings)
    if settings.heat_pump is not None:
        on, why = _heat_pump(tank, inputs, settings, pol)
        orders.append(Order(settings.heat_pump, _state(on), why))
    for element in settings.boost_elements:
        on, why = _element(tank, inputs.band, inputs.was_on(element), settings, pol)
        orders.append(Order(element, _state(on), why))
    return tuple(orders)


def _zone(
    zone: Zone, inputs: DispatchInputs, settings: ControlSettings, pol: DispatchPolicy
) -> tuple[bool, str]:
    room_c = inputs.readings.get(zone.room_channel)
    previous = inputs.was_on(zone.relay or settings.circulator)
    if room_c is None:
        on = inputs.now.timestamp() % UNKNOWN_ROOM_SLOT_S < UNKNOWN_ROOM_SLOT_S / 2
        return on, f"{zone.name}: room temperature unknown, heating half the time"
    dead_c = pol.room_deadband_c if pol.room_deadband_c is not None else settings.comfort_band_c / 2
    lo_c, hi_c = zone.setpoint_c - dead_c, zone.setpoint_c + dead_c
    if room_c < lo_c:
        return True, f"{zone.name} at {room_c:.1f} °C, below {lo_c:.1f} °C"
    if room_c > hi_c:
        return False, f"{zone.name} at {room_c:.1f} °C, above {hi_c:.1f} °C"
    return previous, f"{zone.name} at {room_c:.1f} °C, within {lo_c:.1f}-{hi_c:.1f} °C"


def _tank(readings: Mapping[str, float], settings: ControlSettings) -> _Tank | None:
    fresh = [readings[ch] for ch in settings.tank_layers if ch in readings]
    if not fresh:
        return None
    return _Tank(top_c=fresh[0], avg_c=sum(fresh) / len(fresh), hottest_c=max(fresh))


def _heat_pump(
    tank: _Tank | None, inputs: DispatchInputs, s: ControlSettings, pol: DispatchPolicy
) -> tuple[bool, str]:
    band = inputs.band
    was_on = inputs.was_on(s.heat_pump)
    if tank is None:
        if band is PriceBand.PEAK:
            return False, "tank temperature unknown; peak price: off"
        return True, f"tank temperature unknown; {band.value} price: on"
    floor_c = s.tank_min_c + pol.near_min_c
    if tank.top_c < floor_c:
        return True, f"tank top {tank.top_c:.1f} °C near tank_min_c {s.tank_min_c:g} °C"
    if band is PriceBand.PEAK:
        if was_on and tank.top_c < floor_c + pol.near_min_c:
            return True, f"peak price, but tank top {tank.top_c:.1f} °C still recovering"
        return False, f"peak price: coasting on the tank (top {tank.top_c:.1f} °C)"
    if band in _CHEAP or inputs.peak_ahead:
        goal_c, start_c = s.tank_target_c, s.tank_target_c - pol.recharge_c
        what = f"{band.value} price" if band in _CHEAP else "peak ahead"
    else:
        start_c = (s.tank_min_c + s.tank_target_c) / 2
        goal_c = start_c + pol.reserve_band_c
        what = "shoulder price: keeping a reserve"
    if tank.avg_c >= goal_c:
        return False, f"{what}; tank average {tank.avg_c:.1f} °C reached {goal_c:g} °C"
    if tank.avg_c < start_c:
        return True, f"{what}; tank average {tank.avg_c:.1f} °C below {start_c:g} °C: charging"
    doing = "keeps charging" if was_on else "stays off"
    return was_on, f"{what}; tank average {tank.avg_c:.1f} °C: {doing}"


def _element(
    tank: _Tank | None, band: PriceBand, was_on: bool, s: ControlSettings, pol: DispatchPolicy
) -> tuple[bool, str]:
    if tank is None:
        return False, "tank temperature unknown: elements off"
    if tank.hottest_c >= s.tank_max_c - pol.element_margin_c:
        return False, f"tank at {tank.hottest_c:.1f} °C, near tank_max_c {s.tank_max_c:g} °C"
    if band is not PriceBand.CHEAPEST:
        return False, f"{band.value} price: elements only in the cheapest hours"
    start_c = s.tank_target_c - pol.far_below_c
    stop_c = start_c + pol.element_release_c
    if tank.avg_c < start_c:
        return True, f"cheapest hours, tank average {tank.avg_c:.1f} °C far below target"
    if tank.avg_c >= stop_c:
        return False, f"cheapest hours, tank average {tank.avg_c:.1f} °C at or above {stop_c:g} °C"
    doing = "keep boosting" if was_on else "stay off"
    return was_on, f"cheapest hours, tank average {tank.avg_c:.1f} °C: elements {doing}"


def _state(on: bool) -> RelayState:
    return _ON if on else _OFF
