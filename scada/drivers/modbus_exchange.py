"""One Modbus request and its answer, and how each way it can fail becomes a typed driver error.

The bus (:mod:`scada.drivers.modbus_bus`) holds the lock and the client; this module runs the
transaction on it and judges what came back. Every failure is a :class:`DriverError` naming the
device that asked:

- no answer within the request's timeout, or the connection lost → :class:`DeviceTimeoutError`;
- a Modbus exception response → :class:`ModbusExceptionError` (a :class:`DeviceRefusedError`
  carrying the exception code);
- bytes that are not an answer (bad CRC, garbage, a frame pymodbus cannot decode, the wrong
  number of registers) → :class:`DeviceGarbageError`.

A :class:`Wire` records what the client saw during the transaction (through pymodbus' trace
hooks), so that an exchange that produced no answer can still tell "nothing came back" from
"something unreadable came back" — the bus rebuilds its client after the latter.

pymodbus' exceptions stop here; its answer type goes back only to the bus, which turns it into
plain register words with :func:`answer_registers`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from pymodbus.client import ModbusBaseClient
from pymodbus.exceptions import ConnectionException, ModbusException
from pymodbus.framer import FramerRTU
from pymodbus.pdu import ExceptionResponse, ModbusPDU

from scada.drivers.errors import DeviceGarbageError, DeviceRefusedError, DeviceTimeoutError
from scada.drivers.modbus_line import Line, SerialLine
from scada.drivers.registers import Function

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


class ModbusExceptionError(DeviceRefusedError):
    """The device answered with a Modbus exception response; ``code`` is its exception code."""

    def __init__(self, device: str, code: int, reason: str) -> None:
        self.code = code
        super().__init__(device, reason)


class Wire:
    """What the client saw during one transaction (through pymodbus' trace hooks).

    One per client: the hooks are bound when the client is made. ``lost`` stays true once the
    connection has dropped; ``received`` is reset by the bus before each request. ``on_loss``
    is called (on the event loop) when the connection drops, while an exchange waits.
    """

    def __init__(self) -> None:
        self.received = b""
        self.lost = False
        self.on_loss: Callable[[], None] | None = None

    def packet(self, sending: bool, data: bytes) -> bytes:
        if not sending:
            # pymodbus hands over its whole receive buffer each time: keep the latest.
            self.received = data
        return data

    def connection(self, connected: bool) -> None:
        if not connected:
            self.lost = True
            if self.on_loss is not None:
                self.on_loss()


def read_request(
    client: ModbusBaseClient, function: Function, address: int, count: int, unit_id: int
) -> Awaitable[ModbusPDU]:
    """The pymodbus call that reads ``count`` registers of ``function`` from ``unit_id``."""
    if function == "holding":
        return client.read_holding_registers(address, count=count, device_id=unit_id)
    return client.read_input_registers(address, count=count, device_id=unit_id)


async def exchange(
    request: Callable[[], Awaitable[ModbusPDU]],
    wire: Wire,
    *,
    device: str,
    line: Line,
    bus_label: str,
    what: str,
    timeout_s: float,
) -> ModbusPDU:
    """One request and its answer; whichever comes first of the answer, a lost connection
    and the timeout ends it.

    Returns the decoded answer, which may still be a Modbus exception response (see
    :func:`answer_registers`). Raises only :class:`DriverError` subclasses naming ``device``;
    ``what`` describes the request and ``bus_label`` the bus in their messages.
    """
    if wire.lost:
        raise DeviceTimeoutError(device, f"connection to {bus_label} lost before {what}")
    response: ModbusPDU | None = None
    try:
        # The request runs in this task; a lost connection ends the wait at once, as the
        # timeout would (pymodbus would wait out its own backstop for an answer that cannot
        # come). No helper task: a meter read every minute is a large share of a simulated
        # house's event loop.
        async with asyncio.timeout(timeout_s) as deadline:

            def cut_short() -> None:
                if not deadline.expired():
                    deadline.reschedule(asyncio.get_running_loop().time())

            wire.on_loss = cut_short
            try:
                # pymodbus raises ConnectionException at the call, not the await, when the
                # connection is already gone: both are caught here.
                response = await request()
            finally:
                wire.on_loss = None
    except TimeoutError:
        pass
    except ConnectionException as e:
        wire.lost = True
        raise DeviceTimeoutError(device, f"connection to {bus_label} lost: {e}") from None
    except (ModbusException, OSError) as e:
        raise DeviceGarbageError(device, f"{what}: {e}") from None
    if response is not None:
        return response
    if wire.received:
        raise DeviceGarbageError(device, _garbage_reason(line, wire.received, what))
    if wire.lost:
        raise DeviceTimeoutError(device, f"connection to {bus_label} lost during {what}")
    raise DeviceTimeoutError(device, f"no answer to {what} within {timeout_s:g} s")


def _garbage_reason(line: Line, received: bytes, what: str) -> str:
    shown = received[:16].hex(" ") + (" …" if len(received) > 16 else "")
    if isinstance(line, SerialLine) and len(received) >= 4:
        crc_ok = FramerRTU.check_CRC(received[:-2], int.from_bytes(received[-2:], "big"))
        if not crc_ok:
            return f"answer to {what} failed its CRC check ({len(received)} bytes: {shown})"
    return f"unreadable answer to {what} ({len(received)} bytes: {shown})"


def answer_registers(device: str, response: ModbusPDU, count: int, what: str) -> list[int]:
    """The ``count`` register words of ``response``.

    Raises :class:`ModbusExceptionError` for an exception response and
    :class:`DeviceGarbageError` when the answer holds a different number of registers.
    """
    if isinstance(response, ExceptionResponse) or response.isError():
        code = int(getattr(response, "exception_code", 0))
        meaning = EXCEPTION_NAMES.get(code, "unknown exception")
        raise ModbusExceptionError(device, code, f"Modbus exception {code} ({meaning}) for {what}")
    words = [int(w) for w in response.registers]
    if len(words) != count:
        raise DeviceGarbageError(device, f"asked for {count} registers ({what}), got {len(words)}")
    return words
