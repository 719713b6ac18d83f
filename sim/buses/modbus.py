"""Emulated Modbus buses: real pymodbus servers, answering for emulated meters, that the real
meter driver talks to over real sockets and serial ports.

* :class:`EmulatedModbusTcp` — a pymodbus TCP server on 127.0.0.1 (a free port) playing a meter's
  register map (the eGauge 4030), or a gateway's several unit ids.
* :class:`EmulatedModbusRtu` — a pymodbus RTU server on an emulated RS-485 line
  (:mod:`sim.buses.rs485`; the Schneider iEM3455). Several meters (unit ids) can share the line.

The meters themselves (register maps, values, per-unit faults) are
:class:`~sim.buses.modbus_meter.EmulatedMeter`; this module is the plumbing that puts them on
a wire. Contracts:

* Faults that alter what goes on the wire are applied here, per unit id, to the outgoing frame:
  silence, garbage, a CRC error (RTU; on TCP, garbage), and a short answer. A frame for a unit
  id with no meter goes out untouched.
* Add units before ``start``: pymodbus takes the device list when the server is built.
* ``start`` is idempotent while running and returns what the driver opens (a TCP port, or a
  serial path / ``socket://`` URL); ``stop`` drops every connection and may be followed by
  another ``start``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from pymodbus.framer import FramerType
from pymodbus.pdu import ModbusPDU
from pymodbus.server import ModbusSerialServer, ModbusTcpServer

from scada.drivers.registers import RegisterSpec
from scada.layout import Device, Register
from sim.buses.modbus_meter import (
    EmulatedMeter,
    ModbusFaults,
    Values,
    device_map,
    device_unit_id,
)
from sim.buses.rs485 import LineTransport, Parity, PtyWire, line_transport

LOOPBACK = "127.0.0.1"


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
        specs, wrapped = device_map(device, values)
        return cls(specs, device_unit_id(device), wrapped)

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
        self._wire: PtyWire | None = None
        self.path = ""
        self.transport_used: LineTransport | None = None

    @classmethod
    def for_device(
        cls, device: Device, values: Values, *, transport: Literal["auto", "pty", "socket"] = "auto"
    ) -> EmulatedModbusRtu:
        """An emulated line with layout ``device`` on it, at the device's baud and parity."""
        specs, wrapped = device_map(device, values)
        bus = device.bus
        baud = getattr(bus, "baud", 9600)
        parity: Parity = getattr(bus, "parity", "N")
        return cls(
            specs, device_unit_id(device), wrapped, baud=baud, parity=parity, transport=transport
        )

    def add_device(self, device: Device, values: Values) -> EmulatedMeter:
        """Another layout device on the same line (its own unit id); call before :meth:`start`."""
        specs, wrapped = device_map(device, values)
        return self.add_unit(specs, device_unit_id(device), wrapped)

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
            use = line_transport(self.parity)
        devices = [m.sim_device() for m in self.meters]
        if use == "pty":
            wire = PtyWire()
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
