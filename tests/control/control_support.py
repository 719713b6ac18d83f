"""Shared builders for the control tests: a two-zone house, fixed times, states in each phase."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from scada.control import Step, modes
from scada.control.contract import Accept, Heartbeat, Offer
from scada.control.modes import ModeState
from scada.layout import Actuator, ControlSettings, Zone
from scada.protocol import Mode

T0 = datetime(2025, 1, 15, 13, 0, tzinfo=UTC)
"""Every test's clock starts here (a Wednesday, 13:00 UTC)."""

HP = "a.hp.relay"
PUMP = "a.pump.relay"
ELT = "a.elt1.relay"
ELT2 = "a.elt2.relay"
ZONE1 = "a.zone1.relay"
ZONE2 = "a.zone2.relay"
LAYERS = ("tank-top", "tank-mid", "tank-bottom")
PIPE = "pipe-temp"
OUTDOOR = "outdoor-temp"


def at(seconds: float) -> datetime:
    """``T0 + seconds``."""
    return T0 + timedelta(seconds=seconds)


def make_settings(**overrides: Any) -> ControlSettings:
    """The test house: two zones with relays, a 3-layer tank, heat pump, pump, two elements."""
    fields: dict[str, Any] = {
        "zones": (
            Zone(name="living", room_channel="living-temp", setpoint_c=20.0, relay=ZONE1),
            Zone(name="bedroom", room_channel="bedroom-temp", setpoint_c=18.0, relay=ZONE2),
        ),
        "comfort_band_c": 1.0,
        "tank_layers": LAYERS,
        "heat_pump": HP,
        "circulator": PUMP,
        "boost_elements": (ELT, ELT2),
        "freeze_channels": (PIPE,),
        "outdoor_channel": OUTDOOR,
        "tank_min_c": 40.0,
        "tank_target_c": 60.0,
        "tank_max_c": 80.0,
        "freeze_pipe_c": 5.0,
        "freeze_tank_c": 8.0,
        "freeze_hysteresis_c": 2.0,
        "hold_cap_s": 4 * 3600.0,
        "contract_grace_s": 300.0,
        "heartbeat_timeout_s": 90.0,
    }
    fields.update(overrides)
    return ControlSettings(**fields)


SETTINGS = make_settings()


def actuator(node: str, *, min_on_s: float = 0.0, min_off_s: float = 0.0) -> Actuator:
    return Actuator(
        node=node,
        drives=node.rpartition(".")[0],
        device="relays",
        board_channel=0,
        min_on_s=min_on_s,
        min_off_s=min_off_s,
    )


ACTUATORS = (
    actuator(HP, min_on_s=300, min_off_s=600),
    actuator(PUMP),
    actuator(ELT),
    actuator(ELT2),
    actuator(ZONE1),
    actuator(ZONE2),
)
NODES = frozenset(a.node for a in ACTUATORS)


def ok(step: Step[ModeState]) -> ModeState:
    """The state of a step that must have been carried out."""
    assert step.refusal is None, step.refusal
    return step.state


def auto(settings: ControlSettings = SETTINGS) -> ModeState:
    """LOCAL_AUTO at T0 with the uplink up and no contract."""
    return ok(modes.link_up(modes.initial(T0), T0, settings))


def with_live_contract(state: ModeState, settings: ControlSettings = SETTINGS) -> ModeState:
    """``state`` (uplink up, at T0) plus contract c1 offered and accepted at T0, [T0, T0+1h)."""
    state = ok(modes.contract_message(state, Offer("c1", T0, 3600), T0, settings))
    return ok(modes.contract_message(state, Accept("c1"), T0, settings))


def remote(settings: ControlSettings = SETTINGS) -> ModeState:
    """REMOTE at T0: uplink up, contract c1 live."""
    return with_live_contract(auto(settings), settings)


def grace(settings: ControlSettings = SETTINGS) -> ModeState:
    """REMOTE_GRACE since T0+10: REMOTE, then the uplink went down."""
    return ok(modes.link_down(remote(settings), at(10), settings))


def pinned(settings: ControlSettings = SETTINGS) -> ModeState:
    """LOCAL_PINNED at T0 with the uplink up and a live contract c1."""
    state = ok(modes.link_up(modes.initial(T0, requested=Mode.LOCAL), T0, settings))
    return with_live_contract(state, settings)


def heartbeat(
    state: ModeState, now: datetime, settings: ControlSettings = SETTINGS, digit: int = 4
) -> ModeState:
    """An ATN heartbeat for c1 at ``now`` echoing whatever the SCADA last sent."""
    c = state.contract
    assert c is not None
    msg = Heartbeat("c1", digit, c.my_digit)
    return ok(modes.contract_message(state, msg, now, settings))
