"""The runtime's answer to every local API request (``RuntimeService.handle``)."""

from __future__ import annotations

from typing import Any

import pytest

from scada.protocol import (
    PROTOCOL_VERSION,
    ApiRequest,
    AuditList,
    AuditLog,
    ErrorCode,
    EventKind,
    EventList,
    GetSnapshot,
    HouseList,
    KeepAliveHold,
    ListHouses,
    Mode,
    ProblemEvent,
    RecentEvents,
    RelayState,
    ReleaseHold,
    SetMode,
    SetRelay,
    Snapshot,
    Subscribe,
    SwitchHouse,
    TakeHold,
)
from scada.protocol.api_requests import REQUEST_TYPES
from scada.runtime import RunOutcome
from tests.runtime.harness import DW1, GARAGE, HOUSES, HW25, PUMP, Rig, run_scenario

ROWS = [
    (DW1, "Little Orange House (simulated)", True, str(HOUSES / f"{DW1}.json")),
    (HW25, "Beech Street", False, str(HOUSES / f"{HW25}.json")),
]


def houses() -> list[tuple[str, str, bool, str]]:
    return list(ROWS)


def run(scenario: Any, **kw: Any) -> Any:
    return run_scenario(scenario, list_houses=houses, **kw)


def every_request() -> list[ApiRequest]:
    return [
        GetSnapshot(id=1),
        TakeHold(id=2, operator="alice", minutes=10),
        KeepAliveHold(id=3, operator="alice"),
        SetRelay(id=4, node=PUMP, state=RelayState.ON, operator="alice"),
        SetMode(id=5, mode=Mode.LOCAL, operator="alice"),
        ReleaseHold(id=6, operator="alice"),
        ListHouses(id=7),
        RecentEvents(id=8, limit=5),
        AuditLog(id=9, limit=5),
        Subscribe(id=10, topics=(EventKind.READING, EventKind.PROBLEM)),
        SwitchHouse(id=11, house_alias=HW25, simulated=True, operator="alice"),
    ]


def test_every_request_type_gets_one_ok_reply_with_its_id() -> None:
    reqs = every_request()
    assert {type(r) for r in reqs} == set(REQUEST_TYPES)

    async def scenario(rig: Rig) -> list[tuple[int | None, bool]]:
        await rig.advance(10)
        out: list[tuple[int | None, bool]] = []
        for req in reqs:
            reply = await rig.request(req)
            assert reply.ok, (req.type, reply.error)
            out.append((reply.id, reply.ok))
        return out

    assert run(scenario) == [(r.id, True) for r in reqs]


def test_hello_names_the_house_and_the_protocol() -> None:
    async def scenario(rig: Rig) -> None:
        hello = rig.runtime.service.hello()
        assert hello.protocol_version == PROTOCOL_VERSION
        assert hello.house_alias == DW1
        assert hello.simulated
        assert {"relay", "hold", "mode", "switch_house", "events", "audit"} <= set(
            hello.capabilities
        )

    run(scenario)


def test_snapshot_reply_is_a_whole_snapshot() -> None:
    async def scenario(rig: Rig) -> None:
        await rig.advance(65)
        reply = await rig.request(GetSnapshot(id=1))
        assert reply.result is not None
        snap = Snapshot.model_validate(reply.result)
        assert snap.house_alias == DW1
        assert len(snap.channels) == len(rig.layout.channels)
        assert len(snap.actuators) == len(rig.layout.actuators)
        assert snap.mode is Mode.LOCAL
        assert snap.hold is None

    run(scenario)


def test_list_houses_offers_a_simulated_twin_of_each_real_house() -> None:
    async def scenario(rig: Rig) -> HouseList:
        reply = await rig.request(ListHouses(id=1))
        assert reply.result is not None
        return HouseList.model_validate(reply.result)

    listing = run(scenario)
    assert listing.current == DW1
    assert [(h.alias, h.simulated) for h in listing.houses] == [
        (DW1, True),
        (HW25, True),
        (HW25, False),
    ]


def test_switch_to_a_simulated_house_stops_run_with_the_switch() -> None:
    async def scenario(rig: Rig) -> RunOutcome:
        await rig.advance(10)
        reply = await rig.request(
            SwitchHouse(id=1, house_alias=HW25, simulated=True, operator="alice")
        )
        assert reply.ok
        assert reply.result == {"switching_to": HW25, "simulated": True}
        outcome = await rig.task
        entry = rig.house.audit[-1]
        assert (entry.who, entry.action, entry.target, entry.outcome) == (
            "alice",
            "switch_house",
            HW25,
            "accepted",
        )
        return outcome

    assert run(scenario) == RunOutcome(switch_to=HW25, simulated=True)


@pytest.mark.parametrize("confirm", [None, "yes", "hw25", HW25.upper()])
def test_switch_to_a_real_house_needs_its_alias_as_confirmation(confirm: str | None) -> None:
    async def scenario(rig: Rig) -> None:
        reply = await rig.request(
            SwitchHouse(id=1, house_alias=HW25, simulated=False, operator="alice", confirm=confirm)
        )
        assert reply.error is not None
        assert reply.error.code == ErrorCode.CONFIRMATION_REQUIRED
        assert "REAL" in reply.error.message
        await rig.advance(1)
        assert not rig.task.done()
        assert not [a for a in rig.house.audit if a.action == "switch_house"]

    run(scenario)


def test_switch_to_a_real_house_with_confirmation() -> None:
    async def scenario(rig: Rig) -> RunOutcome:
        reply = await rig.request(
            SwitchHouse(id=1, house_alias=HW25, simulated=False, operator="alice", confirm=HW25)
        )
        assert reply.ok
        assert rig.house.audit[-1].reason == "REAL"
        return await rig.task

    assert run(scenario) == RunOutcome(switch_to=HW25, simulated=False)


@pytest.mark.parametrize(
    ("alias", "simulated"), [(DW1, False), ("nowhere.house", True), ("hw25", True)]
)
def test_switch_to_an_unknown_house_is_not_found(alias: str, simulated: bool) -> None:
    async def scenario(rig: Rig) -> None:
        reply = await rig.request(
            SwitchHouse(
                id=1, house_alias=alias, simulated=simulated, operator="alice", confirm=alias
            )
        )
        assert reply.error is not None
        assert reply.error.code == ErrorCode.NOT_FOUND
        assert alias in reply.error.message
        await rig.advance(1)
        assert not rig.task.done()

    run(scenario)


def test_recent_events_and_audit_log_honour_their_limits_newest_last() -> None:
    async def scenario(rig: Rig) -> None:
        await rig.advance(10)
        for minutes in (1, 2, 3, 4, 5, 6):
            await rig.request(TakeHold(id=minutes, operator="alice", minutes=minutes))
        # Problems land in the recent events too.
        rig.bench.values[GARAGE] = 400.0
        await rig.advance(61)
        reply = await rig.request(AuditLog(id=20, limit=4))
        assert reply.result is not None
        audit = AuditList.model_validate(reply.result).entries
        assert [e.target for e in audit] == ["3 min", "4 min", "5 min", "6 min"]
        default = await rig.request(AuditLog(id=21))
        assert default.result is not None
        assert len(AuditList.model_validate(default.result).entries) == 6
        reply = await rig.request(RecentEvents(id=22, limit=2))
        assert reply.result is not None
        events = EventList.model_validate(reply.result).events
        assert len(events) == 2
        assert isinstance(events[-1].payload, ProblemEvent)
        assert events[-1].payload.subject == GARAGE
        everything = await rig.request(RecentEvents(id=23, limit=1000))
        assert everything.result is not None
        all_events = EventList.model_validate(everything.result).events
        assert [e.at for e in all_events] == sorted(e.at for e in all_events)
        # Readings stream to subscribers but do not flood the recent-events ring.
        assert EventKind.READING not in {e.event for e in all_events}

    run(scenario)


def test_a_request_that_blows_up_inside_gets_an_internal_error_and_the_runtime_goes_on() -> None:
    async def scenario(rig: Rig) -> None:
        await rig.advance(5)

        async def broken(*_: object) -> None:
            raise RuntimeError("bug")

        rig.controller.set_relay = broken  # type: ignore[method-assign,assignment]
        reply = await rig.request(SetRelay(id=7, node=PUMP, state=RelayState.ON, operator="a"))
        assert reply.id == 7
        assert reply.error is not None
        assert reply.error.code == ErrorCode.INTERNAL
        await rig.advance(5)
        assert not rig.task.done()
        assert (await rig.request(GetSnapshot(id=8))).ok

    run(scenario)


def test_set_mode_replies_with_the_mode_and_notes() -> None:
    async def scenario(rig: Rig) -> None:
        reply = await rig.request(SetMode(id=1, mode=Mode.LOCAL, operator="alice"))
        assert reply.result is not None
        assert reply.result["mode"] == "local"
        assert reply.result["hold"] is None
        assert any("alice" in n for n in reply.result["notes"])
        reply = await rig.request(SetMode(id=2, mode=Mode.REMOTE, operator="alice"))
        assert reply.error is not None
        assert reply.error.code == ErrorCode.REFUSED

    run(scenario)
