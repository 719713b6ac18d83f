"""Commissioning probes: one device at a time, read (or switched) once, with everything shown.

For an installer with a new board in hand. Each probe is a plain async function that runs the
real drivers (built by :func:`~scada.drivers.factory.build_devices`) on a :class:`Buses` — the
Pi's own (:class:`SystemBuses`), or the simulator's emulated machine under ``--sim``
(:func:`machine`) — and returns a result dataclass; ``scada probe …`` only prints it.

* :func:`probe_relay` reads a relay back from its board; with ``click`` it energizes it, reads
  it back, holds, releases it, reads it back, and always leaves it as it was found.
* :func:`probe_temp` reads temperature channels once: the raw value (the ADC volts, the 1-Wire
  scratchpad line), the converted °C and the health, through the drivers' own conversions.
* :func:`probe_meter` reads every register of a Modbus meter's map once, with units.
* :func:`probe_i2c` scans I2C buses like ``i2cdetect -r`` and matches what answers against the
  layout: expected and present, expected and missing, present and unexpected.

A probe that cannot run at all raises :class:`ProbeError`, whose message is one line naming the
device, its bus path and what to do.
"""

from scada.probe.common import ProbeError, machine, resolve_layout, running_scada
from scada.probe.i2c import I2cRow, I2cScan, probe_i2c
from scada.probe.meter import MeterProbe, RegisterReading, find_meter, probe_meter
from scada.probe.relay import RelayProbe, RelayStep, RelayTarget, find_relay, probe_relay
from scada.probe.temp import TempProbe, TempReading, find_temps, probe_temp

__all__ = [
    "I2cRow",
    "I2cScan",
    "MeterProbe",
    "ProbeError",
    "RegisterReading",
    "RelayProbe",
    "RelayStep",
    "RelayTarget",
    "TempProbe",
    "TempReading",
    "find_meter",
    "find_relay",
    "find_temps",
    "machine",
    "probe_i2c",
    "probe_meter",
    "probe_relay",
    "probe_temp",
    "resolve_layout",
    "running_scada",
]
