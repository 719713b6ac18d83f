"""A house file made coarser than it describes, so that long simulated runs cost less CPU.

The walkthroughs (their ``[fidelity]``) and the soak run houses for simulated days and weeks.
Polling every channel at its own period (a second for a power meter) and counting a flow
meter's every pulse (1111 a gallon) would cost most of the run's CPU without changing what
those runs check, so they change the layout document itself before it is parsed: the drivers,
the emulators and the runtime then all see the same, coarser house.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Coarser:
    """What to make coarser; ``None`` leaves that part as the house file has it."""

    sensor_period_floor_s: float | None = None
    """No channel is sampled more often than this."""
    pulses_per_gallon_max: float | None = None
    """No flow meter gives more pulses per gallon than this."""
    modbus_timeout_floor_s: float | None = None
    """No Modbus device is given less time to answer than this (simulated seconds: far faster
    than real time, the layout's few seconds are a few real milliseconds, less than a busy
    machine may take to switch to the emulated meter and back)."""

    def apply(self, doc: dict[str, object]) -> None:
        """Make the layout document ``doc`` (parsed JSON, not validated yet) coarser in place;
        what is malformed is left for the layout's parser to report."""
        floor = self.sensor_period_floor_s
        channels = doc.get("channels")
        if floor is not None and isinstance(channels, list):
            for ch in channels:
                if isinstance(ch, dict):
                    ch["sample_period_s"] = max(floor, float(ch.get("sample_period_s", 5.0)))
        devices = doc.get("devices")
        if not isinstance(devices, list):
            return
        for dev in (d for d in devices if isinstance(d, dict)):
            cap = self.pulses_per_gallon_max
            if cap is not None and isinstance(dev.get("pulses_per_gallon"), int | float):
                dev["pulses_per_gallon"] = min(cap, float(dev["pulses_per_gallon"]))
            bus, least = dev.get("bus"), self.modbus_timeout_floor_s
            if least is not None and isinstance(bus, dict) and "modbus" in str(bus.get("kind")):
                bus["timeout_s"] = max(least, float(bus.get("timeout_s", 0.0)))
