"""Inject a fault plan's in-process faults into a running emulation, on its own clock.

Each pass applies exactly the faults whose window covers *now* and clears the others, then
sleeps until the next window opens or closes. So a ``scada serve`` killed in the middle of a
window and started again finds its fault applied again at once, and one started after a
window closed never sees it.

* ``meter_timeout``: the emulated Modbus TCP server of device ``target`` stops answering
  (:attr:`~sim.buses.modbus_meter.ModbusFaults.silent`); the real driver times out on every read.
* ``sensor_stuck``: the DS18B20 of channel ``target`` leaves the 1-Wire bus (its folder goes):
  the driver's read finds nothing (:meth:`~sim.emulation.SimEmulation.fail_channel`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

from scada.clock import Clock
from sim.soak.plan import Fault, FaultKind, PlanError, meter_targets, probe_targets

if TYPE_CHECKING:  # the emulation imports this module to run it
    from sim.emulation import SimEmulation

log = logging.getLogger("sim.soak.inject")


def check_targets(emu: SimEmulation, faults: Sequence[Fault]) -> None:
    """Raise :class:`PlanError` if a fault names a Modbus TCP meter or a DS18B20 probe that
    ``emu`` does not have."""
    known = {
        FaultKind.METER_TIMEOUT: set(meter_targets(emu.layout)),
        FaultKind.SENSOR_STUCK: set(probe_targets(emu.layout)),
    }
    for f in faults:
        if f.target not in known.get(f.kind, {f.target}):
            raise PlanError(f"{f.kind.value}: no '{f.target}' in {emu.layout.house.alias}")


async def inject(emu: SimEmulation, faults: Sequence[Fault], clock: Clock) -> None:
    """Keep ``emu``'s faults as the plan has them at each instant, until cancelled."""
    active: set[Fault] = set()
    while True:
        now = clock.now()
        want = {f for f in faults if f.covers(now)}
        for f in active - want:
            log.warning("fault over: %s on %s", f.kind.value, f.target)
            _apply(emu, f, on=False)
        for f in want - active:
            log.warning("fault injected: %s on %s for %g s", f.kind.value, f.target, f.duration_s)
            _apply(emu, f, on=True)
        active = want
        edges = [t for f in faults for t in (f.at, f.end) if t > now]
        if not edges:
            return
        await clock.sleep((min(edges) - now).total_seconds())


def _apply(emu: SimEmulation, fault: Fault, *, on: bool) -> None:
    if fault.kind is FaultKind.METER_TIMEOUT:
        emu.tcp[fault.target].faults.silent = on
    elif fault.kind is FaultKind.SENSOR_STUCK:
        if on:
            emu.fail_channel(fault.target, "disconnected")
        else:
            emu.heal_channel(fault.target)
