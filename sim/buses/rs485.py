"""An emulated RS-485 line: two pseudo-terminal pairs joined by a byte pump, or loopback TCP.

The RTU server (:class:`sim.buses.modbus.EmulatedModbusRtu`) sits on one end and the driver
opens the other through the same pyserial call as a real ``/dev/ttyUSB0``, so the driver's
serial code runs as it does on a Pi. This module holds what is about the line rather than about
Modbus: the pty pair, and the choice between it and pyserial's ``socket://`` fallback.

Contracts:

* :class:`PtyWire` must be opened on a running event loop (its pump is that loop's reader) and
  closed on the same loop; it carries bytes both ways unchanged, and drops what it cannot
  read or write rather than raising into the loop.
* :func:`line_transport` picks ``"socket"`` wherever a pty would lie about the line: when this
  kernel's ptys refuse the line's parity (``tcsetattr`` rejects ``PARENB`` on a pty here), or
  when the loop keeps virtual time (a pty hands bytes over through a kernel work queue, which a
  loop that jumps to its next timer takes for silence). Loopback TCP delivers at once, and
  pyserial's socket handler ignores baud and parity.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import termios
import tty
from typing import Literal

from scada.clock import VirtualTimeLoop

Parity = Literal["N", "E", "O"]
#: What carries the line: a pseudo-terminal pair, or RTU frames over loopback TCP.
LineTransport = Literal["pty", "socket"]


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


def line_transport(parity: Parity) -> LineTransport:
    """The pty when it can carry a line of ``parity`` on the running loop, else the socket."""
    return "pty" if pty_accepts_parity(parity) and not _virtual_time() else "socket"


def _virtual_time() -> bool:
    return isinstance(asyncio.get_running_loop(), VirtualTimeLoop)


class PtyWire:
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
