"""One Modbus client per physical bus, shared by every meter on it.

A physical bus is a TCP endpoint (``host:port``) or a serial port. Each :class:`ModbusBus` owns
one pymodbus client and one :class:`asyncio.Lock`: a request and its answer are one transaction,
and no other request goes out on that bus until it is over (RS-485 is half duplex; a Modbus TCP
gateway serialises anyway). Between transactions the bus keeps an inter-frame gap (3.5
character times at the serial baud rate, a millisecond on TCP).

Failures become the typed driver errors, with the device that asked:

- no connection, or no answer within the request's timeout → :class:`DeviceTimeoutError`;
- a Modbus exception response → :class:`ModbusExceptionError` (a :class:`DeviceRefusedError`
  carrying the exception code);
- bytes that are not an answer (bad CRC, garbage, a frame pymodbus cannot decode) →
  :class:`DeviceGarbageError`.

The client is rebuilt (closed and opened afresh) after garbage or a framing error, after a lost
connection, and on TCP after a timeout (a late answer must never be taken for the next one: the
transaction-id mismatch that stuck EVCC until restart). A failed connect is retried with a capped,
jittered exponential back-off (0.5 s doubling to 10 s), without end; while the back-off runs a
read fails at once instead of blocking the bus.

pymodbus is imported here (and nowhere else in ``scada``); none of its types or exceptions
escapes this module.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from pymodbus.client import AsyncModbusSerialClient, AsyncModbusTcpClient, ModbusBaseClient
from pymodbus.exceptions import ConnectionException, ModbusException
from pymodbus.framer import FramerRTU, FramerType
from pymodbus.pdu import ExceptionResponse, ModbusPDU

from scada.clock import Clock
from scada.drivers.buses import Buses
from scada.drivers.errors import (
    BusMissingError,
    DeviceGarbageError,
    DeviceRefusedError,
    DeviceTimeoutError,
    DriverError,
)

Function = Literal["holding", "input"]
Parity = Literal["N", "E", "O"]

#: Modbus exception codes and what they mean.
EXCEPTION_NAMES: dict[int, str] = {
    1: "illegal function",
    2: "illegal data address",
    3: "illegal data value",
    4: "server device failure",
    5: "acknowledge",
    6: "server device busy",
    8: "memory parity error",
    10: "gateway path unavailable",
    11: "gateway target device failed to respond",
}

#: Inter-frame gap on TCP: enough for a TCP-to-RTU gateway to turn round, invisible otherwise.
TCP_GAP_S = 0.001
#: Above 19200 baud Modbus RTU fixes the inter-frame gap at 1.75 ms.
RTU_FAST_GAP_S = 0.00175
#: The pymodbus client's own timeout is only a backstop: every request runs under ours.
_BACKSTOP_TIMEOUT_S = 60.0


class ModbusExceptionError(DeviceRefusedError):
    """The device answered with a Modbus exception response; ``code`` is its exception code."""

    def __init__(self, device: str, code: int, reason: str) -> None:
        self.code = code
        super().__init__(device, reason)


# --------------------------------------------------------------------------------- lines


@dataclass(frozen=True, slots=True)
class TcpLine:
    """A Modbus TCP endpoint."""

    host: str
    port: int

    @property
    def label(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def frame_gap_s(self) -> float:
        return TCP_GAP_S


@dataclass(frozen=True, slots=True)
class SerialLine:
    """An RS-485 line: the port and its character format."""

    port: str
    baud: int
    parity: Parity
    bytesize: int = 8
    stopbits: int = 1

    @property
    def label(self) -> str:
        return self.port

    @property
    def char_time_s(self) -> float:
        """One character on the wire: start bit, data bits, parity bit, stop bits."""
        bits = 1 + self.bytesize + (0 if self.parity == "N" else 1) + self.stopbits
        return bits / self.baud

    @property
    def frame_gap_s(self) -> float:
        """The RTU inter-frame silence: 3.5 character times (fixed 1.75 ms above 19200 baud)."""
        if self.baud > 19200:
            return RTU_FAST_GAP_S
        return 3.5 * self.char_time_s


Line = TcpLine | SerialLine


# ------------------------------------------------------------------------------- back-off


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


# ----------------------------------------------------------------------------------- bus


@dataclass
class BusStats:
    """Counters a test or a probe can read."""

    requests: int = 0
    connects: int = 0
    connect_failures: int = 0
    rebuilds: int = 0


class _Wire:
    """What the client saw during one transaction (through pymodbus' trace hooks)."""

    def __init__(self) -> None:
        self.received = b""
        self.lost = asyncio.Event()

    def packet(self, sending: bool, data: bytes) -> bytes:
        if not sending:
            # pymodbus hands over its whole receive buffer each time: keep the latest.
            self.received = data
        return data

    def connection(self, connected: bool) -> None:
        if not connected:
            self.lost.set()


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
        self._wire = _Wire()
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
                response = await self._exchange(
                    device,
                    wire,
                    lambda: self._request(client, function, address, count, unit_id),
                    timeout_s,
                    what,
                )
                done_ok = True
            finally:
                self._quiet_since = self._clock.monotonic()
                if not done_ok and self._client is not None and self._must_rebuild(wire):
                    self._drop_client()
        return self._registers(device, response, count, what)

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
        self._wire = _Wire()
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

    def _make_client(self, wire: _Wire) -> ModbusBaseClient:
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

    @staticmethod
    def _request(
        client: ModbusBaseClient, function: Function, address: int, count: int, unit_id: int
    ) -> Awaitable[ModbusPDU]:
        if function == "holding":
            return client.read_holding_registers(address, count=count, device_id=unit_id)
        return client.read_input_registers(address, count=count, device_id=unit_id)

    async def _keep_gap(self) -> None:
        wait = self._quiet_since + self._gap_s - self._clock.monotonic()
        if wait > 0:
            await self._clock.sleep(wait)

    async def _exchange(
        self,
        device: str,
        wire: _Wire,
        request: Callable[[], Awaitable[ModbusPDU]],
        timeout_s: float,
        what: str,
    ) -> ModbusPDU:
        """One request and its answer; whichever comes first of the answer, a lost connection
        and the timeout ends it."""

        async def answer_of() -> ModbusPDU | None:
            # pymodbus raises ConnectionException at the call, not the await, when the
            # connection is already gone: both happen inside this task.
            return await request()

        async def loss() -> ModbusPDU | None:
            await wire.lost.wait()
            return None

        answer = asyncio.ensure_future(answer_of())
        lost = asyncio.ensure_future(loss())
        try:
            async with asyncio.timeout(timeout_s):
                await asyncio.wait({answer, lost}, return_when=asyncio.FIRST_COMPLETED)
        except TimeoutError:
            pass
        finally:
            lost.cancel()
            if not answer.done():
                answer.cancel()
                # asyncio.wait never raises the answer's own error, and it lets a cancellation
                # of *this* task through (suppressing CancelledError here would swallow it).
                await asyncio.wait({answer})
        if answer.done() and not answer.cancelled():
            try:
                response = answer.result()
            except ConnectionException as e:
                wire.lost.set()
                raise DeviceTimeoutError(device, f"connection to {self.label} lost: {e}") from None
            except (ModbusException, OSError) as e:
                raise DeviceGarbageError(device, f"{what}: {e}") from None
            if response is not None:
                return response
        if wire.received:
            raise DeviceGarbageError(device, self._garbage_reason(wire.received, what))
        if wire.lost.is_set():
            raise DeviceTimeoutError(device, f"connection to {self.label} lost during {what}")
        raise DeviceTimeoutError(device, f"no answer to {what} within {timeout_s:g} s")

    def _garbage_reason(self, received: bytes, what: str) -> str:
        shown = received[:16].hex(" ") + (" …" if len(received) > 16 else "")
        if isinstance(self.line, SerialLine) and len(received) >= 4:
            crc_ok = FramerRTU.check_CRC(received[:-2], int.from_bytes(received[-2:], "big"))
            if not crc_ok:
                return f"answer to {what} failed its CRC check ({len(received)} bytes: {shown})"
        return f"unreadable answer to {what} ({len(received)} bytes: {shown})"

    def _must_rebuild(self, wire: _Wire) -> bool:
        """After a failed transaction: rebuild unless the serial line merely stayed silent."""
        if wire.received or wire.lost.is_set():
            return True
        return isinstance(self.line, TcpLine)

    def _registers(self, device: str, response: ModbusPDU, count: int, what: str) -> list[int]:
        if isinstance(response, ExceptionResponse) or response.isError():
            code = int(getattr(response, "exception_code", 0))
            meaning = EXCEPTION_NAMES.get(code, "unknown exception")
            raise ModbusExceptionError(
                device, code, f"Modbus exception {code} ({meaning}) for {what}"
            )
        words = [int(w) for w in response.registers]
        if len(words) != count:
            raise DeviceGarbageError(
                device, f"asked for {count} registers ({what}), got {len(words)}"
            )
        return words

    def _drop_client(self, *, count: bool = True) -> None:
        if self._client is not None:
            with contextlib.suppress(Exception):
                self._client.close()
            self._client = None
            if count:
                self.stats.rebuilds += 1


# ---------------------------------------------------------------------------------- pool


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
