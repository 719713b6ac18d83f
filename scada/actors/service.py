"""The runtime's answer to local API requests (the :class:`ApiBackend` the socket server calls)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from scada.actors.snapshots import build_snapshot
from scada.api.backend import Peer
from scada.hub import Subscription
from scada.protocol import ApiRequest, EventKind, Hello, Reply, Snapshot
from scada.protocol.api_frames import ApiError, AuditList, EventList, HouseInfo, HouseList
from scada.protocol.api_requests import (
    AuditLog,
    GetSnapshot,
    KeepAliveHold,
    ListHouses,
    RecentEvents,
    ReleaseHold,
    SetMode,
    SetRelay,
    Subscribe,
    SwitchHouse,
    TakeHold,
)
from scada.protocol.base import PROTOCOL_VERSION
from scada.protocol.enums import CommandOutcome, ErrorCode

if TYPE_CHECKING:
    from scada.control import ModeState, Step
    from scada.runtime import Runtime

log = logging.getLogger("scada.api")

SERVER_VERSION = "0.1.0"
CAPABILITIES = ("snapshot", "relay", "hold", "mode", "houses", "switch_house", "events", "audit")

HouseRow = tuple[str, str, bool, str]


class RuntimeService:
    """Maps each request to the controller or the house state; never raises."""

    def __init__(self, runtime: Runtime, list_houses: Callable[[], list[HouseRow]]) -> None:
        self._rt = runtime
        self._list_houses = list_houses

    def hello(self) -> Hello:
        return Hello(
            protocol_version=PROTOCOL_VERSION,
            server_version=SERVER_VERSION,
            house_alias=self._rt.layout.house.alias,
            simulated=self._rt.simulated,
            capabilities=CAPABILITIES,
        )

    def snapshot(self) -> Snapshot:
        rt = self._rt
        return build_snapshot(rt.house, rt.controller, rt.clock.now(), simulated=rt.simulated)

    def subscribe(
        self, name: str, maxsize: int, kinds: frozenset[EventKind] | None
    ) -> Subscription:
        return self._rt.hub.subscribe(name, maxsize=maxsize, kinds=kinds)

    async def handle(self, request: ApiRequest, peer: Peer) -> Reply:  # noqa: ARG002 - the seam's signature
        try:
            return await self._handle(request)
        except Exception:
            log.exception("request %s failed", request.type)
            return _error(
                request.id,
                ErrorCode.INTERNAL,
                f"{request.type} failed inside the SCADA; see its log",
            )

    async def _handle(self, req: ApiRequest) -> Reply:
        ctl = self._rt.controller
        if isinstance(req, GetSnapshot):
            return _ok(req.id, self.snapshot().model_dump(mode="json"))
        if isinstance(req, SetRelay):
            result = await ctl.set_relay(req.node, req.state, req.operator)
            if result.outcome in (CommandOutcome.REFUSED, CommandOutcome.FAILED):
                code = (
                    ErrorCode.REFUSED
                    if result.outcome is CommandOutcome.REFUSED
                    else ErrorCode.INTERNAL
                )
                if req.node not in ctl.relays:
                    code = ErrorCode.NOT_FOUND
                return Reply(
                    id=req.id,
                    ok=False,
                    error=ApiError(code=code, message=result.reason or result.outcome.value),
                )
            return _ok(req.id, result.model_dump(mode="json"))
        if isinstance(req, TakeHold):
            return self._step_reply(req.id, await ctl.take_hold(req.operator, req.minutes))
        if isinstance(req, KeepAliveHold):
            return self._step_reply(req.id, ctl.keep_alive(req.operator))
        if isinstance(req, ReleaseHold):
            return self._step_reply(req.id, await ctl.release_hold(req.operator))
        if isinstance(req, SetMode):
            return self._step_reply(req.id, await ctl.set_mode(req.mode, req.operator))
        if isinstance(req, ListHouses):
            return _ok(req.id, self._houses().model_dump(mode="json"))
        if isinstance(req, SwitchHouse):
            return self._switch(req)
        if isinstance(req, RecentEvents):
            events = tuple(self._rt.house.recent)[-req.limit :]
            return _ok(req.id, EventList(events=events).model_dump(mode="json"))
        if isinstance(req, AuditLog):
            entries = tuple(self._rt.house.audit)[-req.limit :]
            return _ok(req.id, AuditList(entries=entries).model_dump(mode="json"))
        if isinstance(req, Subscribe):
            # The socket server owns subscriptions; it handles this request itself.
            return _ok(req.id, {"topics": [t.value for t in req.topics]})
        return _error(req.id, ErrorCode.UNSUPPORTED, f"{req.type} is not supported by this SCADA")

    def _houses(self) -> HouseList:
        rows = self._list_houses()
        infos: list[HouseInfo] = []
        for alias, name, simulated, path in rows:
            infos.append(
                HouseInfo(alias=alias, display_name=name, simulated=True, layout_path=path)
            )
            if not simulated:
                infos.append(
                    HouseInfo(alias=alias, display_name=name, simulated=False, layout_path=path)
                )
        return HouseList(houses=tuple(infos), current=self._rt.layout.house.alias)

    def _switch(self, req: SwitchHouse) -> Reply:
        known = {h.alias: h for h in self._houses().houses if h.simulated == req.simulated}
        if req.house_alias not in known:
            what = "simulated" if req.simulated else "real"
            return _error(req.id, ErrorCode.NOT_FOUND, f"no {what} house '{req.house_alias}'")
        if not req.simulated and req.confirm != req.house_alias:
            return _error(
                req.id,
                ErrorCode.CONFIRMATION_REQUIRED,
                f"switching to the REAL house {req.house_alias} drives real hardware: "
                "confirm by sending its alias",
            )
        self._rt.house.record_audit(
            req.operator,
            "switch_house",
            req.house_alias,
            "accepted",
            "simulated" if req.simulated else "REAL",
        )
        self._rt.switch_house(req.house_alias, req.simulated)
        return _ok(req.id, {"switching_to": req.house_alias, "simulated": req.simulated})

    def _step_reply(self, req_id: int, step: Step[ModeState]) -> Reply:
        if step.refusal is not None:
            return _error(req_id, ErrorCode.REFUSED, step.refusal.reason)
        result: dict[str, Any] = {"mode": step.state.mode.value, "notes": list(step.notes)}
        hold = self._rt.controller.hold_msg()
        result["hold"] = hold.model_dump(mode="json") if hold is not None else None
        return _ok(req_id, result)


def _ok(req_id: int, result: dict[str, Any]) -> Reply:
    return Reply(id=req_id, ok=True, result=result)


def _error(req_id: int | None, code: ErrorCode, message: str) -> Reply:
    return Reply(id=req_id, ok=False, error=ApiError(code=code, message=message))
