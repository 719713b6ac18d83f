"""Link changes are published once each: a ``link`` event, and a problem on every outage."""

from __future__ import annotations

from datetime import datetime, timedelta

from scada.actors.house import HouseState
from scada.actors.link_watch import LinkWatch
from scada.hub import EventHub
from scada.protocol import ProblemEvent
from scada.protocol.enums import AtnState, EventKind, LinkState, ProblemKind, Severity
from scada.protocol.snapshot import LinkStatus
from tests.runtime.harness import DW1, T0, house_layout, uid


class StillClock:
    """The wall clock standing at T0: the watch is driven by :meth:`LinkWatch.look`."""

    def now(self) -> datetime:
        return T0

    def monotonic(self) -> float:
        return 0.0

    async def sleep(self, seconds: float) -> None:
        raise AssertionError("not used: the tests call look()")


class Liveness:
    """What the watched uplink says, set by the test."""

    def __init__(self) -> None:
        self.broker, self.atn, self.detail = LinkState.CONNECTING, AtnState.UNKNOWN, "starting"

    def __call__(self, now: datetime) -> LinkStatus:
        return LinkStatus(broker=self.broker, atn=self.atn, detail=self.detail)


def rig() -> tuple[HouseState, LinkWatch, Liveness]:
    house = HouseState(house_layout(DW1), StillClock(), EventHub(), uid(3))
    live = Liveness()
    return house, LinkWatch(house, live), live


def kinds(house: HouseState) -> list[str]:
    out = []
    for frame in house.recent:
        if frame.event is EventKind.LINK:
            assert isinstance(frame.payload, LinkStatus)
            out.append(f"link {frame.payload.broker}/{frame.payload.atn}")
        elif frame.event is EventKind.PROBLEM:
            assert isinstance(frame.payload, ProblemEvent)
            out.append(f"{frame.payload.kind} {frame.payload.subject}")
    return out


def test_the_first_state_is_a_link_event_only_and_nothing_repeats_while_unchanged() -> None:
    house, watch, live = rig()
    for _ in range(3):
        watch.look(T0)
    live.detail = "still starting"  # the detail alone is no change
    watch.look(T0 + timedelta(seconds=5))
    assert kinds(house) == ["link connecting/unknown"]


def test_a_broker_outage_is_reported_when_it_begins_and_when_it_ends() -> None:
    house, watch, live = rig()
    watch.look(T0)
    live.broker, live.atn = LinkState.UP, AtnState.ALIVE
    watch.look(T0)
    live.broker = LinkState.DOWN
    watch.look(T0)
    live.broker = LinkState.CONNECTING  # still down: reconnecting
    watch.look(T0)
    live.broker = LinkState.UP
    watch.look(T0)
    assert kinds(house) == [
        "link connecting/unknown",
        "link up/alive",
        "link down/alive",
        "link_down broker",
        "link connecting/alive",
        "link up/alive",
        "link_up broker",
    ]
    problems = [f.payload for f in house.recent if isinstance(f.payload, ProblemEvent)]
    assert [p.severity for p in problems] == [Severity.WARNING, Severity.INFO]


def test_a_silent_atn_is_reported_apart_from_the_broker_with_how_long_it_was_heard_last() -> None:
    house, watch, live = rig()
    live.broker, live.atn = LinkState.UP, AtnState.ALIVE
    watch.look(T0)
    live.atn, live.detail = AtnState.SILENT, "ATN last heard 190 s ago"
    watch.look(T0)
    live.atn = AtnState.ALIVE
    watch.look(T0)
    assert kinds(house)[1:] == [
        "link up/silent",
        "link_down atn",
        "link up/alive",
        "link_up atn",
    ]
    down = next(
        f.payload
        for f in house.recent
        if isinstance(f.payload, ProblemEvent) and f.payload.kind is ProblemKind.LINK_DOWN
    )
    assert "190 s" in down.summary


def test_with_a_states_callable_the_detail_is_built_only_on_a_change() -> None:
    house = HouseState(house_layout(DW1), StillClock(), EventHub(), uid(3))
    live = Liveness()
    built: list[str] = []

    def status(now: datetime) -> LinkStatus:
        built.append(live.detail)
        return live(now)

    watch = LinkWatch(house, status, states=lambda _now: (live.broker, live.atn))
    watch.look(T0)
    live.detail = "still connecting"
    for _ in range(3):
        assert watch.look(T0).detail == "starting"  # unchanged states: the last status stands
    live.broker = LinkState.UP
    assert watch.look(T0).detail == "still connecting"
    assert built == ["starting", "still connecting"]
    assert kinds(house) == ["link connecting/unknown", "link up/unknown"]
