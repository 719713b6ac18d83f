"""The console's view-model: what a snapshot and each event do to it, and that it stays bounded."""

from __future__ import annotations

from datetime import datetime, timedelta

from gwtui.state import (
    HISTORY_POINTS,
    LOG_ENTRIES,
    ActuatorView,
    Changed,
    CommandPhase,
    ConsoleState,
    LinkPhase,
)
from scada.api.client import UnknownEvent
from scada.protocol import (
    ActuatorCommand,
    ChannelHealth,
    CommandOutcome,
    CommandResult,
    CommandSource,
    DeviceHealth,
    DeviceHealthState,
    EventFrame,
    EventKind,
    HoldEnded,
    HoldEndReason,
    HoldState,
    LogLevel,
    LogLine,
    Mode,
    ModeChanged,
    PowerReading,
    ProblemEvent,
    ProblemKind,
    Reading,
    RelayState,
    Severity,
    WireMessage,
)
from tests.gwtui import gwtui_house as house
from tests.gwtui.gwtui_house import DW1, T0, fixed_id

ELT = "a.elt1.relay"


def frame(kind: EventKind, payload: WireMessage, at: datetime = T0) -> EventFrame:
    return EventFrame(event=kind, payload=payload, at=at)  # type: ignore[arg-type,unused-ignore]


def phase(view: ActuatorView) -> CommandPhase:
    """Read afresh (mypy would otherwise keep an earlier narrowing of the property)."""
    return view.phase


def health(state: ConsoleState, channel: str) -> ChannelHealth:
    return state.channels[channel].health


def attached() -> ConsoleState:
    state = ConsoleState()
    state.connected(DW1, simulated=True, server_version="0.1.0", at=T0)
    state.apply_snapshot(house.snapshot(), T0)
    return state


def reading(channel: str, value: float, at: datetime) -> EventFrame:
    spec = next(c for c in house.snapshot().channels if c.channel == channel)
    r = Reading(channel=channel, node=spec.node, value=value, unit=spec.unit, read_at=at)
    return frame(EventKind.READING, r, at)


def command(state: RelayState = RelayState.ON, n: int = 1, at: datetime = T0) -> ActuatorCommand:
    return ActuatorCommand(
        id=fixed_id(n),
        source=CommandSource.ADMIN,
        operator="Jane",
        target=ELT,
        state=state,
        issued_at=at,
    )


def test_a_snapshot_lays_out_every_channel_actuator_and_the_header() -> None:
    state = ConsoleState()
    changes = state.apply_snapshot(house.snapshot(), T0)
    assert Changed.CHANNEL_LAYOUT in changes.flags
    assert list(state.channels) == [c["name"] for c in house.layout()["channels"]]
    assert list(state.actuators) == [a["node"] for a in house.layout()["actuators"]]
    assert state.mode is Mode.REMOTE
    assert state.simulated is True
    assert state.channels["dist-flow"].health is ChannelHealth.STALE
    # The same channels again are an update, not a new layout.
    assert Changed.CHANNEL_LAYOUT not in state.apply_snapshot(house.snapshot(), T0).flags


def test_readings_move_values_and_count_changes_but_old_ones_are_ignored() -> None:
    state = attached()
    view = state.channels["tank-temp0"]
    before = view.changes
    changes = state.apply(reading("tank-temp0", 62.0, T0 + timedelta(seconds=1)), T0)
    assert changes.channels == {"tank-temp0"}
    assert view.value == 62.0
    assert view.changes == before + 1
    assert not state.apply(reading("tank-temp0", 10.0, T0 - timedelta(hours=1)), T0)
    assert view.value == 62.0


def test_power_readings_count_as_readings_of_their_channel() -> None:
    state = attached()
    power = PowerReading(
        channel="hp-power",
        node="a.hp",
        power_w=3100.0,
        read_at=T0 + timedelta(seconds=2),
        seq=1,
        boot_id=fixed_id(9),
    )
    state.apply(frame(EventKind.READING, power), T0)
    assert state.channels["hp-power"].value == 3100.0


def test_a_reading_for_an_unknown_channel_changes_nothing() -> None:
    state = attached()
    r = Reading(channel="ghost", node="a.ghost", value=1.0, unit="W", read_at=T0)
    assert not state.apply(frame(EventKind.READING, r), T0)


def test_a_quiet_channel_turns_stale_on_the_console_even_if_the_scada_is_silent() -> None:
    state = attached()
    view = state.channels["tank-temp0"]
    health, reason = view.verdict(T0 + timedelta(seconds=10))
    assert health is ChannelHealth.OK
    health, reason = view.verdict(T0 + timedelta(minutes=5))
    assert health is ChannelHealth.STALE
    assert reason is not None
    assert "console" in reason


def test_problem_reports_grey_and_recover_their_channel() -> None:
    state = attached()
    stale = ProblemEvent(
        id=fixed_id(1),
        at=T0,
        kind=ProblemKind.SENSOR_OUT_OF_RANGE,
        subject="tank-temp0",
        summary="tank-temp0 out of range: 140 > 105",
        severity=Severity.WARNING,
    )
    changes = state.apply(frame(EventKind.PROBLEM, stale), T0)
    assert changes.channels == {"tank-temp0"}
    assert health(state, "tank-temp0") is ChannelHealth.OUT_OF_RANGE
    assert state.log[-1].kind == "problem"
    recovered = stale.model_copy(update={"id": fixed_id(2), "kind": ProblemKind.SENSOR_RECOVERED})
    state.apply(frame(EventKind.PROBLEM, recovered), T0)
    assert health(state, "tank-temp0") is ChannelHealth.OK


def test_a_fresh_reading_clears_a_stale_verdict() -> None:
    state = attached()
    state.apply(reading("dist-flow", 3.0, T0 + timedelta(seconds=1)), T0)
    assert state.channels["dist-flow"].health is ChannelHealth.OK


def test_device_health_changes_are_logged_once_per_transition() -> None:
    state = attached()
    failing = DeviceHealth(
        device="egauge", state=DeviceHealthState.FAILING, failing_since=T0, last_error="timeout"
    )
    state.apply(frame(EventKind.DEVICE, failing), T0)
    state.apply(frame(EventKind.DEVICE, failing), T0)
    device_lines = [e for e in state.log if e.kind == "device"]
    assert len(device_lines) == 1
    assert "timeout" in device_lines[0].text
    assert state.failing_devices() == [failing]


def test_a_command_goes_pending_then_confirmed() -> None:
    state = attached()
    view = state.actuators[ELT]
    state.apply(frame(EventKind.ACTUATOR, command()), T0)
    assert phase(view) is CommandPhase.PENDING
    accepted = CommandResult(
        command_id=fixed_id(1), target=ELT, outcome=CommandOutcome.ACCEPTED, at=T0
    )
    state.apply(frame(EventKind.ACTUATOR, accepted), T0)
    assert phase(view) is CommandPhase.PENDING
    assert view.describe_last().startswith("pending read-back")
    confirmed = accepted.model_copy(update={"outcome": CommandOutcome.CONFIRMED})
    state.apply(frame(EventKind.ACTUATOR, confirmed), T0)
    assert phase(view) is CommandPhase.CONFIRMED
    assert view.describe_last() == "confirmed · ON by Jane"
    # A late "accepted" never steps a final outcome back.
    state.apply(frame(EventKind.ACTUATOR, accepted), T0)
    assert phase(view) is CommandPhase.CONFIRMED


def test_a_refusal_by_an_interlock_is_shown_with_its_reason() -> None:
    state = attached()
    state.apply(frame(EventKind.ACTUATOR, command()), T0)
    refused = CommandResult(
        command_id=fixed_id(1),
        target=ELT,
        outcome=CommandOutcome.REFUSED,
        reason="tank above its maximum temperature",
        at=T0,
        interlock="tank-max-temp",
    )
    changes = state.apply(frame(EventKind.ACTUATOR, refused), T0)
    view = state.actuators[ELT]
    assert phase(view) is CommandPhase.REFUSED
    assert "interlock tank-max-temp" in view.describe_last()
    assert "maximum temperature" in view.describe_last()
    assert Changed.LOG in changes.flags
    assert state.log[-1].level == "error"


def test_a_result_for_an_older_command_does_not_overwrite_the_newer_one() -> None:
    state = attached()
    state.apply(frame(EventKind.ACTUATOR, command(n=1)), T0)
    state.apply(
        frame(EventKind.ACTUATOR, command(RelayState.OFF, n=2, at=T0 + timedelta(seconds=1))), T0
    )
    old = CommandResult(command_id=fixed_id(1), target=ELT, outcome=CommandOutcome.CONFIRMED, at=T0)
    state.apply(frame(EventKind.ACTUATOR, old), T0)
    assert state.actuators[ELT].phase is CommandPhase.PENDING


def test_a_console_refusal_shows_on_the_row_until_the_next_command() -> None:
    state = attached()
    state.refused(ELT, RelayState.ON, "no admin hold", T0)
    assert state.actuators[ELT].phase is CommandPhase.REFUSED
    assert "no admin hold" in state.actuators[ELT].describe_last()
    state.apply(frame(EventKind.ACTUATOR, command()), T0)
    assert state.actuators[ELT].phase is CommandPhase.PENDING


def test_hold_and_its_end_move_the_header_and_the_mode() -> None:
    state = attached()
    hold = HoldState(
        operator="Jane",
        started_at=T0,
        expires_at=T0 + timedelta(minutes=30),
        previous_mode=Mode.REMOTE,
    )
    state.apply(frame(EventKind.HOLD, hold), T0)
    assert state.holder_is("Jane")
    assert not state.holder_is("Bob")
    # A keep-alive's extension is not news for the log.
    logged = len(state.log)
    state.apply(
        frame(EventKind.HOLD, hold.model_copy(update={"expires_at": T0 + timedelta(hours=1)})), T0
    )
    assert len(state.log) == logged
    ended = HoldEnded(
        operator="Jane", ended_at=T0, reason=HoldEndReason.EXPIRED, resumed_mode=Mode.LOCAL
    )
    state.apply(frame(EventKind.HOLD, ended), T0)
    assert state.hold is None
    assert state.mode is Mode.LOCAL
    assert "expired" in state.log[-1].text


def test_mode_changes_are_logged_with_their_reason() -> None:
    state = attached()
    change = ModeChanged(mode=Mode.LOCAL, previous=Mode.REMOTE, reason="contract expired", at=T0)
    state.apply(frame(EventKind.MODE, change), T0)
    assert state.mode is Mode.LOCAL
    assert state.log[-1].text == "mode RemoteControl -> LocalControl: contract expired"


def test_unknown_events_are_logged_as_such_not_dropped() -> None:
    state = attached()
    item = UnknownEvent(
        {"type": "event", "event": "weather", "payload": {"type": "forecast"}}, "unknown"
    )
    changes = state.apply(item, T0)
    assert Changed.LOG in changes.flags
    assert state.unknown_events == 1
    assert state.log[-1].kind == "unknown"
    assert "weather / forecast" in state.log[-1].text
    state.apply(UnknownEvent("garbage{", "invalid JSON"), T0)
    assert "garbage{" in state.log[-1].text


def test_disconnecting_marks_everything_not_live() -> None:
    state = attached()
    changes = state.disconnected("connection reset", retry_at=5.0, at=T0)
    assert state.connection.phase is LinkPhase.DISCONNECTED
    assert not state.live
    assert Changed.CHANNEL_VALUES in changes.flags
    assert Changed.ACTUATORS in changes.flags
    assert state.log[-1].level == "error"
    # Disconnected again while already down: no second log line.
    logged = len(state.log)
    state.disconnected("still down", retry_at=6.0, at=T0)
    assert len(state.log) == logged


def test_the_scadas_now_runs_from_its_latest_frame() -> None:
    state = attached()
    later = T0 + timedelta(hours=3)  # an accelerated simulation runs ahead of our clock
    state.apply(reading("tank-temp0", 60.0, later), T0)
    assert state.server_now(T0 + timedelta(seconds=2)) == later + timedelta(seconds=2)


def test_history_and_log_stay_bounded() -> None:
    state = attached()
    for i in range(HISTORY_POINTS * 2):
        state.apply(reading("tank-temp0", 50.0 + (i % 7), T0 + timedelta(seconds=i + 1)), T0)
    assert len(state.channels["tank-temp0"].history) == HISTORY_POINTS
    for i in range(LOG_ENTRIES * 2):
        line = LogLine(at=T0, level=LogLevel.INFO, logger="scada", message=f"line {i}")
        state.apply(frame(EventKind.LOG, line), T0)
    assert len(state.log) == LOG_ENTRIES
    assert state.log[-1].text == f"scada: line {LOG_ENTRIES * 2 - 1}"


def test_backfill_fills_the_log_without_replaying_old_state_or_duplicates() -> None:
    state = attached()
    old_hold = HoldState(
        operator="Bob",
        started_at=T0 - timedelta(hours=2),
        expires_at=T0 - timedelta(hours=1),
        previous_mode=Mode.LOCAL,
    )
    frames = [*house.recent_events(), frame(EventKind.HOLD, old_hold, T0 - timedelta(hours=2))]
    added = state.backfill(frames, T0)
    assert added == 4
    assert state.hold is None  # the old hold is history, not the present
    assert [e.at for e in state.log] == sorted(e.at for e in state.log)
    assert state.backfill(frames, T0) == 0
