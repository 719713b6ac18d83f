"""A walkthrough's script on the running house: when each step and point check is due, taking
the steps, and reading the point checks.

A step acts the way its actor would in service: the ATN and the uplink through the simulated
ATN and the in-process link, a broken sensor through the emulated buses, the weather through the
house model, and an operator's request through the controller's own API, so the runtime refuses
or obeys it as it would a real one. :func:`take` returns the line to narrate and narrates nothing
itself (the run knows where the narration goes). A point check reads what the controller and the
relays say at its instant, after any step due at that same instant.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime

from scada.actors.controller import Controller
from scada.control import ModeState, Step
from scada.control.modes import boss
from scada.protocol import RelayState
from sim.emulation import SimEmulation
from sim.house.model import HouseModel
from sim.house.profiles import Profile
from sim.physics_source import PhysicsSource
from sim.walkthroughs.spec import (
    AnyStep,
    AtnStep,
    BossAt,
    ColdSnap,
    HoldRelease,
    HoldTake,
    LinkStep,
    ModeAt,
    ModeSet,
    RelayAt,
    RelaySet,
    SensorFail,
    SensorHeal,
    Walkthrough,
    WeatherNormal,
)

Due = tuple[float, int, int, AnyStep | ModeAt | BossAt | RelayAt]
"""(seconds into the run, 0 for a step or 1 for a point check, index in the file, the item)."""


def schedule(wt: Walkthrough) -> list[Due]:
    """Every step of ``wt`` and every point check, in the order they are due: by time, the steps
    of an instant before its checks (a check reads what the steps did), then in file order. A
    cold snap with a ``lasting`` brings its own ``weather.normal`` step at its end."""
    items: list[Due] = []
    for i, step in enumerate(wt.steps):
        items.append((step.at.total_seconds(), 0, i, step))
        if isinstance(step, ColdSnap) and step.lasting is not None:
            back = WeatherNormal(at=step.at + step.lasting, do="weather.normal")
            items.append((back.at.total_seconds(), 0, i, back))
    for i, check in enumerate(wt.expect):
        if isinstance(check, ModeAt | BossAt | RelayAt):
            items.append((check.at.total_seconds(), 1, i, check))
    items.sort(key=lambda x: (x[0], x[1], x[2]))
    return items


class Weather:
    """The house model's outdoor air, shifted from the profile the house started with."""

    def __init__(self, model: HouseModel) -> None:
        self.model = model
        self.profile: Profile | None = None
        """The house's own weather profile, once a step has shifted it."""

    def shift(self, by_c: float) -> None:
        """Make the weather the house's own profile plus ``by_c`` kelvin (0: the profile)."""
        if self.profile is None:
            self.profile = self.model.weather
        base = self.profile
        self.model.weather = dataclasses.replace(
            base, values=tuple(v + by_c for v in base.values), _last=[]
        )


async def take(step: AnyStep, emu: SimEmulation, controller: Controller, weather: Weather) -> str:
    """Take ``step`` now; the line to narrate: ``do: words``, with the controller's answer to an
    operator's request (``-> ok``, its notes, or why it refused)."""
    outcome = ""
    if isinstance(step, AtnStep):
        assert emu.atn is not None
        getattr(emu.atn, step.do.removeprefix("atn."))()
    elif isinstance(step, LinkStep):
        assert emu.link is not None
        (emu.link.cut if step.do == "link.cut" else emu.link.restore)()
    elif isinstance(step, SensorFail):
        emu.fail_channel(step.channel, step.how)
    elif isinstance(step, SensorHeal):
        emu.heal_channel(step.channel)
    elif isinstance(step, ColdSnap):
        weather.shift(step.by_c)
    elif isinstance(step, WeatherNormal):
        weather.shift(0.0)
    elif isinstance(step, HoldTake):
        outcome = _step_outcome(await controller.take_hold(step.operator, step.minutes))
    elif isinstance(step, HoldRelease):
        outcome = _step_outcome(await controller.release_hold(step.operator))
    elif isinstance(step, RelaySet):
        result = await controller.set_relay(step.node, step.state, step.operator)
        outcome = result.outcome.value + (f": {result.reason}" if result.reason else "")
    elif isinstance(step, ModeSet):
        outcome = _step_outcome(await controller.set_mode(step.mode, step.operator))
    words = step.say or _default_words(step)
    return f"{step.do}: {words}" + (f" -> {outcome}" if outcome else "")


def observe(
    check: ModeAt | BossAt | RelayAt, controller: Controller, physics: PhysicsSource, now: datetime
) -> str:
    """What ``check`` reads at ``now``: the mode, the boss, or the relay's state as the house
    feels it (the physics' relay, not the runtime's belief)."""
    state = controller.state
    if isinstance(check, ModeAt):
        return state.mode.value
    if isinstance(check, BossAt):
        return boss(state, now).value
    on = physics.relay_states().get(check.node, False)
    return (RelayState.ON if on else RelayState.OFF).value


def _step_outcome(step: Step[ModeState]) -> str:
    if step.refusal is not None:
        return f"refused: {step.refusal.reason}"
    return "; ".join(step.notes) or "ok"


def _default_words(step: AnyStep) -> str:
    words = {
        "atn.go_silent": "the ATN goes silent",
        "atn.resume": "the ATN speaks again",
        "atn.terminate": "the ATN terminates its contract",
        "atn.stop_offering": "the ATN offers no new contract",
        "link.cut": "the uplink to the ATN is cut",
        "link.restore": "the uplink is back",
        "weather.normal": "the weather is back to the profile",
    }
    if step.do in words:
        return words[step.do]
    if isinstance(step, SensorFail):
        return f"{step.channel} breaks ({step.how})"
    if isinstance(step, SensorHeal):
        return f"{step.channel} is repaired"
    if isinstance(step, ColdSnap):
        return f"the outdoor air is {abs(step.by_c):g} K colder than the profile"
    if isinstance(step, HoldTake):
        return f"{step.operator} takes the admin hold for {step.minutes:g} min"
    if isinstance(step, HoldRelease):
        return f"{step.operator} releases the admin hold"
    if isinstance(step, RelaySet):
        return f"{step.operator} turns {step.node} {step.state.value}"
    if isinstance(step, ModeSet):
        return f"{step.operator} asks for {step.mode.value} control"
    return step.do
