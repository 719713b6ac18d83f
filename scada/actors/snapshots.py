"""Building the snapshot: the whole live state of the house in one message."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from scada.actors.house import HouseState
from scada.protocol.enums import AtnState, ContractStatus, LinkState
from scada.protocol.snapshot import LinkStatus, Snapshot

if TYPE_CHECKING:
    from scada.actors.controller import Controller


def link_status(ctl: Controller, now: datetime) -> LinkStatus:
    """Broker and ATN liveness, told apart (defect 9 of the original merged them)."""
    broker, atn = link_states(ctl, now)
    c = ctl.state.contract
    if c is None:
        no_uplink = ctl.atn.uplink is None
        detail = "no uplink configured: LocalControl" if no_uplink else "no contract yet"
    elif atn is AtnState.SILENT:
        detail = f"ATN last heard {c.silent_s(now):.0f} s ago"
    elif c.live(now, ctl.settings.heartbeat_timeout_s):
        detail = c.cause
    elif c.status is ContractStatus.OFFERED:
        detail = c.describe()  # heard, and about to begin
    else:
        # Heard lately, but no contract in force: one ended, the next not yet begun. That is
        # the ATN's schedule, not its silence.
        detail = f"between contracts: {c.describe()}"
    return LinkStatus(broker=broker, atn=atn, detail=detail)


def link_states(ctl: Controller, now: datetime) -> tuple[LinkState, AtnState]:
    """The broker's and the ATN's liveness alone (what :func:`link_status` says, without its
    detail): cheap enough to look at on every change of the mode state. The ATN is alive
    while heard within ``heartbeat_timeout_s``, in a contract or between two."""
    c = ctl.state.contract
    if c is None:
        atn = AtnState.UNKNOWN
    elif c.silent_s(now) <= ctl.settings.heartbeat_timeout_s:
        atn = AtnState.ALIVE
    else:
        atn = AtnState.SILENT
    return ctl.atn.broker_state, atn


def link_changes_in(ctl: Controller, now: datetime) -> float | None:
    """Seconds until :func:`link_states` may change by time alone (the ATN falling silent),
    ``None`` if it cannot: anything else that changes it is a change of the mode state or of
    the broker's."""
    c = ctl.state.contract
    if c is None:
        return None
    left_s = ctl.settings.heartbeat_timeout_s - c.silent_s(now)
    return None if left_s < 0 else left_s + 1e-6  # silent only *after* the timeout


def build_snapshot(
    house: HouseState, ctl: Controller, now: datetime, *, simulated: bool | None = None
) -> Snapshot:
    return Snapshot(
        house_alias=house.layout.house.alias,
        taken_at=now,
        mode=ctl.state.mode,
        contract=ctl.atn.contract_msg(),
        hold=ctl.hold_msg(),
        channels=house.channel_snapshots(now),
        actuators=ctl.actuator_snapshots(),
        devices=house.device_snapshots(),
        link=link_status(ctl, now),
        simulated=house.layout.simulated if simulated is None else simulated,
        store=ctl.atn.forwarder.stats() if ctl.atn.forwarder is not None else None,
    )
