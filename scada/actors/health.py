"""Per-device health (ok / failing since / last error), logged on transitions only."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from scada.protocol import DeviceHealthState

log = logging.getLogger("scada.devices")


@dataclass(slots=True)
class DeviceStatus:
    device: str
    state: DeviceHealthState = DeviceHealthState.OK
    failing_since: datetime | None = None
    last_error: str | None = None
    failures: int = 0


@dataclass(frozen=True, slots=True)
class DeviceTransition:
    device: str
    state: DeviceHealthState
    error: str | None
    at: datetime


class DeviceHealthBook:
    """Health of every device. ``failed``/``ok`` return a transition only when the state flips."""

    def __init__(self, devices: list[str]) -> None:
        self.devices: dict[str, DeviceStatus] = {d: DeviceStatus(d) for d in devices}

    def failed(self, device: str, error: str, at: datetime) -> DeviceTransition | None:
        st = self.devices.setdefault(device, DeviceStatus(device))
        st.failures += 1
        st.last_error = error
        if st.state is DeviceHealthState.FAILING:
            return None
        st.state = DeviceHealthState.FAILING
        st.failing_since = at
        log.warning("device %s failing: %s", device, error)
        return DeviceTransition(device, st.state, error, at)

    def ok(self, device: str, at: datetime) -> DeviceTransition | None:
        st = self.devices.setdefault(device, DeviceStatus(device))
        if st.state is DeviceHealthState.OK:
            return None
        since = st.failing_since
        st.state = DeviceHealthState.OK
        st.failing_since = None
        gone = f" after {(at - since).total_seconds():.0f} s" if since else ""
        log.info("device %s recovered%s", device, gone)
        return DeviceTransition(device, st.state, None, at)
