"""What every I2C driver shares: one lock per physical bus, the thread hop, the error mapping.

* **One lock per physical bus** (:func:`bus_lock`), shared by every driver object on that bus:
  a read-modify-write of a relay latch is never interleaved with another one, whichever board
  or relay it is for (defect 2 of the original: per-relay drivers, no shared lock).
* **One lock per chip** (:func:`chip_lock`) for sequences that must not interleave on one chip
  but need not hold the whole bus, such as an ADS1115 conversion (start, wait, read).
* **The thread hop** (:meth:`I2cEndpoint.transact`): smbus calls block in the kernel, so on
  real buses a group of them runs in a worker thread, holding the bus lock until the thread is
  done even when its caller is cancelled; on emulated buses they run inline, because a thread
  hop would let a virtual-time loop jump while the call is in flight.
* **The error boundary**: an ``OSError`` from the kernel (errno 121 *Remote I/O error* is the
  I2C NAK: nobody at that address) or any other exception of the bus library becomes a
  :class:`~scada.drivers.errors.DriverError` naming the layout device.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import weakref
from collections.abc import Callable
from typing import Any, TypeVar

from scada.drivers.buses import Buses, SMBusLike
from scada.drivers.errors import BusMissingError, DeviceTimeoutError, DriverError
from scada.layout import Device
from scada.layout.model import I2cBus

T = TypeVar("T")

_LoopLocks = dict[tuple[int, int | None], asyncio.Lock]
_LOCKS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopLocks] = (
    weakref.WeakKeyDictionary()
)

#: errno values that mean "the chip did not answer" rather than "the chip said something odd".
NO_ANSWER = frozenset({errno.EREMOTEIO, errno.ENXIO, errno.ETIMEDOUT, errno.EIO, errno.EAGAIN})


def _lock(key: tuple[int, int | None]) -> asyncio.Lock:
    # asyncio locks belong to one event loop, so the registry is per loop (each test has its own).
    per_loop = _LOCKS.setdefault(asyncio.get_running_loop(), {})
    lock = per_loop.get(key)
    if lock is None:
        lock = per_loop[key] = asyncio.Lock()
    return lock


def bus_lock(bus: int) -> asyncio.Lock:
    """The lock of I2C bus ``bus`` (``/dev/i2c-<bus>``): one per physical bus, process-wide."""
    return _lock((bus, None))


def chip_lock(bus: int, address: int) -> asyncio.Lock:
    """The lock of the chip at ``address`` on ``bus``."""
    return _lock((bus, address))


def i2c_settings(device: Device) -> I2cBus:
    """The I2C bus settings of ``device``; ``TypeError`` when the layout puts it elsewhere."""
    if not isinstance(device.bus, I2cBus):
        raise TypeError(f"{device.name}: {device.make_model.value} needs an i2c bus")
    return device.bus


class I2cEndpoint:
    """One chip on one bus, as a driver sees it: open the bus, run calls, map errors."""

    def __init__(self, device: Device, buses: Buses) -> None:
        settings = i2c_settings(device)
        self.name = device.name
        self.bus_no = settings.bus
        self.address = settings.address
        self._buses = buses
        self._bus: SMBusLike | None = None
        # The locks of the loop last asked for: a registry lookup per transaction is a cost a
        # simulated house pays millions of times.
        self._locks: tuple[asyncio.AbstractEventLoop, asyncio.Lock, asyncio.Lock] | None = None

    @property
    def where(self) -> str:
        return f"0x{self.address:02x} on i2c-{self.bus_no}"

    @property
    def emulated(self) -> bool:
        return self._buses.emulated

    def bus_lock(self) -> asyncio.Lock:
        return self._loop_locks()[1]

    def chip_lock(self) -> asyncio.Lock:
        return self._loop_locks()[2]

    def _loop_locks(self) -> tuple[asyncio.AbstractEventLoop, asyncio.Lock, asyncio.Lock]:
        loop = asyncio.get_running_loop()
        locks = self._locks
        if locks is None or locks[0] is not loop:
            locks = self._locks = (
                loop,
                bus_lock(self.bus_no),
                chip_lock(self.bus_no, self.address),
            )
        return locks

    def open(self) -> SMBusLike:
        """The open bus (opened on first use). A missing bus names this device and the path."""
        if self._bus is None:
            try:
                self._bus = self._buses.i2c(self.bus_no)
            except BusMissingError as e:
                raise BusMissingError(self.name, e.reason) from None
        return self._bus

    def close(self) -> None:
        bus, self._bus = self._bus, None
        if bus is not None:
            with contextlib.suppress(OSError):  # a bus that is already gone needs no closing
                bus.close()

    async def transact(self, what: str, fn: Callable[[SMBusLike], T]) -> T:
        """Run ``fn(bus)`` as one uninterrupted group of transactions: in a worker thread under
        the bus lock on real buses, inline on emulated ones. ``what`` says what the group
        was for ("switching relay 2"), for the error's reason. A worker thread cannot be
        stopped: when the caller is cancelled (a timeout) the bus stays locked until the thread
        is done, so no other read-modify-write can start in the middle of this one.
        """
        bus = self.open()
        if self._buses.emulated:
            # Inline, so uninterrupted without the lock: nothing else can run meanwhile, and as
            # no transaction ever waits here holding it, the lock would always be free (a
            # simulated house makes tens of thousands of these a day).
            return self._guarded(what, fn, bus)
        lock = self.bus_lock()
        await lock.acquire()
        work = asyncio.ensure_future(asyncio.to_thread(self._guarded, what, fn, bus))
        try:
            result = await asyncio.shield(work)
        except asyncio.CancelledError:
            work.add_done_callback(_release_when_done(lock))
            raise
        except BaseException:
            lock.release()
            raise
        lock.release()
        return result

    def _guarded(self, what: str, fn: Callable[[SMBusLike], T], bus: SMBusLike) -> T:
        try:
            return fn(bus)
        except DriverError:
            raise
        except OSError as e:
            raise self.os_error(what, e) from None
        except Exception as e:  # the boundary: no third-party exception passes above it
            raise DriverError(self.name, f"{what} at {self.where}: {type(e).__name__}: {e}") from e

    def os_error(self, what: str, e: OSError) -> DriverError:
        text = e.strerror or str(e)
        if e.errno in NO_ANSWER:
            return DeviceTimeoutError(self.name, f"no answer at {self.where} {what} ({text})")
        return DeviceTimeoutError(
            self.name, f"bus error at {self.where} {what} (errno {e.errno}: {text})"
        )


def _release_when_done(lock: asyncio.Lock) -> Callable[[asyncio.Future[Any]], None]:
    def release(work: asyncio.Future[Any]) -> None:
        lock.release()
        if not work.cancelled():
            work.exception()  # retrieved: its caller was cancelled and will never see it

    return release


async def pause(buses: Buses, seconds: float) -> None:
    """Wait for a chip (an ADC conversion); no wait at all when the buses are emulated."""
    if not buses.emulated:
        await asyncio.sleep(seconds)
