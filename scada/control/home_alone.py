"""The home-alone strategy: keep every zone at its setpoint, using the tank as the store.

``decide(inputs, settings, now)`` returns the wanted state of every actuator the strategy
controls (zone relays, circulator, heat pump, boost elements named in ``ControlSettings``),
each with a short reason for the log and the console. It is a pure function: hysteresis comes
from the *current* relay states in the inputs, time only from ``now``. Temperatures in °C.

Rules (``band`` is ``comfort_band_c``, the half-width around a setpoint):

* **Zones.** A zone calls for heat below ``setpoint - band`` and stops above
  ``setpoint + band``; in between it keeps what it was doing (its zone relay's state; a zone
  without a relay uses the circulator's). Its relay follows the call.
* **Unknown room temperature** (stale or broken sensor): the zone heats half the time, in
  fixed 30-minute slots of the UTC clock (first half on). Doing nothing could freeze an empty
  house; heating flat out could cook it. Half duty is a moderate, predictable middle.
* **Circulator** on while any zone calls for heat.
* **Heat pump** charges the tank: on when the tank's average (over fresh layers) is more than
  ``TANK_RECHARGE_C`` below ``tank_target_c`` or its top is below ``tank_min_c``; off once the
  average reaches the target; in between it keeps its state. If no tank layer is fresh it
  follows the zones' call (its own high limit guards the water). Off when unavailable.
* **Boost elements** only when the heat pump cannot keep up: tank top below ``tank_min_c``
  while the heat pump is already on, or there is no usable heat pump. They stop once the top
  reaches ``tank_min_c + BOOST_RELEASE_C`` (in between they keep their state) and are never on
  with an unknown tank or any layer at or above ``tank_max_c`` (the interlocks enforce that
  too, whoever is boss).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from scada.control.outcome import check_now
from scada.layout import ControlSettings, Zone
from scada.protocol import RelayState

TANK_RECHARGE_C = 5.0
"""The heat pump starts charging when the tank average is this far below the target."""

BOOST_RELEASE_C = 5.0
"""Boost elements stop once the tank top is this far above ``tank_min_c``."""

STALE_ROOM_PERIOD_S = 1800
"""Slot length of the half-duty heating of a zone whose room temperature is unknown."""

_ON, _OFF = RelayState.ON, RelayState.OFF


@dataclass(frozen=True, slots=True)
class HomeAloneInputs:
    """What the strategy sees.

    ``readings`` maps channel name to its latest *fresh* value; ``None`` or a missing channel
    means stale or broken. ``relays`` maps actuator node to its current state (missing: off).
    """

    readings: Mapping[str, float | None]
    relays: Mapping[str, RelayState] = field(default_factory=dict)
    heat_pump_available: bool = True

    def relay(self, node: str | None) -> bool:
        """True when actuator ``node`` is currently on."""
        return node is not None and self.relays.get(node) is _ON


@dataclass(frozen=True, slots=True)
class ActuatorDecision:
    """The wanted ``state`` of actuator ``node``, and why."""

    node: str
    state: RelayState
    reason: str


@dataclass(frozen=True, slots=True)
class Decision:
    """One decision per actuator the strategy controls, in layout order."""

    actions: tuple[ActuatorDecision, ...]

    @property
    def desired(self) -> dict[str, RelayState]:
        """Node -> wanted state."""
        return {a.node: a.state for a in self.actions}

    @property
    def reasons(self) -> dict[str, str]:
        """Node -> reason."""
        return {a.node: a.reason for a in self.actions}


@dataclass(frozen=True, slots=True)
class _Tank:
    top_c: float | None
    avg_c: float | None
    hottest_c: float | None


def decide(inputs: HomeAloneInputs, settings: ControlSettings, now: datetime) -> Decision:
    """What the home-alone strategy wants now (see the module docstring for the rules)."""
    check_now(now)
    actions: list[ActuatorDecision] = []
    calling: list[str] = []
    for zone in settings.zones:
        previous = inputs.relay(zone.relay or settings.circulator)
        call, why = _zone_call(
            zone, inputs.readings.get(zone.room_channel), previous, settings, now
        )
        if call:
            calling.append(zone.name)
        if zone.relay is not None:
            actions.append(ActuatorDecision(zone.relay, _state(call), why))
    if settings.circulator is not None:
        why = (
            f"zones calling for heat: {', '.join(calling)}" if calling else "no zone calls for heat"
        )
        actions.append(ActuatorDecision(settings.circulator, _state(bool(calling)), why))
    tank = _tank(inputs.readings, settings)
    hp_usable = settings.heat_pump is not None and inputs.heat_pump_available
    if settings.heat_pump is not None:
        on, why = _heat_pump(tank, inputs, settings, bool(calling))
        actions.append(ActuatorDecision(settings.heat_pump, _state(on), why))
    hp_running = hp_usable and inputs.relay(settings.heat_pump)
    for element in settings.boost_elements:
        on, why = _boost(tank, inputs.relay(element), settings, hp_usable, hp_running)
        actions.append(ActuatorDecision(element, _state(on), why))
    return Decision(tuple(actions))


def steady_until(
    inputs: HomeAloneInputs, settings: ControlSettings, now: datetime
) -> datetime | None:
    """The first instant after ``now`` at which :func:`decide`, given the same inputs, may
    want otherwise; ``None``: never. Time enters the strategy only through the half-duty slots
    of a zone whose room temperature is unknown, so a caller may reuse a decision until then.
    """
    check_now(now)
    if all(inputs.readings.get(z.room_channel) is not None for z in settings.zones):
        return None
    half_s = STALE_ROOM_PERIOD_S / 2
    return datetime.fromtimestamp((math.floor(now.timestamp() / half_s) + 1) * half_s, UTC)


def _zone_call(
    zone: Zone, room_c: float | None, previous: bool, settings: ControlSettings, now: datetime
) -> tuple[bool, str]:
    if room_c is None:
        slot_s = now.timestamp() % STALE_ROOM_PERIOD_S
        on = slot_s < STALE_ROOM_PERIOD_S / 2
        half = "on" if on else "off"
        return on, f"{zone.name}: room temperature unknown; heating half the time ({half} half)"
    lo_c = zone.setpoint_c - settings.comfort_band_c
    hi_c = zone.setpoint_c + settings.comfort_band_c
    if room_c < lo_c:
        return True, f"{zone.name} at {room_c:.1f} °C, below {lo_c:.1f} °C"
    if room_c > hi_c:
        return False, f"{zone.name} at {room_c:.1f} °C, above {hi_c:.1f} °C"
    doing = "keeps heating" if previous else "stays off"
    return previous, f"{zone.name} at {room_c:.1f} °C, within {lo_c:.1f}-{hi_c:.1f} °C: {doing}"


def _tank(readings: Mapping[str, float | None], settings: ControlSettings) -> _Tank:
    fresh = [v for v in (readings.get(ch) for ch in settings.tank_layers) if v is not None]
    if not fresh:
        return _Tank(None, None, None)
    # The top-most *fresh* layer stands for the top when the top probe is stale.
    return _Tank(fresh[0], sum(fresh) / len(fresh), max(fresh))


def _heat_pump(
    tank: _Tank, inputs: HomeAloneInputs, settings: ControlSettings, calling: bool
) -> tuple[bool, str]:
    if not inputs.heat_pump_available:
        return False, "heat pump unavailable"
    if tank.top_c is None or tank.avg_c is None:
        if calling:
            return True, "tank temperature unknown: heat pump follows the zones' call"
        return False, "tank temperature unknown and no zone calls for heat"
    start_c = settings.tank_target_c - TANK_RECHARGE_C
    if tank.top_c < settings.tank_min_c:
        return True, f"tank top {tank.top_c:.1f} °C below tank_min_c {settings.tank_min_c:g} °C"
    if tank.avg_c >= settings.tank_target_c:
        return False, f"tank charged: average {tank.avg_c:.1f} °C at or above target"
    if tank.avg_c < start_c:
        return True, f"tank average {tank.avg_c:.1f} °C below {start_c:g} °C: charging"
    previous = inputs.relay(settings.heat_pump)
    doing = "keeps charging" if previous else "stays off"
    return previous, f"tank average {tank.avg_c:.1f} °C, within {start_c:g}-target: {doing}"


def _boost(
    tank: _Tank, previous: bool, settings: ControlSettings, hp_usable: bool, hp_running: bool
) -> tuple[bool, str]:
    if tank.top_c is None or tank.hottest_c is None:
        return False, "tank temperature unknown: elements stay off"
    if tank.hottest_c >= settings.tank_max_c:
        return False, f"tank at {tank.hottest_c:.1f} °C, at or above tank_max_c"
    if hp_usable and not hp_running:
        return False, "the heat pump charges the tank first"
    release_c = settings.tank_min_c + BOOST_RELEASE_C
    helper = "heat pump on and not keeping up" if hp_usable else "no usable heat pump"
    if tank.top_c < settings.tank_min_c:
        return True, f"tank top {tank.top_c:.1f} °C below tank_min_c, {helper}"
    if tank.top_c >= release_c:
        return False, f"tank top {tank.top_c:.1f} °C at or above {release_c:g} °C"
    doing = "keeps boosting" if previous else "stays off"
    return previous, f"tank top {tank.top_c:.1f} °C, within tank_min_c-{release_c:g} °C: {doing}"


def _state(on: bool) -> RelayState:
    return _ON if on else _OFF
