"""Modbus meter figures, the real driver against real pymodbus servers on 127.0.0.1.

1. poll of the whole eGauge 4030 register map (hw25 house: 8 f32 power registers, one request)
   over loopback TCP: p50 / p99 / max latency of ``ModbusMeter.read`` (target p99 <= 20 ms);
2. "a failed device costs the others nothing": the eGauge's channels polled by the runtime's own
   ``SensorActor`` at a 100 ms sample period, first alone, then while a second eGauge (another
   TCP bus) and an iEM3455 (an RS-485 line on a pty) never answer and are hammered with reads
   that each wait out their timeout. Prints the healthy meter's sample period in both runs and
   its worst deviation (target: within 10 %).

Run: `.venv/bin/python bench/bench_meters.py [--polls N] [--seconds S]`. Prints the figures;
exits 0.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import statistics
import time
from pathlib import Path

from scada.actors.sensors import SensorActor
from scada.clock import SystemClock
from scada.drivers.buses import SystemBuses
from scada.drivers.errors import BusMissingError, DriverError
from scada.drivers.meters import ModbusMeter
from scada.drivers.modbus_pool import ModbusBusPool
from scada.layout import Channel, Device, load_layout
from scada.layout.model import ModbusRtuBus, ModbusTcpBus
from sim.buses.modbus import EmulatedModbusRtu, EmulatedModbusTcp

ROOT = Path(__file__).resolve().parent.parent
HOUSES = ROOT / "input_data" / "houses"
PERIOD_S = 0.1
FAILING_TIMEOUT_S = 0.5


class Buses(SystemBuses):
    emulated = True

    def __init__(self) -> None:
        self.tcp: dict[tuple[str, int], tuple[str, int]] = {}
        self.serial: dict[str, str] = {}

    def modbus_tcp(self, host: str, port: int) -> tuple[str, int]:
        return self.tcp.get((host, port), (host, port))

    def serial_port(self, port: str) -> str:
        if port not in self.serial:
            raise BusMissingError(port, "not emulated")
        return self.serial[port]


class Sink:
    """Records when each channel's reading arrives."""

    def __init__(self) -> None:
        self.arrivals: dict[str, list[float]] = {}
        self.failures = 0

    def reading(self, channel: str, value: float) -> None:
        del value
        self.arrivals.setdefault(channel, []).append(time.perf_counter())

    def channel_fault(self, channel: str, reason: str) -> None:
        del channel, reason
        self.failures += 1

    def device_ok(self, device: str) -> None:
        del device

    def device_failed(self, device: str, reason: str) -> None:
        del device, reason
        self.failures += 1


def egauge() -> tuple[Device, list[Channel]]:
    layout = load_layout(HOUSES / "hw25.isone.me.versant.keene.beech.json")
    return layout.device("egauge"), [c for c in layout.channels if c.device == "egauge"]


def iem3455() -> tuple[Device, list[Channel]]:
    layout = load_layout(HOUSES / "w.isone.nh.orange.1.json")
    return layout.device("main-meter"), [c for c in layout.channels if c.device == "main-meter"]


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


async def poll_latency(polls: int) -> None:
    device, channels = egauge()
    emulator = EmulatedModbusTcp.for_device(device, lambda _name: 1234.5)
    buses = Buses()
    buses.tcp[("egauge4030.local", 502)] = ("127.0.0.1", await emulator.start())
    clock = SystemClock()
    meter = ModbusMeter(device, channels, buses, clock, pool=ModbusBusPool(clock))
    names = [c.name for c in channels]
    try:
        await meter.open()
        for _ in range(50):  # warm up
            await meter.read(names)
        lat: list[float] = []
        for _ in range(polls):
            t0 = time.perf_counter()
            values = await meter.read(names)
            lat.append((time.perf_counter() - t0) * 1000)
            assert all(v == 1234.5 for v in values.values()), values
        probe_lat: list[float] = []
        for _ in range(max(10, polls // 10)):
            t0 = time.perf_counter()
            await meter.read_all()
            probe_lat.append((time.perf_counter() - t0) * 1000)
    finally:
        await meter.close()
        await emulator.stop()
    print(
        f"eGauge whole-map poll ({len(names)} f32 registers, 1 request, loopback TCP), "
        f"{polls} polls: p50 {pct(lat, 50):.2f} ms, p99 {pct(lat, 99):.2f} ms, "
        f"max {max(lat):.2f} ms (target p99 <= 20 ms)"
    )
    print(
        f"eGauge probe (read_all: map + hw-uid, 2 requests): p50 {pct(probe_lat, 50):.2f} ms, "
        f"p99 {pct(probe_lat, 99):.2f} ms"
    )


async def periods_of_healthy_meter(seconds: float, with_failures: bool) -> list[float]:
    clock = SystemClock()
    pool = ModbusBusPool(clock)
    buses = Buses()
    device, channels = egauge()
    device = device.model_copy(update={"hw_uid": None})
    fast = [c.model_copy(update={"sample_period_s": PERIOD_S}) for c in channels]
    healthy = EmulatedModbusTcp.for_device(device, lambda _name: 500.0)
    buses.tcp[("egauge4030.local", 502)] = ("127.0.0.1", await healthy.start())
    meter = ModbusMeter(device, fast, buses, clock, pool=pool)
    sink = Sink()
    stoppers: list[EmulatedModbusTcp | EmulatedModbusRtu] = [healthy]
    failing: list[tuple[ModbusMeter, list[str]]] = []
    if with_failures:
        assert isinstance(device.bus, ModbusTcpBus)
        dead_dev = device.model_copy(
            update={
                "name": "egauge-dead",
                "bus": device.bus.model_copy(
                    update={"host": "egauge-dead.local", "timeout_s": FAILING_TIMEOUT_S}
                ),
            }
        )
        dead = EmulatedModbusTcp.for_device(dead_dev, lambda _name: 1.0)
        dead.faults.silent = True
        buses.tcp[("egauge-dead.local", 502)] = ("127.0.0.1", await dead.start())
        stoppers.append(dead)
        dead_chans = [c.model_copy(update={"device": "egauge-dead"}) for c in channels]
        failing.append(
            (
                ModbusMeter(dead_dev, dead_chans, buses, clock, pool=pool),
                [c.name for c in dead_chans],
            )
        )
        rtu_dev, rtu_chans = iem3455()
        assert isinstance(rtu_dev.bus, ModbusRtuBus)
        rtu_dev = rtu_dev.model_copy(
            update={
                "hw_uid": None,
                "bus": rtu_dev.bus.model_copy(
                    update={"parity": "N", "timeout_s": FAILING_TIMEOUT_S}
                ),
            }
        )
        line = EmulatedModbusRtu.for_device(rtu_dev, lambda _name: 1.0, transport="pty")
        line.faults.silent = True
        buses.serial["/dev/ttyUSB0"] = await line.start()
        stoppers.append(line)
        failing.append(
            (ModbusMeter(rtu_dev, rtu_chans, buses, clock, pool=pool), [c.name for c in rtu_chans])
        )

    async def hammer(m: ModbusMeter, names: list[str]) -> None:
        while True:
            with contextlib.suppress(DriverError):
                await m.read(names)

    actor = SensorActor(meter, fast, clock, sink)
    tasks = [asyncio.ensure_future(actor.run())]
    tasks += [asyncio.ensure_future(hammer(m, names)) for m, names in failing]
    await asyncio.sleep(seconds)
    for t in tasks:
        t.cancel()
    for t in tasks:
        with contextlib.suppress(asyncio.CancelledError):
            await t
    for m in [meter, *(f for f, _ in failing)]:
        await m.close()
    for s in stoppers:
        await s.stop()
    arrivals = sink.arrivals[fast[0].name]
    return [(b - a) * 1000 for a, b in itertools.pairwise(arrivals[1:])]


def describe(label: str, periods: list[float]) -> str:
    nominal = PERIOD_S * 1000
    worst = max(abs(p - nominal) for p in periods) / nominal * 100
    return (
        f"{label}: {len(periods)} periods, mean {statistics.fmean(periods):.2f} ms, "
        f"p1 {pct(periods, 1):.2f} ms, p99 {pct(periods, 99):.2f} ms, "
        f"worst deviation {worst:.1f} %"
    )


async def main(polls: int, seconds: float) -> None:
    await poll_latency(polls)
    alone = await periods_of_healthy_meter(seconds, with_failures=False)
    beside = await periods_of_healthy_meter(seconds, with_failures=True)
    print(f"healthy eGauge, sample period {PERIOD_S * 1000:.0f} ms, polled by SensorActor:")
    print("  " + describe("alone", alone))
    print(
        "  "
        + describe(
            f"beside a silent eGauge and a silent iEM3455 (each hammered, "
            f"{FAILING_TIMEOUT_S:g} s timeouts)",
            beside,
        )
    )
    change = (statistics.fmean(beside) / statistics.fmean(alone) - 1) * 100
    print(f"  mean period change with the failures: {change:+.2f} % (target: within 10 %)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--polls", type=int, default=2000)
    parser.add_argument("--seconds", type=float, default=6.0)
    args = parser.parse_args()
    asyncio.run(main(args.polls, args.seconds))
