"""Properties that hold whatever happens: safety of the interlocks, coherence of the modes."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from scada.control import hold as holds
from scada.control import modes
from scada.control.contract import Accept, ContractMessage, End, Heartbeat, Offer, Terminate
from scada.control.interlocks import Interlocked, RelayRecord, apply, in_band, reading_bands
from scada.control.modes import ModeState, Phase
from scada.control.outcome import Step
from scada.protocol import CommandSource, Mode, RelayState, Side
from tests.control.control_support import (
    ACTUATORS,
    ELT,
    ELT2,
    HP,
    LAYERS,
    OUTDOOR,
    PIPE,
    PUMP,
    SETTINGS,
    T0,
)

NODES = [HP, PUMP, ELT, ELT2]
temps = st.none() | st.floats(min_value=-20, max_value=120, allow_nan=False)
states = st.sampled_from(list(RelayState))


@dataclass(frozen=True)
class InterlockCase:
    """What :func:`apply` is given: what ``source`` wants, the readings and the relays."""

    desired: dict[str, RelayState]
    readings: dict[str, float | None]
    records: dict[str, RelayRecord]
    source: CommandSource
    now: datetime

    def apply(self, readings: dict[str, float | None] | None = None) -> Interlocked:
        return apply(
            self.desired,
            self.source,
            readings=self.readings if readings is None else readings,
            relay_history=self.records,
            actuators=ACTUATORS,
            settings=SETTINGS,
            now=self.now,
        )


@st.composite
def interlock_cases(draw: st.DrawFn) -> InterlockCase:
    now = T0 + timedelta(hours=2)
    readings: dict[str, float | None] = {PIPE: draw(temps), OUTDOOR: draw(temps)}
    readings.update(zip(LAYERS, draw(st.tuples(temps, temps, temps)), strict=True))
    ago = st.floats(min_value=0, max_value=5000)
    history = draw(st.dictionaries(st.sampled_from(NODES), st.tuples(states, ago)))
    return InterlockCase(
        desired=draw(st.dictionaries(st.sampled_from(NODES), states)),
        readings=readings,
        records={n: RelayRecord(s, now - timedelta(seconds=a)) for n, (s, a) in history.items()},
        source=draw(st.sampled_from(list(CommandSource))),
        now=now,
    )


@given(case=interlock_cases())
def test_interlocks_never_let_an_element_heat_an_unsafe_tank(case: InterlockCase) -> None:
    final, overrides = case.apply()
    records, layers, pipe = case.records, [case.readings[c] for c in LAYERS], case.readings[PIPE]

    def effective(node: str) -> RelayState:
        """What the relay does after this: the result, else it stays as it is."""
        current = records[node].state if node in records else RelayState.OFF
        return final.get(node, current)

    unsafe = any(t is None or t >= SETTINGS.tank_max_c for t in layers)
    for element in (ELT, ELT2):
        if unsafe:
            assert effective(element) is RelayState.OFF
    if pipe is not None and pipe < SETTINGS.freeze_pipe_c:
        assert effective(PUMP) is RelayState.ON
    assert set(case.desired) <= set(final)
    for o in overrides:
        assert final[o.node] is o.forced
        assert o.forced is not o.wanted


op_kinds = st.sampled_from(
    [
        "tick",
        "link_up",
        "link_down",
        "offer",
        "accept",
        "heartbeat",
        "end",
        "terminate",
        "set_local",
        "set_remote",
        "take",
        "keep",
        "release",
    ]
)
ops = st.lists(
    st.tuples(
        op_kinds,
        st.floats(min_value=0, max_value=400),
        st.sampled_from(["alice", "bob"]),
        st.integers(min_value=0, max_value=9),
    ),
    max_size=40,
)


def _contract_msg(state: ModeState, kind: str, digit: int, index: int) -> ContractMessage:
    cid = state.contract.contract_id if state.contract else "c0"
    if kind == "offer":
        return Offer(f"c{index}", T0, 7200 + 600 * index)
    if kind == "accept":
        return Accept(cid)
    if kind == "heartbeat":
        echo = state.contract.my_digit if state.contract else None
        return Heartbeat(cid, digit, echo)
    if kind == "end":
        return End(cid)
    return Terminate(cid, Side.ATN, "test")


def _do(
    state: ModeState, op: tuple[str, float, str, int], index: int, now_s: float
) -> Step[ModeState]:
    kind, _, who, digit = op
    now = T0 + timedelta(seconds=now_s)
    if kind == "tick":
        return modes.tick(state, now, SETTINGS)
    if kind == "link_up":
        return modes.link_up(state, now, SETTINGS)
    if kind == "link_down":
        return modes.link_down(state, now, SETTINGS)
    if kind in ("set_local", "set_remote"):
        mode = Mode.LOCAL if kind == "set_local" else Mode.REMOTE
        return modes.set_mode(state, who, mode, now, SETTINGS)
    if kind == "take":
        return modes.take_hold(state, who, 60.0 * (digit + 1), now, SETTINGS)
    if kind == "keep":
        return modes.keep_hold_alive(state, who, now, SETTINGS)
    if kind == "release":
        return modes.release_hold(state, who, now, SETTINGS)
    return modes.contract_message(state, _contract_msg(state, kind, digit, index), now, SETTINGS)


@given(ops)
def test_modes_stay_coherent_whatever_happens(
    sequence: list[tuple[str, float, str, int]],
) -> None:
    state = modes.initial(T0)
    now_s = 0.0
    for index, op in enumerate(sequence):
        now_s += op[1]
        now = T0 + timedelta(seconds=now_s)
        step = _do(state, op, index, now_s)
        if step.refusal is not None:
            assert step.state is state
            assert step.refusal.reason
        state = step.state
        boss = modes.boss(state, now)
        assert boss in {CommandSource.ADMIN, CommandSource.ATN, CommandSource.HOME_ALONE}
        held = holds.active(state.hold, now)
        assert (boss is CommandSource.ADMIN) == (held is not None)
        if held is not None:
            assert held.remaining_s(now) <= SETTINGS.hold_cap_s
        if step.ok:
            problem = modes.lease_problem(state, now, SETTINGS)
            if state.phase is Phase.REMOTE:
                assert problem is None
            if state.phase is Phase.LOCAL_AUTO:
                assert problem is not None
            if state.phase is Phase.REMOTE_GRACE:
                assert (now - state.since).total_seconds() <= SETTINGS.contract_grace_s
        if state.mode is Mode.REMOTE:
            assert state.contract is not None
            assert state.requested is Mode.REMOTE


def _inside(data: st.DataObject, band: tuple[float, float] | None) -> float | None:
    """A reading inside ``band`` (none for the band of a missing reading)."""
    if band is None:
        return None
    lo, hi = max(band[0], -40.0), min(band[1], 150.0)
    return data.draw(
        st.floats(min_value=lo, max_value=hi, exclude_max=band[1] <= 150.0, allow_nan=False)
    )


@given(case=interlock_cases(), data=st.data())
def test_readings_inside_their_bands_leave_every_interlock_decision_as_it_was(
    case: InterlockCase, data: st.DataObject
) -> None:
    bands = reading_bands(case.readings, case.records, SETTINGS)
    assert set(case.readings) <= set(bands)  # every channel the interlocks read has a band
    moved = {channel: _inside(data, band) for channel, band in bands.items()}
    assert all(in_band(moved[c], bands[c]) for c in bands)

    def decided(result: Interlocked) -> tuple[object, ...]:
        final, overrides = result
        return final, [(o.node, o.interlock, o.wanted, o.forced) for o in overrides]

    assert decided(case.apply()) == decided(case.apply(moved))


def test_a_band_ends_at_the_thresholds_the_interlocks_compare_with() -> None:
    max_c, pipe_c = SETTINGS.tank_max_c, SETTINGS.freeze_pipe_c
    readings: dict[str, float | None] = {PIPE: pipe_c + 10, OUTDOOR: None}
    readings.update(dict.fromkeys(LAYERS, max_c - 1))
    bands = reading_bands(readings, {}, SETTINGS)
    assert bands[LAYERS[0]] == (SETTINGS.freeze_tank_c, max_c)
    assert bands[PIPE] == (pipe_c, math.inf)
    assert bands[OUTDOOR] is None
    assert in_band(max_c - 0.001, bands[LAYERS[0]])
    assert not in_band(max_c, bands[LAYERS[0]])  # at tank_max_c the elements are held off
    assert not in_band(None, bands[LAYERS[0]])  # a reading gone stale is a change
    # A running circulator is kept on up to the release temperature: its band moves with it.
    on = {PUMP: RelayRecord(RelayState.ON, T0)}
    readings[PIPE] = pipe_c + 1
    assert reading_bands(readings, on, SETTINGS)[PIPE] == (
        -math.inf,
        pipe_c + SETTINGS.freeze_hysteresis_c,
    )
