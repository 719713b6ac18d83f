"""An emulated I2C bus with smbus2's method signatures, and the chips that sit on it.

:class:`EmulatedI2c` is one bus (``/dev/i2c-N``). Chips are attached by 7-bit address and see
the bus the way a real chip does, as write and read *transactions* of bytes: an SMBus
``write_byte_data(addr, reg, v)`` is the write ``[reg, v]``, a ``read_byte_data(addr, reg)`` the
write ``[reg]`` followed by a one-byte read, and ``i2c_rdwr`` passes its messages through as
they are. So the drivers' register handling (pointer bytes, byte order, the PCF8575's
register-less port) is exercised exactly, not assumed.

An address with no chip, or a chip whose ``answering`` is False, raises
``OSError(121, 'Remote I/O error')`` as the kernel does when nobody acknowledges.

Chips: :class:`EmulatedMcp23008` (NCD relay board), :class:`EmulatedPcf8575` (Krida board),
:class:`EmulatedAds1115` (thermistor ADC). Faults on each: ``answering = False`` (no answer),
``stuck`` pins (a relay output that ignores writes), ``ignore_writes`` (something that is not
the chip it should be), an ADS1115 that never finishes (``busy``) or reads wrong volts.
"""

from __future__ import annotations

import ctypes
import errno
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol, TypeVar

from scada.layout import Thermistor
from sim.buses.thermistor import divider_volts

I2C_M_RD = 0x0001


class I2cChip(Protocol):
    """A chip on the emulated bus: it takes write transactions and answers read ones."""

    answering: bool

    def on_write(self, data: Sequence[int]) -> None: ...

    def on_read(self, length: int) -> list[int]: ...


ChipT = TypeVar("ChipT", bound=I2cChip)


def no_answer() -> OSError:
    return OSError(errno.EREMOTEIO, "Remote I/O error")


class EmulatedI2c:
    """One I2C bus: an ``SMBusLike`` (plus ``i2c_rdwr``) over the chips attached to it."""

    def __init__(self, bus: int = 1) -> None:
        self.bus = bus
        self.chips: dict[int, I2cChip] = {}
        self.transactions = 0
        self.closes = 0
        #: Seconds each transaction takes, slept outside the bus's own lock like a real bus
        #: frees the CPU during a transfer; lets the tests show races between worker threads.
        self.latency_s = 0.0
        # The kernel serialises transactions on one adapter; so does this lock.
        self._lock = threading.Lock()

    def attach(self, address: int, chip: ChipT) -> ChipT:
        self.chips[address] = chip
        return chip

    def detach(self, address: int) -> None:
        self.chips.pop(address, None)

    def _chip(self, address: int) -> I2cChip:
        if self.latency_s:
            self._lock.release()
            try:
                time.sleep(self.latency_s)
            finally:
                self._lock.acquire()
        chip = self.chips.get(address)
        if chip is None or not chip.answering:
            raise no_answer()
        self.transactions += 1
        return chip

    # ------------------------------------------------------------- SMBus calls

    def read_byte_data(self, i2c_addr: int, register: int) -> int:
        with self._lock:
            chip = self._chip(i2c_addr)
            chip.on_write([register])
            return chip.on_read(1)[0]

    def write_byte_data(self, i2c_addr: int, register: int, value: int) -> None:
        with self._lock:
            self._chip(i2c_addr).on_write([register, value & 0xFF])

    def read_word_data(self, i2c_addr: int, register: int) -> int:
        with self._lock:
            chip = self._chip(i2c_addr)
            chip.on_write([register])
            lo, hi = chip.on_read(2)  # SMBus words travel low byte first
            return lo | hi << 8

    def write_word_data(self, i2c_addr: int, register: int, value: int) -> None:
        with self._lock:
            self._chip(i2c_addr).on_write([register, value & 0xFF, (value >> 8) & 0xFF])

    def read_i2c_block_data(self, i2c_addr: int, register: int, length: int) -> list[int]:
        with self._lock:
            chip = self._chip(i2c_addr)
            chip.on_write([register])
            return chip.on_read(length)

    def write_i2c_block_data(self, i2c_addr: int, register: int, data: list[int]) -> None:
        with self._lock:
            self._chip(i2c_addr).on_write([register, *(b & 0xFF for b in data)])

    def read_byte(self, i2c_addr: int) -> int:
        with self._lock:
            return self._chip(i2c_addr).on_read(1)[0]

    def write_byte(self, i2c_addr: int, value: int) -> None:
        with self._lock:
            self._chip(i2c_addr).on_write([value & 0xFF])

    def i2c_rdwr(self, *i2c_msgs: Any) -> None:
        """Plain I2C messages (``smbus2.i2c_msg``): reads fill the message's buffer."""
        with self._lock:
            for msg in i2c_msgs:
                chip = self._chip(int(msg.addr))
                if msg.flags & I2C_M_RD:
                    data = bytes(chip.on_read(int(msg.len)))
                    ctypes.memmove(msg.buf, data, len(data))
                else:
                    chip.on_write(list(msg))

    def close(self) -> None:
        self.closes += 1


class _Chip:
    def __init__(self) -> None:
        self.answering = True
        self.ignore_writes = False
        self._mutex = threading.Lock()


# ------------------------------------------------------------------- MCP23008

IODIR, IPOL, GPINTEN, DEFVAL, INTCON, IOCON, GPPU, INTF, INTCAP, GPIO, OLAT = range(11)


class EmulatedMcp23008(_Chip):
    """An MCP23008 on an NCD relay board: output pins follow OLAT, relays follow the pins.

    ``stuck`` maps a pin to the level it is stuck at whatever OLAT says; ``inputs`` holds the
    levels driven onto input pins from outside; ``history`` lists what the chip drives after
    every transaction that changed it (per pin: its level when an output, None when an input),
    so a pulse at start-up shows up there.
    """

    def __init__(self) -> None:
        super().__init__()
        self.regs = [0] * 11
        self.pointer = 0
        self.inputs = 0x00
        self.stuck: dict[int, bool] = {}
        self.power_cycle()

    def power_cycle(self) -> None:
        """Power-on reset: every pin an input, latch cleared."""
        self.regs = [0] * 11
        self.regs[IODIR] = 0xFF
        self.pointer = 0
        self.history: list[tuple[bool | None, ...]] = [self.driven]

    @property
    def pins(self) -> int:
        outputs = ~self.regs[IODIR] & 0xFF
        level = (self.regs[OLAT] & outputs) | (self.inputs & ~outputs & 0xFF)
        for pin, high in self.stuck.items():
            level = level | 1 << pin if high else level & ~(1 << pin)
        return level

    @property
    def driven(self) -> tuple[bool | None, ...]:
        """Per pin: the level it drives when an output, None when it is an input."""
        pins = self.pins
        return tuple(None if self.regs[IODIR] & 1 << n else bool(pins & 1 << n) for n in range(8))

    def pin(self, n: int) -> bool:
        return bool(self.pins & 1 << n)

    def on_write(self, data: Sequence[int]) -> None:
        with self._mutex:
            if not data:
                return
            self.pointer = data[0] % 11
            for value in data[1:]:
                if not self.ignore_writes and self.pointer not in {INTF, INTCAP}:
                    # A write to GPIO writes the latch.
                    self.regs[OLAT if self.pointer == GPIO else self.pointer] = value & 0xFF
                self.pointer = (self.pointer + 1) % 11  # sequential operation (IOCON.SEQOP=0)
            if len(data) > 1:  # a register was written (not just the pointer set, for a read)
                driven = self.driven
                if driven != self.history[-1]:
                    self.history.append(driven)

    def on_read(self, length: int) -> list[int]:
        with self._mutex:
            out = []
            for _ in range(length):
                out.append(self.pins if self.pointer == GPIO else self.regs[self.pointer])
                self.pointer = (self.pointer + 1) % 11
            return out


# ------------------------------------------------------------------- PCF8575


class EmulatedPcf8575(_Chip):
    """A PCF8575 16-bit quasi-bidirectional port (a Krida EMR16 board: a low pin energises).

    Writes set the latch two bytes at a time (P00-P07, then P10-P17); reads return the pin
    levels. ``pulled_low`` are pins held low from outside, ``stuck`` pins ignore the latch.
    """

    def __init__(self) -> None:
        super().__init__()
        self.latch = 0xFFFF  # power-on: every pin high, every relay released
        self.pulled_low = 0
        self.stuck: dict[int, bool] = {}
        self.history: list[int] = [self.port]

    @property
    def port(self) -> int:
        level = self.latch & ~self.pulled_low & 0xFFFF
        for pin, high in self.stuck.items():
            level = level | 1 << pin if high else level & ~(1 << pin)
        return level

    def pin(self, n: int) -> bool:
        return bool(self.port & 1 << n)

    def on_write(self, data: Sequence[int]) -> None:
        with self._mutex:
            if self.ignore_writes:
                return
            for i, value in enumerate(data):
                if i % 2 == 0:
                    self.latch = (self.latch & 0xFF00) | (value & 0xFF)
                else:
                    self.latch = (self.latch & 0x00FF) | (value & 0xFF) << 8
            if self.port != self.history[-1]:
                self.history.append(self.port)

    def on_read(self, length: int) -> list[int]:
        with self._mutex:
            port = self.port
            return [(port >> (8 * (i % 2))) & 0xFF for i in range(length)]


# ------------------------------------------------------------------- ADS1115

CONVERSION, CONFIG, LO_THRESH, HI_THRESH = range(4)
FULL_SCALE_V = (6.144, 4.096, 2.048, 1.024, 0.512, 0.256, 0.256, 0.256)
OS_BIT = 0x8000


class EmulatedAds1115(_Chip):
    """An ADS1115: a single-shot conversion samples ``volts(ain)`` at the configured gain.

    The voltage of each input comes from ``volts`` (the simulator's physics), by default the
    values set with :meth:`set_volts` / :meth:`set_temperature`. Faults: ``busy`` (the
    conversion never finishes), ``offset_v`` (wrong values), ``answering``, ``ignore_writes``.
    """

    def __init__(self, volts: Callable[[int], float] | None = None) -> None:
        super().__init__()
        self.levels: dict[int, float] = dict.fromkeys(range(4), 2.4)
        self.volts: Callable[[int], float] = volts or self.levels.__getitem__
        self.regs = [0x0000, 0x8583, 0x8000, 0x7FFF]  # power-on values
        self.pointer = 0
        self.busy = False
        self.offset_v = 0.0
        self.conversions = 0

    def set_volts(self, ain: int, volts: float) -> None:
        self.levels[ain] = volts

    def set_temperature(self, ain: int, t_c: float, th: Thermistor | None = None) -> None:
        """Put AIN<ain> at the voltage a thermistor at ``t_c`` °C gives in its divider."""
        self.levels[ain] = divider_volts(t_c, th or Thermistor())

    def on_write(self, data: Sequence[int]) -> None:
        with self._mutex:
            if not data:
                return
            self.pointer = data[0] & 0x03
            if len(data) < 3 or self.ignore_writes:
                return
            value = (data[1] & 0xFF) << 8 | (data[2] & 0xFF)
            if self.pointer == CONFIG:
                self.regs[CONFIG] = value & ~OS_BIT
                if value & OS_BIT:
                    self._convert(value)
                else:
                    self.regs[CONFIG] |= OS_BIT
            elif self.pointer != CONVERSION:
                self.regs[self.pointer] = value

    def on_read(self, length: int) -> list[int]:
        with self._mutex:
            value = self.regs[self.pointer]
            return [(value >> 8) & 0xFF if i % 2 == 0 else value & 0xFF for i in range(length)]

    def _convert(self, config: int) -> None:
        self.conversions += 1
        mux = (config >> 12) & 0x7
        fsr = FULL_SCALE_V[(config >> 9) & 0x7]
        volts = self.volts(mux - 4) + self.offset_v if mux >= 4 else 0.0
        raw = max(-32768, min(32767, round(volts / fsr * 32768)))
        self.regs[CONVERSION] = raw & 0xFFFF
        if not self.busy:
            self.regs[CONFIG] |= OS_BIT
