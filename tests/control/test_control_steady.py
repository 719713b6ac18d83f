"""Deadlines of the pure core: until ``steady_until`` says, time alone changes no decision.

The controller reuses a tick, a home-alone decision or an interlock verdict until the deadline
the core gives for it, and skips a whole pass while nothing changed. These properties are what
makes that safe: at any instant before the deadline the function answers as it did.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from scada.control import home_alone, interlocks, modes
from scada.control.home_alone import HomeAloneInputs, decide
from scada.control.inputs import control_channels
from scada.control.interlocks import RelayRecord
from scada.protocol import CommandSource, RelayState
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
    ZONE1,
    ZONE2,
    grace,
)
from tests.control.test_control_properties import _do, ops

US = timedelta(microseconds=1)
temps = st.none() | st.floats(min_value=-20, max_value=120, allow_nan=False)
states = st.sampled_from(list(RelayState))
shares = st.lists(st.floats(min_value=0, max_value=1), min_size=1, max_size=6)


def _instants(now: datetime, until: datetime | None, shares: list[float]) -> list[datetime]:
    """Instants from ``now`` up to just before ``until`` (two days on when there is none)."""
    end = until if until is not None else now + timedelta(days=2)
    picked = [now + (end - now) * s for s in shares]
    return [t for t in [*picked, end - US] if now <= t < end]


@given(ops, shares)
def test_a_steady_mode_state_stays_as_it_is_until_its_deadline(
    sequence: list[tuple[str, float, str, int]], picks: list[float]
) -> None:
    state = modes.initial(T0)
    now_s = 0.0
    for index, op in enumerate(sequence):
        now_s += op[1]
        state = _do(state, op, index, now_s).state
    now = T0 + timedelta(seconds=now_s)
    if modes.tick(state, now, SETTINGS).state is not state:
        return  # time moves it now: not a steady state
    until = modes.steady_until(state, now, SETTINGS)
    for t in _instants(now, until, picks):
        step = modes.tick(state, t, SETTINGS)
        assert step.state is state, t - now
        assert not step.notes


def test_the_grace_ends_just_after_its_deadline() -> None:
    """The silence and the grace end *after* their instant: a tick exactly at the deadline
    changes nothing, so the deadline it then gives is that same instant, not a later one."""
    state = grace()
    end = state.since + timedelta(seconds=SETTINGS.contract_grace_s)
    steady = modes.tick(state, end, SETTINGS).state
    assert steady.phase is modes.Phase.REMOTE_GRACE
    assert modes.steady_until(steady, end, SETTINGS) == end
    assert modes.tick(steady, end + US, SETTINGS).state.phase is modes.Phase.LOCAL_AUTO


@given(
    desired=st.dictionaries(st.sampled_from([HP, PUMP, ELT, ELT2]), states),
    layers=st.tuples(temps, temps, temps),
    pipe=temps,
    outdoor=temps,
    history=st.dictionaries(
        st.sampled_from([HP, PUMP, ELT, ELT2]),
        st.tuples(states, st.floats(min_value=0, max_value=1200)),
    ),
    source=st.sampled_from(list(CommandSource)),
    picks=shares,
)
def test_interlocks_answer_alike_until_their_deadline(
    *,
    desired: dict[str, RelayState],
    layers: tuple[float | None, float | None, float | None],
    pipe: float | None,
    outdoor: float | None,
    history: dict[str, tuple[RelayState, float]],
    source: CommandSource,
    picks: list[float],
) -> None:
    now = T0 + timedelta(hours=2)
    readings: dict[str, float | None] = {PIPE: pipe, OUTDOOR: outdoor}
    readings.update(zip(LAYERS, layers, strict=True))
    records = {n: RelayRecord(s, now - timedelta(seconds=ago)) for n, (s, ago) in history.items()}

    def verdict(t: datetime) -> tuple[object, ...]:
        res = interlocks.apply(
            desired,
            source,
            readings=readings,
            relay_history=records,
            actuators=ACTUATORS,
            settings=SETTINGS,
            now=t,
        )
        return res.final, [(o.node, o.interlock, o.forced) for o in res.overrides]

    until = interlocks.steady_until(desired, relay_history=records, actuators=ACTUATORS, now=now)
    first = verdict(now)
    for t in _instants(now, until, picks):
        assert verdict(t) == first, t - now


@given(
    living=temps,
    bedroom=temps,
    layers=st.tuples(temps, temps, temps),
    relays=st.dictionaries(st.sampled_from([ZONE1, ZONE2, PUMP, HP, ELT, ELT2]), states),
    start_s=st.floats(min_value=0, max_value=86_400),
    picks=shares,
)
def test_home_alone_wants_alike_until_its_deadline(
    *,
    living: float | None,
    bedroom: float | None,
    layers: tuple[float | None, float | None, float | None],
    relays: dict[str, RelayState],
    start_s: float,
    picks: list[float],
) -> None:
    readings: dict[str, float | None] = {"living-temp": living, "bedroom-temp": bedroom}
    readings.update(zip(LAYERS, layers, strict=True))
    inputs = HomeAloneInputs(readings, relays)
    now = T0 + timedelta(seconds=start_s)
    until = home_alone.steady_until(inputs, SETTINGS, now)
    if living is not None and bedroom is not None:
        assert until is None  # with every room known, time plays no part
    first = decide(inputs, SETTINGS, now).desired
    for t in _instants(now, until, picks):
        assert decide(inputs, SETTINGS, t).desired == first, t - now


def test_the_control_channels_are_all_the_core_reads() -> None:
    names = control_channels(SETTINGS)
    assert set(names) == {"living-temp", "bedroom-temp", *LAYERS, PIPE, OUTDOOR}
    assert len(names) == len(set(names))
    # Readings of other channels make no difference to either decision.
    readings: dict[str, float | None] = dict.fromkeys(names, 30.0)
    noisy = {**readings, "hp-power": 1234.0, "dist-flow": 3.2}
    inputs = HomeAloneInputs(readings, {HP: RelayState.ON})
    assert decide(inputs, SETTINGS, T0) == decide(
        HomeAloneInputs(noisy, {HP: RelayState.ON}), SETTINGS, T0
    )
    for r in (readings, noisy):
        assert interlocks.apply(
            {ELT: RelayState.ON},
            CommandSource.ATN,
            readings=r,
            relay_history={},
            actuators=ACTUATORS,
            settings=SETTINGS,
            now=T0,
        ) == interlocks.apply(
            {ELT: RelayState.ON},
            CommandSource.ATN,
            readings=readings,
            relay_history={},
            actuators=ACTUATORS,
            settings=SETTINGS,
            now=T0,
        )
