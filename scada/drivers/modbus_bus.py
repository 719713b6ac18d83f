"""One Modbus client per physical bus, and its life: connect, keep the line quiet, rebuild.

A physical bus is a TCP endpoint (``host:port``) or a serial port (:mod:`.modbus_line`). Each
:class:`ModbusBus` owns one pymodbus client and one :class:`asyncio.Lock`: a request and its answer
are one transaction, and no other request goes out on that bus until it is over (RS-485 is half
duplex; a Modbus TCP gateway serialises anyway). Between transactions the bus keeps the line's
inter-frame gap. The transaction itself, and how its failures become typed driver errors, is
:mod:`.modbus_exchange`; meters get their buses from :mod:`.modbus_pool`, which shares them.

The client is rebuilt (closed and opened afresh) after garbage or a framing error, after a lost
connection, and on TCP after a timeout (a late answer must never be taken for the next one: the
transaction-id mismatch that stuck EVCC until restart). A failed connect is retried with a capped,
jittered exponential back-off (0.5 s doubling to 10 s), without end; while the back-off runs a
read fails at once (:class:`DeviceTimeoutError`, or :class:`BusMissingError` for an absent serial
port) instead of blocking the bus.

pymodbus is imported only here and in :mod:`.modbus_exchange` (nowhere else in ``scada``); none
of its types or exceptions escapes :meth:`ModbusBus.read`.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from dataclasses import dataclass, field
from pathlib import Path

from pymodbus.client import AsyncModbusSerialClient, AsyncModbusTcpClient, ModbusBaseClient
from pymodbus.framer import FramerType

from scada.clock import Clock
from scada.drivers.errors import BusMissingError, DeviceTimeoutError
from scada.drivers.modbus_exchange import Wire, answer_registers, exchange, read_request
from scada.drivers.modbus_line import Line, SerialLine, TcpLine
from scada.drivers.registers import Function

#: The pymodbus client's own timeout is only a backstop: every request runs under ours.
_BACKSTOP_TIMEOUT_S = 60.0


@dataclass
class Backoff:
    """Capped exponential back-off with jitter: ``first_s`` doubling to ``max_s``, ±``jitter``."""

    first_s: float = 0.5
    max_s: float = 10.0
    jitter: float = 0.2
    rng: random.Random = field(default_factory=random.Random)
    _next_s: float = field(default=0.0, init=False)

    def __post_init__(self) -> None:
        self._next_s = self.first_s

    def next_delay(self) -> float:
        """The delay before the next attempt; each call doubles the base up to ``max_s``."""
        base = self._next_s
        self._next_s = min(self._next_s * 2, self.max_s)
        spread = base * self.jitter
        return max(0.0, min(self.max_s, base + self.rng.uniform(-spread, spread)))

    def reset(self) -> None:
        self._next_s = self.first_s


@dataclass
class BusStats:
    """Counters a test or a probe can read."""

    requests: int = 0
    connects: int = 0
    connect_failures: int = 0
    rebuilds: int = 0


class ModbusBus:
    """One physical Modbus bus: one client, one lock, one inter-frame gap, one back-off."""

    def __init__(
        self,
        line: Line,
        clock: Clock,
        *,
        backoff: Backoff | None = None,
        frame_gap_s: float | None = None,
    ) -> None:
        self.line = line
        self._clock = clock
        self._backoff = backoff or Backoff()
        self._gap_s = line.frame_gap_s if frame_gap_s is None else frame_gap_s
        self._lock = asyncio.Lock()
        self._client: ModbusBaseClient | None = None
        self._wire = Wire()
        self._quiet_since = -1e9
        self._retry_at = -1e9
        self._last_connect_error = ""
        self.stats = BusStats()

    @property
    def label(self) -> str:
        kind = "modbus-tcp" if isinstance(self.line, TcpLine) else "modbus-rtu"
        return f"{kind} {self.line.label}"

    @property
    def connected(self) -> bool:
        return self._client is not None and self._client.connected

    async def read(
        self,
        device: str,
        unit_id: int,
        function: Function,
        address: int,
        count: int,
        *,
        timeout_s: float,
    ) -> list[int]:
        """``count`` registers from ``address`` of ``unit_id``, in one request.

        Raises only :class:`DriverError` subclasses, naming ``device``.
        """
        what = (
            f"{function} registers {address}..{address + count - 1} of unit {unit_id} "
            f"on {self.label}"
        )
        async with self._lock:
            client = await self._connected_client(device, timeout_s)
            await self._keep_gap()
            self.stats.requests += 1
            wire = self._wire
            wire.received = b""
            done_ok = False
            try:
                response = await exchange(
                    lambda: read_request(client, function, address, count, unit_id),
                    wire,
                    device=device,
                    line=self.line,
                    bus_label=self.label,
                    what=what,
                    timeout_s=timeout_s,
                )
                done_ok = True
            finally:
                self._quiet_since = self._clock.monotonic()
                if not done_ok and self._client is not None and self._must_rebuild(wire):
                    self._drop_client()
        return answer_registers(device, response, count, what)

    async def close(self) -> None:
        async with self._lock:
            self._drop_client(count=False)

    # ------------------------------------------------------------------ internals

    async def _connected_client(self, device: str, timeout_s: float) -> ModbusBaseClient:
        if self._client is not None and self._client.connected:
            return self._client
        if self._client is not None:  # connection lost since the last request
            self._drop_client()
        now = self._clock.monotonic()
        missing = self._missing_port()
        if now < self._retry_at:
            error_type = BusMissingError if missing else DeviceTimeoutError
            raise error_type(
                device,
                f"no connection to {self.label} ({self._last_connect_error}); "
                f"next try in {self._retry_at - now:.1f} s",
            )
        if missing:
            delay = self._connect_failed(missing)
            raise BusMissingError(device, f"{missing}; retrying in {delay:.1f} s")
        self._wire = Wire()
        client = self._make_client(self._wire)
        error = "refused or unreachable"
        ok = False
        try:
            async with asyncio.timeout(timeout_s):
                ok = await client.connect()
        except TimeoutError:
            error = f"no connection within {timeout_s:g} s"
        except Exception as e:  # noqa: BLE001 - pyserial raises termios.error and other non-OSErrors
            error = f"{type(e).__name__}: {e}"
        except BaseException:  # cancelled (the caller's guard): leave nothing open behind
            with contextlib.suppress(Exception):
                client.close()
            raise
        if not ok or not client.connected:
            with contextlib.suppress(Exception):
                client.close()
            delay = self._connect_failed(error)
            raise DeviceTimeoutError(
                device, f"cannot connect to {self.label} ({error}); retrying in {delay:.1f} s"
            )
        self._backoff.reset()
        self._last_connect_error = ""
        self._retry_at = -1e9
        self.stats.connects += 1
        self._client = client
        return client

    def _missing_port(self) -> str:
        """Why the serial port cannot be there (an unplugged adapter), or ``""``."""
        line = self.line
        if isinstance(line, SerialLine) and "://" not in line.port and not Path(line.port).exists():
            return f"serial port {line.port} does not exist (is the RS-485 adapter plugged in?)"
        return ""

    def _connect_failed(self, error: str) -> float:
        self.stats.connect_failures += 1
        self._last_connect_error = error
        delay = self._backoff.next_delay()
        self._retry_at = self._clock.monotonic() + delay
        return delay

    def _make_client(self, wire: Wire) -> ModbusBaseClient:
        line = self.line
        if isinstance(line, TcpLine):
            return AsyncModbusTcpClient(
                line.host,
                port=line.port,
                framer=FramerType.SOCKET,
                timeout=_BACKSTOP_TIMEOUT_S,
                retries=0,
                reconnect_delay=0,
                trace_packet=wire.packet,
                trace_connect=wire.connection,
            )
        return AsyncModbusSerialClient(
            line.port,
            framer=FramerType.RTU,
            baudrate=line.baud,
            bytesize=line.bytesize,
            parity=line.parity,
            stopbits=line.stopbits,
            timeout=_BACKSTOP_TIMEOUT_S,
            retries=0,
            reconnect_delay=0,
            trace_packet=wire.packet,
            trace_connect=wire.connection,
        )

    async def _keep_gap(self) -> None:
        wait = self._quiet_since + self._gap_s - self._clock.monotonic()
        if wait > 0:
            await self._clock.sleep(wait)

    def _must_rebuild(self, wire: Wire) -> bool:
        """After a failed transaction: rebuild unless the serial line merely stayed silent."""
        if wire.received or wire.lost:
            return True
        return isinstance(self.line, TcpLine)

    def _drop_client(self, *, count: bool = True) -> None:
        if self._client is not None:
            with contextlib.suppress(Exception):
                self._client.close()
            self._client = None
            if count:
                self.stats.rebuilds += 1
