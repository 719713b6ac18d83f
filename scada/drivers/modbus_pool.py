"""The Modbus buses of one house: meters that name the same line share one :class:`ModbusBus`.

Sharing is what makes the bus lock mean anything: two meters on one RS-485 line must queue on
the same lock, or their frames collide. A TCP endpoint is shared by ``host:port``; a serial line
by its port, and every device on a port must ask for the same character format (a disagreement is
a :class:`BusConflictError` when the second meter takes its bus, not garbled frames later).

A bus is reference-counted: each :meth:`ModbusBusPool.tcp` / :meth:`ModbusBusPool.serial` call
takes one use, each :meth:`ModbusBusPool.release` gives one back, and the last release closes it.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable

from scada.clock import Clock
from scada.drivers.buses import Buses
from scada.drivers.errors import DriverError
from scada.drivers.modbus_bus import Backoff, ModbusBus
from scada.drivers.modbus_line import Parity, SerialLine, TcpLine


class BusConflictError(DriverError):
    """Two devices put different serial settings on one port."""


class ModbusBusPool:
    """The Modbus buses of one house: one :class:`ModbusBus` per physical line.

    Meters built with the same pool share a bus when they name the same TCP endpoint or the same
    serial port. :meth:`for_buses` hands out one pool per :class:`Buses` object, so meters built
    for one house share their lines without the factory passing a pool around.
    """

    def __init__(
        self,
        clock: Clock,
        *,
        backoff: Callable[[], Backoff] = Backoff,
        tcp_gap_s: float | None = None,
    ) -> None:
        self._clock = clock
        self._backoff = backoff
        self._tcp_gap_s = tcp_gap_s
        self._buses: dict[tuple[str, str], ModbusBus] = {}
        self._users: dict[tuple[str, str], int] = {}

    def tcp(self, host: str, port: int) -> ModbusBus:
        key = ("tcp", f"{host}:{port}")
        bus = self._buses.get(key)
        if bus is None:
            bus = ModbusBus(
                TcpLine(host, port),
                self._clock,
                backoff=self._backoff(),
                frame_gap_s=self._tcp_gap_s,
            )
            self._buses[key] = bus
        self._users[key] = self._users.get(key, 0) + 1
        return bus

    def serial(self, device: str, port: str, baud: int, parity: Parity) -> ModbusBus:
        key = ("serial", port)
        line = SerialLine(port, baud, parity)
        bus = self._buses.get(key)
        if bus is None:
            bus = ModbusBus(line, self._clock, backoff=self._backoff())
            self._buses[key] = bus
        elif bus.line != line:
            raise BusConflictError(
                device,
                f"serial port {port} is already in use at {bus.line}, not {baud} baud parity "
                f"{parity}: every device on one RS-485 line needs the same settings",
            )
        self._users[key] = self._users.get(key, 0) + 1
        return bus

    async def release(self, bus: ModbusBus) -> None:
        """One user of ``bus`` is done with it; the last one closes it."""
        for key, b in list(self._buses.items()):
            if b is bus:
                self._users[key] -= 1
                if self._users[key] <= 0:
                    del self._buses[key], self._users[key]
                    await bus.close()

    async def close(self) -> None:
        buses = list(self._buses.values())
        self._buses.clear()
        self._users.clear()
        for bus in buses:
            await bus.close()

    @property
    def buses(self) -> list[ModbusBus]:
        return list(self._buses.values())

    @classmethod
    def for_buses(cls, buses: Buses, clock: Clock) -> ModbusBusPool:
        """The pool of ``buses`` (one per :class:`Buses` object, made on first use)."""
        try:
            pool = _POOLS.get(buses)
        except TypeError:  # an unhashable Buses: it gets no shared pool
            return cls(clock)
        if pool is None:
            pool = cls(clock)
            _POOLS[buses] = pool
        return pool


_POOLS: weakref.WeakKeyDictionary[Buses, ModbusBusPool] = weakref.WeakKeyDictionary()
