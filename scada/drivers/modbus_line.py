"""The physical Modbus lines a bus can run on, and the silence each needs between frames.

A line is a value: two :class:`SerialLine` objects are equal exactly when their port and
character format agree, which is how the bus pool tells one RS-485 line shared by several meters
from two devices that disagree about its settings. ``frame_gap_s`` (seconds) is the quiet time the
bus keeps between the end of one transaction and the start of the next: the Modbus RTU
inter-frame silence on a serial line, a token turn-round allowance on TCP.

No I/O here, and no pymodbus: these are what the bus is configured with, not how it talks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Parity = Literal["N", "E", "O"]

#: Inter-frame gap on TCP: enough for a TCP-to-RTU gateway to turn round, invisible otherwise.
TCP_GAP_S = 0.001
#: Above 19200 baud Modbus RTU fixes the inter-frame gap at 1.75 ms.
RTU_FAST_GAP_S = 0.00175


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
