"""A small, rule-following SCADA for console tests, reachable two ways:

* :class:`FakeClient`: in-process, no socket (snapshot tests: deterministic, same event loop);
* :class:`FakeBackend`: an :class:`~scada.api.backend.ApiBackend`, served by the real
  :class:`~scada.api.server.ApiServer` on a real Unix socket to the real ``ApiClient``.

It keeps the rules the console relies on: only the hold's operator may set relays, a hold has
one holder, RemoteControl needs a live contract and no hold, a real house needs its alias typed,
and every command gets a result (accepted, then confirmed by read-back after ``confirm_after_s``).
"""

from __future__ import annotations

import asyncio
import uuid
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from scada.api.backend import Peer
from scada.api.client import ApiConnectionLost, ApiRefused, UnknownEvent
from scada.hub import EventHub, Subscription
from scada.protocol import (
    PROTOCOL_VERSION,
    ActuatorCommand,
    ActuatorSnapshot,
    ApiError,
    ApiRequest,
    AuditEntry,
    AuditList,
    AuditLog,
    CommandOutcome,
    CommandResult,
    CommandSource,
    ContractStatus,
    ErrorCode,
    EventFrame,
    EventKind,
    EventList,
    GetSnapshot,
    Hello,
    HoldEnded,
    HoldEndReason,
    HoldState,
    HouseList,
    KeepAliveHold,
    ListHouses,
    Mode,
    ModeChanged,
    Reading,
    RecentEvents,
    RelayState,
    ReleaseHold,
    Reply,
    SetMode,
    SetRelay,
    Snapshot,
    Subscribe,
    SwitchHouse,
    TakeHold,
    WireMessage,
)
from tests.gwtui import gwtui_house as house_data


@dataclass
class FakeScada:
    now: Callable[[], datetime]
    snap: Snapshot = field(default_factory=house_data.snapshot)
    house_list: HouseList = field(default_factory=house_data.houses)
    recent: list[EventFrame] = field(default_factory=house_data.recent_events)
    prelude: list[EventFrame] = field(default_factory=list)
    confirm_after_s: float = 0.05
    interlocked: dict[str, str] = field(default_factory=dict)
    """node -> interlock name that overrides any command to it."""
    hub: EventHub = field(default_factory=EventHub)
    requests: list[ApiRequest] = field(default_factory=list)
    audit: deque[AuditEntry] = field(default_factory=lambda: deque(maxlen=100))
    switched_to: tuple[str, bool] | None = None

    # ------------------------------------------------------------------ state

    def hello(self) -> Hello:
        return Hello(
            protocol_version=PROTOCOL_VERSION,
            server_version="0.1.0-fake",
            house_alias=self.snap.house_alias,
            simulated=self.snap.simulated,
            capabilities=("hold", "switch-house"),
        )

    def snapshot(self) -> Snapshot:
        return self.snap.model_copy(update={"taken_at": self.now()})

    def publish(self, kind: EventKind, payload: WireMessage, *, remember: bool = True) -> None:
        at = self.now()
        self.hub.publish(kind, payload, at)
        if remember:
            self.recent.append(EventFrame(event=kind, payload=payload, at=at))

    def push_reading(self, channel: str, value: float, at: datetime | None = None) -> Reading:
        spec = next(c for c in self.snap.channels if c.channel == channel)
        reading = Reading(
            channel=channel, node=spec.node, value=value, unit=spec.unit, read_at=at or self.now()
        )
        self.hub.publish(EventKind.READING, reading, reading.read_at)
        return reading

    def _actuator(self, node: str) -> ActuatorSnapshot | None:
        return next((a for a in self.snap.actuators if a.node == node), None)

    def _replace_actuator(self, new: ActuatorSnapshot) -> None:
        acts = tuple(new if a.node == new.node else a for a in self.snap.actuators)
        self.snap = self.snap.model_copy(update={"actuators": acts})

    def _record(
        self, who: str, action: str, target: str | None, outcome: str, reason: str | None = None
    ) -> None:
        entry = AuditEntry(
            id=str(uuid.uuid4()),
            at=self.now(),
            who=who,
            action=action,
            target=target,
            outcome=outcome,
            reason=reason,
        )
        self.audit.append(entry)
        self.publish(EventKind.AUDIT, entry)

    # ------------------------------------------------------------------ requests

    async def handle(self, req: ApiRequest) -> Reply:
        self.requests.append(req)
        try:
            result = await self._dispatch(req)
        except ApiRefused as exc:
            return Reply(id=req.id, ok=False, error=ApiError(code=exc.code, message=exc.message))
        return Reply(id=req.id, ok=True, result=result)

    async def _dispatch(self, req: ApiRequest) -> dict[str, Any]:
        if isinstance(req, GetSnapshot):
            return self.snapshot().model_dump(mode="json")
        if isinstance(req, TakeHold):
            return self._take_hold(req)
        if isinstance(req, KeepAliveHold):
            return self._keep_alive(req)
        if isinstance(req, ReleaseHold):
            return self._release(req)
        if isinstance(req, SetRelay):
            return self._set_relay(req)
        if isinstance(req, SetMode):
            return self._set_mode(req)
        if isinstance(req, ListHouses):
            return self.house_list.model_dump(mode="json")
        if isinstance(req, SwitchHouse):
            return self._switch(req)
        if isinstance(req, RecentEvents):
            events = tuple(self.recent[-req.limit :])
            return EventList(events=events).model_dump(mode="json")
        if isinstance(req, AuditLog):
            return AuditList(entries=tuple(self.audit)[-req.limit :]).model_dump(mode="json")
        if isinstance(req, Subscribe):
            return {"topics": sorted(req.topics)}
        raise ApiRefused(ErrorCode.UNSUPPORTED, f"{req.type} is not supported")

    def _take_hold(self, req: TakeHold) -> dict[str, Any]:
        hold = self.snap.hold
        if hold is not None and hold.operator != req.operator:
            self._record(req.operator, "take_hold", None, "refused", f"held by {hold.operator}")
            raise ApiRefused(ErrorCode.REFUSED, f"the house is held by {hold.operator}")
        now = self.now()
        new = HoldState(
            operator=req.operator,
            started_at=hold.started_at if hold else now,
            expires_at=now + timedelta(minutes=req.minutes),
            previous_mode=hold.previous_mode if hold else self.snap.mode,
        )
        self.snap = self.snap.model_copy(update={"hold": new})
        for act in self.snap.actuators:
            self._replace_actuator(act.model_copy(update={"boss": CommandSource.ADMIN}))
            self.publish(EventKind.ACTUATOR, self._actuator(act.node) or act, remember=False)
        self.publish(EventKind.HOLD, new)
        self._record(req.operator, "take_hold", None, "accepted")
        return {"hold": new.model_dump(mode="json")}

    def _keep_alive(self, req: KeepAliveHold) -> dict[str, Any]:
        hold = self.snap.hold
        if hold is None or hold.operator != req.operator:
            raise ApiRefused(ErrorCode.NO_HOLD, f"{req.operator} holds no admin hold")
        return {"hold": hold.model_dump(mode="json")}

    def _release(self, req: ReleaseHold) -> dict[str, Any]:
        hold = self.snap.hold
        if hold is None or hold.operator != req.operator:
            raise ApiRefused(ErrorCode.NO_HOLD, f"{req.operator} holds no admin hold")
        self.snap = self.snap.model_copy(update={"hold": None, "mode": hold.previous_mode})
        boss = CommandSource.ATN if hold.previous_mode is Mode.REMOTE else CommandSource.HOME_ALONE
        for act in self.snap.actuators:
            self._replace_actuator(act.model_copy(update={"boss": boss}))
            self.publish(EventKind.ACTUATOR, self._actuator(act.node) or act, remember=False)
        ended = HoldEnded(
            operator=req.operator,
            ended_at=self.now(),
            reason=HoldEndReason.RELEASED,
            resumed_mode=hold.previous_mode,
        )
        self.publish(EventKind.HOLD, ended)
        self._record(req.operator, "release_hold", None, "accepted")
        return {}

    def _set_relay(self, req: SetRelay) -> dict[str, Any]:
        act = self._actuator(req.node)
        if act is None:
            raise ApiRefused(ErrorCode.NOT_FOUND, f"no actuator {req.node}")
        hold = self.snap.hold
        if hold is None or hold.operator != req.operator:
            why = "no admin hold" if hold is None else f"the hold is {hold.operator}'s"
            self._record(req.operator, "set_relay", req.node, "refused", why)
            raise ApiRefused(ErrorCode.NO_HOLD, f"{why}: take a hold first")
        now = self.now()
        cmd = ActuatorCommand(
            id=str(uuid.uuid4()),
            source=CommandSource.ADMIN,
            operator=req.operator,
            target=req.node,
            state=req.state,
            issued_at=now,
            expires_at=now + timedelta(seconds=30),
        )
        self.publish(EventKind.ACTUATOR, cmd)
        interlock = self.interlocked.get(req.node)
        if interlock is not None:
            result = CommandResult(
                command_id=cmd.id,
                target=req.node,
                outcome=CommandOutcome.REFUSED,
                reason="tank above its maximum temperature",
                at=now,
                interlock=interlock,
            )
            self.publish(EventKind.ACTUATOR, result)
            self._record(req.operator, "set_relay", req.node, "refused", result.reason)
            return result.model_dump(mode="json")
        self._replace_actuator(act.model_copy(update={"commanded": req.state, "last_command": cmd}))
        accepted = CommandResult(
            command_id=cmd.id, target=req.node, outcome=CommandOutcome.ACCEPTED, at=now
        )
        self.publish(EventKind.ACTUATOR, accepted)
        self._record(req.operator, "set_relay", req.node, "accepted")
        asyncio.get_running_loop().call_later(self.confirm_after_s, self._read_back, cmd)
        return accepted.model_dump(mode="json")

    def _read_back(self, cmd: ActuatorCommand) -> None:
        act = self._actuator(cmd.target)
        if act is None:
            return
        result = CommandResult(
            command_id=cmd.id, target=cmd.target, outcome=CommandOutcome.CONFIRMED, at=self.now()
        )
        new = act.model_copy(update={"state": cmd.state, "last_result": result})
        self._replace_actuator(new)
        self.publish(EventKind.ACTUATOR, new, remember=False)
        self.publish(EventKind.ACTUATOR, result)

    def _set_mode(self, req: SetMode) -> dict[str, Any]:
        if self.snap.hold is not None:
            self._record(req.operator, "set_mode", req.mode.value, "refused", "admin hold active")
            raise ApiRefused(ErrorCode.REFUSED, "an admin hold is in force: release it first")
        c = self.snap.contract
        if req.mode is Mode.REMOTE and (c is None or c.status is not ContractStatus.ACTIVE):
            self._record(req.operator, "set_mode", req.mode.value, "refused", "no live contract")
            raise ApiRefused(ErrorCode.REFUSED, "RemoteControl needs a live DispatchContract")
        before = self.snap.mode
        self.snap = self.snap.model_copy(update={"mode": req.mode})
        self.publish(
            EventKind.MODE,
            ModeChanged(
                mode=req.mode, previous=before, reason=f"set by {req.operator}", at=self.now()
            ),
        )
        self._record(req.operator, "set_mode", req.mode.value, "accepted")
        return {"mode": req.mode.value}

    def _switch(self, req: SwitchHouse) -> dict[str, Any]:
        if not req.simulated and req.confirm != req.house_alias:
            raise ApiRefused(
                ErrorCode.CONFIRMATION_REQUIRED, "switching to a real house needs its alias typed"
            )
        self.switched_to = (req.house_alias, req.simulated)
        self._record(req.operator, "switch_house", req.house_alias, "accepted")
        return {"house_alias": req.house_alias, "simulated": req.simulated}


# ---------------------------------------------------------------------- in-process client


class FakeClient:
    """Satisfies gwtui's ``ScadaClient`` without a socket; behaves like ``ApiClient``."""

    def __init__(self, scada: FakeScada) -> None:
        self.scada = scada
        self.hello = scada.hello()
        self.last_error: str | None = None
        self._sub: Subscription = scada.hub.subscribe("fake-client", maxsize=100_000)
        self._first = [
            *scada.prelude,
            EventFrame(event=EventKind.SNAPSHOT, payload=scada.snapshot(), at=scada.now()),
        ]
        self._ids = 0
        self._closed = False
        self.extra: list[EventFrame | UnknownEvent] = []

    @property
    def closed(self) -> bool:
        return self._closed

    async def close(self) -> None:
        self._closed = True
        self._sub.close()

    def drop(self) -> None:
        """End the stream as a SCADA that went away would (the console must notice)."""
        self._sub.close()

    def inject(self, item: EventFrame | UnknownEvent) -> None:
        """Deliver an arbitrary item (an unknown event, say) in order with the rest."""
        self.extra.append(item)
        self.scada.hub.publish(EventKind.LOG, _MARK, self.scada.now())

    async def events(self) -> AsyncIterator[EventFrame | UnknownEvent]:
        for frame in self._first:
            yield frame
        async for ev in self._sub:
            if ev.payload is _MARK:
                while self.extra:
                    yield self.extra.pop(0)
                continue
            yield EventFrame(event=ev.kind, payload=ev.payload, at=ev.at)
        self._closed = True

    async def _call(self, request_type: type[ApiRequest], **fields: Any) -> dict[str, Any]:
        if self._closed:
            raise ApiConnectionLost("closed")
        self._ids += 1
        reply = await self.scada.handle(request_type(id=self._ids, **fields))
        if not reply.ok:
            assert reply.error is not None
            raise ApiRefused(reply.error.code, reply.error.message)
        return dict(reply.result or {})

    async def snapshot(self) -> Snapshot:
        return Snapshot.model_validate(await self._call(GetSnapshot))

    async def set_relay(
        self, node: str, state: RelayState, operator: str
    ) -> CommandResult | dict[str, Any]:
        result = await self._call(SetRelay, node=node, state=state, operator=operator)
        return CommandResult.model_validate(result) if result else result

    async def take_hold(self, operator: str, minutes: float) -> dict[str, Any]:
        return await self._call(TakeHold, operator=operator, minutes=minutes)

    async def keep_alive(self, operator: str) -> dict[str, Any]:
        return await self._call(KeepAliveHold, operator=operator)

    async def release_hold(self, operator: str) -> dict[str, Any]:
        return await self._call(ReleaseHold, operator=operator)

    async def set_mode(self, mode: Mode, operator: str) -> dict[str, Any]:
        return await self._call(SetMode, mode=mode, operator=operator)

    async def list_houses(self) -> HouseList:
        return HouseList.model_validate(await self._call(ListHouses))

    async def switch_house(
        self, alias: str, simulated: bool, operator: str, confirm: str | None = None
    ) -> dict[str, Any]:
        return await self._call(
            SwitchHouse, house_alias=alias, simulated=simulated, operator=operator, confirm=confirm
        )

    async def recent_events(self, limit: int = 100) -> EventList:
        return EventList.model_validate(await self._call(RecentEvents, limit=limit))

    async def audit_log(self, limit: int = 100) -> AuditList:
        return AuditList.model_validate(await self._call(AuditLog, limit=limit))

    async def subscribe(self, kinds: Iterable[EventKind]) -> dict[str, Any]:
        return await self._call(Subscribe, topics=tuple(kinds))


_MARK = house_data.mark_line()


# ---------------------------------------------------------------------- over a real socket


class FakeBackend:
    """The fake SCADA as an ``ApiBackend`` for the real ``ApiServer``."""

    def __init__(self, scada: FakeScada) -> None:
        self.scada = scada

    def hello(self) -> Hello:
        return self.scada.hello()

    def snapshot(self) -> Snapshot:
        return self.scada.snapshot()

    def subscribe(
        self, name: str, maxsize: int, kinds: frozenset[EventKind] | None
    ) -> Subscription:
        return self.scada.hub.subscribe(name, maxsize=maxsize, kinds=kinds)

    async def handle(self, request: ApiRequest, peer: Peer) -> Reply:
        return await self.scada.handle(request)
