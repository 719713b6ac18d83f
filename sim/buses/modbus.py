"""Emulated Modbus meters: real pymodbus servers the real meter driver talks to.

* :class:`EmulatedModbusTcp` — a pymodbus TCP server on 127.0.0.1 (a free port) playing a meter's
  register map (the eGauge 4030).
* :class:`EmulatedModbusRtu` — a pymodbus RTU server on an emulated RS-485 line (the Schneider
  iEM3455): two pseudo-terminal pairs joined by a byte pump, the server on one slave end, the
  driver opening the other as its serial port. Several meters (unit ids) can share the line.

  Where this kernel's pseudo-terminals refuse the line's parity (``tcsetattr`` rejects
  ``PARENB`` on a pty here, so even or odd parity cannot be set on one), the line falls back to
  pyserial's ``socket://`` URL: the same RTU frames, CRC and all, carried over loopback TCP, and
  opened by the driver through the same pyserial call as a real port (pyserial's socket handler
  ignores baud and parity).

Every register's value comes from a callable, ``values(register_name)``, asked at each request, so
the simulator can feed physics into it. Faults (:class:`ModbusFaults`, per unit): no answer, a late
answer, a Modbus exception response, a garbage frame, a CRC error, the wrong number of registers,
a stuck value.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import termios
import tty
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from pymodbus.constants import ExcCodes
from pymodbus.framer import FramerRTU, FramerType
from pymodbus.pdu import ModbusPDU
from pymodbus.server import ModbusSerialServer, ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice

from scada.clock import VirtualTimeLoop
from scada.drivers.registers import (
    RegisterSpec,
    device_registers,
    encode,
    load_table,
    spec_from_layout,
)
from scada.layout import Device, Register

#: What a register reads: a number in the register's unit, or text for ``t16``.
Values = Callable[[str], float | str]
Parity = Literal["N", "E", "O"]

LOOPBACK = "127.0.0.1"

_FUNCTION_CODES = {"holding": 3, "input": 4}


@dataclass
class ModbusFaults:
    """Faults one emulated meter injects. All off by default; set fields to turn them on.

    ``silent``: never answers. ``delay_s``: answers this late. ``exception_code``: answers every
    read with this Modbus exception. ``garbage``: answers with bytes that are no Modbus frame.
    ``bad_crc``: (RTU) answers with a frame whose CRC is wrong; on TCP, which has no CRC, the
    same as ``garbage``. ``short_by``: answers with this many registers fewer than asked.
    ``stuck``: registers frozen at the value they last served.
    """

    silent: bool = False
    delay_s: float = 0.0
    exception_code: int | None = None
    garbage: bool = False
    bad_crc: bool = False
    short_by: int = 0
    stuck: set[str] = field(default_factory=set)

    def clear(self) -> None:
        self.silent = self.garbage = self.bad_crc = False
        self.delay_s = 0.0
        self.exception_code = None
        self.short_by = 0
        self.stuck.clear()


def as_specs(register_map: Sequence[RegisterSpec | Register]) -> list[RegisterSpec]:
    return [r if isinstance(r, RegisterSpec) else spec_from_layout(r) for r in register_map]


class EmulatedMeter:
    """One unit id on an emulated bus: its register map, where its values come from, its faults."""

    def __init__(
        self,
        register_map: Sequence[RegisterSpec | Register],
        unit_id: int,
        values: Values,
        *,
        strict_gaps: bool = False,
    ) -> None:
        self.registers = as_specs(register_map)
        self.unit_id = unit_id
        self.values = values
        self.strict_gaps = strict_gaps
        self.faults = ModbusFaults()
        self.requests = 0
        self.served: dict[str, float | str] = {}

    def stick(self, name: str) -> None:
        """Freeze register ``name`` at its current value."""
        if name not in self.served:
            self.served[name] = self.values(name)
        self.faults.stuck.add(name)

    def sim_device(self) -> SimDevice:
        blocks: list[list[SimData]] = []
        for function in ("holding", "input"):
            specs = sorted(
                (r for r in self.registers if r.function == function), key=lambda r: r.address
            )
            if not specs:
                blocks.append([SimData(0, datatype=DataType.INVALID)])
            elif self.strict_gaps:
                blocks.append(
                    [SimData(r.address, count=r.width, datatype=DataType.REGISTERS) for r in specs]
                )
            else:  # a real meter's block: every register from the first to the last is readable
                start, end = specs[0].address, max(r.end for r in specs)
                blocks.append([SimData(start, count=end - start, datatype=DataType.REGISTERS)])
        no_bits = [SimData(0, values=False, datatype=DataType.BITS)]
        return SimDevice(
            self.unit_id,
            simdata=(no_bits, list(no_bits), blocks[0], blocks[1]),
            action=self._action,
        )

    async def _action(  # noqa: PLR0917 - pymodbus' SimAction signature
        self,
        function_code: int,
        start_address: int,
        address: int,
        count: int,
        registers: list[int],
        set_values: list[int] | list[bool] | None,
    ) -> ExcCodes | None:
        """pymodbus asks before it answers: fill ``registers`` from the values, or refuse."""
        if set_values is not None:
            return ExcCodes.ILLEGAL_FUNCTION  # meters are read-only here
        self.requests += 1
        if self.faults.delay_s > 0:
            await asyncio.sleep(self.faults.delay_s)
        if self.faults.exception_code is not None:
            return ExcCodes(self.faults.exception_code)
        for spec in self.registers:
            if _FUNCTION_CODES[spec.function] != function_code:
                continue
            if spec.end <= address or spec.address >= address + count:
                continue
            if spec.name in self.faults.stuck and spec.name in self.served:
                value = self.served[spec.name]
            else:
                value = self.values(spec.name)
            try:
                words = encode(spec, value)
            except ValueError:
                return ExcCodes.DEVICE_FAILURE
            self.served[spec.name] = value
            offset = spec.address - start_address
            registers[offset : offset + len(words)] = words
        return None


class _Server:
    """The unit-aware fault hooks shared by the TCP and the RTU server."""

    def __init__(self, meters: list[EmulatedMeter], rtu: bool) -> None:
        self.meters = meters
        self._rtu = rtu

    def meter(self, unit_id: int) -> EmulatedMeter | None:
        for m in self.meters:
            if m.unit_id == unit_id:
                return m
        return None

    def _unit_of(self, frame: bytes) -> int | None:
        index = 0 if self._rtu else 6
        return frame[index] if len(frame) > index else None

    def trace_packet(self, sending: bool, data: bytes) -> bytes:
        if not sending:
            return data
        unit = self._unit_of(data)
        meter = self.meter(unit) if unit is not None else None
        if meter is None:
            return data
        faults = meter.faults
        if faults.silent:
            return b""
        if faults.garbage or (faults.bad_crc and not self._rtu):
            return bytes([0xDE, 0xAD, 0xBE, 0xEF]) * max(2, len(data) // 4)
        if faults.bad_crc:
            return data[:-1] + bytes([data[-1] ^ 0xFF])
        return data

    def trace_pdu(self, sending: bool, pdu: ModbusPDU) -> ModbusPDU:
        if sending and pdu.registers:
            meter = self.meter(pdu.dev_id)
            if meter is not None and meter.faults.short_by > 0:
                pdu.registers = list(pdu.registers)[: -meter.faults.short_by]
        return pdu


def _listening_port(server: ModbusTcpServer | ModbusSerialServer) -> int:
    listener = server.transport
    sockets = getattr(listener, "sockets", None)
    if not sockets:
        raise RuntimeError("the emulated Modbus server is not listening")
    port: int = sockets[0].getsockname()[1]
    return port


class EmulatedModbusTcp:
    """A meter (or several unit ids) behind a real pymodbus Modbus TCP server on 127.0.0.1."""

    def __init__(
        self,
        register_map: Sequence[RegisterSpec | Register],
        unit_id: int,
        values: Values,
        *,
        strict_gaps: bool = False,
    ) -> None:
        self.meters = [EmulatedMeter(register_map, unit_id, values, strict_gaps=strict_gaps)]
        self._hooks = _Server(self.meters, rtu=False)
        self._server: ModbusTcpServer | None = None
        self.port = 0

    @classmethod
    def for_device(cls, device: Device, values: Values) -> EmulatedModbusTcp:
        """An emulator playing layout ``device``: its map, its unit id, its hardware id."""
        specs, wrapped = _device_map(device, values)
        return cls(specs, _unit_id(device), wrapped)

    @property
    def faults(self) -> ModbusFaults:
        return self.meters[0].faults

    @property
    def meter(self) -> EmulatedMeter:
        return self.meters[0]

    def add_unit(
        self, register_map: Sequence[RegisterSpec | Register], unit_id: int, values: Values
    ) -> EmulatedMeter:
        """Another unit id behind the same server (a gateway); call before :meth:`start`."""
        meter = EmulatedMeter(register_map, unit_id, values)
        self.meters.append(meter)
        return meter

    async def start(self, port: int = 0) -> int:
        """Listen on 127.0.0.1 (``port`` 0: a free one) and return the port."""
        if self._server is not None:
            return self.port
        server = ModbusTcpServer(
            [m.sim_device() for m in self.meters],
            framer=FramerType.SOCKET,
            address=(LOOPBACK, port),
            trace_packet=self._hooks.trace_packet,
            trace_pdu=self._hooks.trace_pdu,
        )
        await server.serve_forever(background=True)
        self._server = server
        self.port = _listening_port(server)
        return self.port

    async def stop(self) -> None:
        """Stop listening and drop every connection (start again with ``start(port)``)."""
        server, self._server = self._server, None
        if server is not None:
            await server.shutdown()  # type: ignore[no-untyped-call]  # untyped in pymodbus


# ------------------------------------------------------------------------------ RTU line


def pty_accepts_parity(parity: Parity) -> bool:
    """Whether this kernel lets a pseudo-terminal be set to ``parity`` (as pyserial will)."""
    if parity == "N":
        return True
    master, slave = os.openpty()
    try:
        attrs = termios.tcgetattr(slave)
        attrs[2] |= termios.PARENB | (termios.PARODD if parity == "O" else 0)
        termios.tcsetattr(slave, termios.TCSANOW, attrs)
        return bool(termios.tcgetattr(slave)[2] & termios.PARENB)
    except termios.error:
        return False
    finally:
        os.close(master)
        os.close(slave)


class _PtyWire:
    """Two pseudo-terminal pairs and a pump between their masters: an RS-485 line in a box."""

    def __init__(self) -> None:
        self._fds: list[int] = []
        self.server_path = ""
        self.client_path = ""
        self._masters: tuple[int, int] = (-1, -1)
        self._loop: asyncio.AbstractEventLoop | None = None

    def open(self) -> None:
        m1, s1 = os.openpty()
        m2, s2 = os.openpty()
        self._fds = [m1, s1, m2, s2]
        for fd in (s1, s2):
            tty.setraw(fd)
        for fd in (m1, m2):
            os.set_blocking(fd, False)
        self.server_path, self.client_path = os.ttyname(s1), os.ttyname(s2)
        self._masters = (m1, m2)
        self._loop = asyncio.get_running_loop()
        self._loop.add_reader(m1, self._pump, m1, m2)
        self._loop.add_reader(m2, self._pump, m2, m1)

    @staticmethod
    def _pump(src: int, dst: int) -> None:
        try:
            data = os.read(src, 4096)
        except (BlockingIOError, OSError):
            return
        with contextlib.suppress(BlockingIOError, OSError):
            os.write(dst, data)

    def close(self) -> None:
        if self._loop is not None:
            for fd in self._masters:
                self._loop.remove_reader(fd)
            self._loop = None
        for fd in self._fds:
            with contextlib.suppress(OSError):
                os.close(fd)
        self._fds = []


class EmulatedModbusRtu:
    """Meters on an emulated RS-485 line, answered by a real pymodbus RTU server.

    ``transport``: ``"pty"`` (a pseudo-terminal pair; its path is what the driver opens),
    ``"socket"`` (RTU frames over loopback TCP, opened as ``socket://127.0.0.1:PORT``), or
    ``"auto"``: the pty when this kernel's ptys accept the line's parity and the loop runs on
    real time, else the socket (on a :class:`~scada.clock.VirtualTimeLoop` a pty's kernel-side
    hand-over looks like silence to a loop that jumps to its next timer).
    """

    def __init__(
        self,
        register_map: Sequence[RegisterSpec | Register],
        unit_id: int,
        values: Values,
        *,
        baud: int = 9600,
        parity: Parity = "N",
        transport: Literal["auto", "pty", "socket"] = "auto",
        strict_gaps: bool = False,
    ) -> None:
        self.meters = [EmulatedMeter(register_map, unit_id, values, strict_gaps=strict_gaps)]
        self.baud = baud
        self.parity: Parity = parity
        self._transport = transport
        self._hooks = _Server(self.meters, rtu=True)
        self._server: ModbusSerialServer | None = None
        self._wire: _PtyWire | None = None
        self.path = ""
        self.transport_used: Literal["pty", "socket"] | None = None

    @classmethod
    def for_device(
        cls, device: Device, values: Values, *, transport: Literal["auto", "pty", "socket"] = "auto"
    ) -> EmulatedModbusRtu:
        """An emulated line with layout ``device`` on it, at the device's baud and parity."""
        specs, wrapped = _device_map(device, values)
        bus = device.bus
        baud = getattr(bus, "baud", 9600)
        parity: Parity = getattr(bus, "parity", "N")
        return cls(specs, _unit_id(device), wrapped, baud=baud, parity=parity, transport=transport)

    def add_device(self, device: Device, values: Values) -> EmulatedMeter:
        """Another layout device on the same line (its own unit id); call before :meth:`start`."""
        specs, wrapped = _device_map(device, values)
        return self.add_unit(specs, _unit_id(device), wrapped)

    def add_unit(
        self, register_map: Sequence[RegisterSpec | Register], unit_id: int, values: Values
    ) -> EmulatedMeter:
        """Another meter on the same line; call before :meth:`start`."""
        if any(m.unit_id == unit_id for m in self.meters):
            raise ValueError(f"unit id {unit_id} is already on this line")
        meter = EmulatedMeter(register_map, unit_id, values)
        self.meters.append(meter)
        return meter

    @property
    def faults(self) -> ModbusFaults:
        return self.meters[0].faults

    @property
    def meter(self) -> EmulatedMeter:
        return self.meters[0]

    def unit(self, unit_id: int) -> EmulatedMeter:
        meter = self._hooks.meter(unit_id)
        if meter is None:
            raise KeyError(unit_id)
        return meter

    async def start(self) -> str:
        """Start the line; return what the driver opens as its serial port."""
        if self._server is not None:
            return self.path
        use = self._transport
        if use == "auto":
            use = "pty" if pty_accepts_parity(self.parity) and not _virtual_time() else "socket"
        devices = [m.sim_device() for m in self.meters]
        if use == "pty":
            wire = _PtyWire()
            wire.open()
            self._wire = wire
            server = ModbusSerialServer(
                devices,
                framer=FramerType.RTU,
                port=wire.server_path,
                baudrate=self.baud,
                parity="N",  # a pty has no parity; the driver's side sets the line's
                trace_packet=self._hooks.trace_packet,
                trace_pdu=self._hooks.trace_pdu,
            )
            await server.serve_forever(background=True)
            self.path = wire.client_path
        else:
            server = ModbusSerialServer(
                devices,
                framer=FramerType.RTU,
                port=f"socket://{LOOPBACK}:0",
                baudrate=self.baud,
                parity=self.parity,
                trace_packet=self._hooks.trace_packet,
                trace_pdu=self._hooks.trace_pdu,
            )
            await server.serve_forever(background=True)
            self.path = f"socket://{LOOPBACK}:{_listening_port(server)}"
        self._server = server
        self.transport_used = use
        return self.path

    async def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            await server.shutdown()  # type: ignore[no-untyped-call]  # untyped in pymodbus
        if self._wire is not None:
            self._wire.close()
            self._wire = None


def _virtual_time() -> bool:
    """Whether the running loop keeps virtual time: a pty hands bytes over through a kernel work
    queue, so a loop that jumps to its next timer when no I/O is ready would time out requests
    whose answer is still in the pty. Loopback TCP delivers at once."""
    return isinstance(asyncio.get_running_loop(), VirtualTimeLoop)


def rtu_frame_ok(frame: bytes) -> bool:
    """Whether ``frame`` ends in its correct Modbus CRC (for tests of the line itself)."""
    return len(frame) >= 4 and FramerRTU.check_CRC(frame[:-2], int.from_bytes(frame[-2:], "big"))


# ------------------------------------------------------------------------ layout devices


def _unit_id(device: Device) -> int:
    unit: int = getattr(device.bus, "unit_id", 1)
    return unit


def _device_map(device: Device, values: Values) -> tuple[list[RegisterSpec], Values]:
    """The registers a device's emulator serves (its map and its identity register) and a value
    source that answers the identity register with the layout's hardware id."""
    specs = list(device_registers(device))
    try:
        identity = load_table(device.make_model.value).hw_uid
    except ValueError:
        identity = None
    if identity is None or device.hw_uid is None or identity.name in {s.name for s in specs}:
        return specs, values
    hw_uid = device.hw_uid
    id_value: float | str = hw_uid if identity.type == "t16" else float(int(hw_uid))
    name = identity.name

    def wrapped(register: str) -> float | str:
        return id_value if register == name else values(register)

    return [*specs, identity], wrapped
