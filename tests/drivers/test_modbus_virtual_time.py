"""The meters under the simulator's clock: a virtual-time loop that jumps to its next timer.

Timeouts, gaps and back-off all run on loop time, so a silent meter fails after its timeout in
virtual seconds (no real waiting) and a healthy one never times out spuriously.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from scada.clock import LoopClock, run_virtual
from scada.drivers.errors import DeviceTimeoutError, DriverError
from scada.drivers.meters import ModbusMeter
from scada.drivers.modbus_pool import ModbusBusPool
from sim.buses.modbus import EmulatedModbusRtu, EmulatedModbusTcp
from tests.drivers.modbus_support import (
    GARAGE,
    HW25,
    RedirectBuses,
    Signal,
    meter_device,
)

POLLS = 50


def test_meters_on_virtual_time() -> None:
    async def scenario() -> tuple[int, int, float, str]:
        clock = LoopClock(datetime(2025, 1, 15, tzinfo=UTC))
        pool = ModbusBusPool(clock)
        buses = RedirectBuses()
        eg_dev, eg_chans = meter_device(HW25, "egauge")
        iem_dev, iem_chans = meter_device(GARAGE, "main-meter")
        egauge = EmulatedModbusTcp.for_device(eg_dev, Signal(700.0))
        line = EmulatedModbusRtu.for_device(iem_dev, Signal(900.0))  # auto: socket here
        buses.tcp[("egauge4030.local", 502)] = ("127.0.0.1", await egauge.start())
        buses.serial["/dev/ttyUSB0"] = await line.start()
        meters = [
            ModbusMeter(eg_dev, eg_chans, buses, clock, pool=pool),
            ModbusMeter(iem_dev, iem_chans, buses, clock, pool=pool),
        ]
        good = 0
        try:
            for m in meters:
                await m.open()
            for _ in range(POLLS):
                for m, chans in zip(meters, (eg_chans, iem_chans), strict=True):
                    values = await m.read([c.name for c in chans])
                    good += all(not isinstance(v, DriverError) for v in values.values())
                await clock.sleep(1.0)
            egauge.faults.silent = True
            t0 = clock.monotonic()
            try:
                await meters[0].read(["mains-power"])
                reason = ""
            except DeviceTimeoutError as e:
                reason = e.reason
            waited = clock.monotonic() - t0
        finally:
            for m in meters:
                await m.close()
            await egauge.stop()
            await line.stop()
        return good, 2 * POLLS, waited, reason

    good, total, waited, reason = run_virtual(scenario)
    assert good == total
    assert "no answer" in reason
    assert waited == pytest.approx(3.0, abs=0.05)  # the eGauge's layout timeout, in virtual s
