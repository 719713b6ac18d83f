"""Relays wired straight to Raspberry Pi header pins, through gpiozero.

The board channel of each actuator is its BCM pin number; ``active_low`` says the relay
energises when the pin is low. Opening claims each pin as an output with
``initial_value=None``, i.e. the pin keeps the level it has: opening never switches a load
(defect 35). Each switch is confirmed by reading the pin back (defect 36).

Pin operations are fast register or ioctl calls, so they run inline. Every gpiozero or pin
library exception becomes a :class:`~scada.drivers.errors.DriverError` naming the device.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any, TypeVar

from gpiozero import DigitalOutputDevice
from gpiozero.exc import BadPinFactory

from scada.drivers.buses import Buses
from scada.drivers.errors import (
    BusMissingError,
    DeviceRefusedError,
    DriverError,
    ReadBackMismatchError,
)
from scada.layout import Actuator, Device

T = TypeVar("T")


def gpio_call(device: str, what: str, fn: Callable[[], T]) -> T:
    """Run a gpiozero call; its exceptions become typed driver errors naming ``device``."""
    try:
        return fn()
    except DriverError:
        raise
    except BadPinFactory as e:
        raise BusMissingError(device, f"no GPIO pins on this machine ({e})") from None
    except Exception as e:  # the boundary: no third-party exception passes
        raise DeviceRefusedError(device, f"{what}: {type(e).__name__}: {e}") from e


class GpioRelayBoard:
    """A :class:`~scada.drivers.base.RelayBoard` whose channels are BCM pins.

    Args:
        device: the layout device (a ``gpio`` bus).
        actuators: the layout actuators; those on ``device`` name the pins (``board_channel``)
            and their polarity (``active_low``).
        buses: gives the gpiozero pin factory (the Pi's, or mock pins).
    """

    def __init__(self, device: Device, actuators: Sequence[Actuator], buses: Buses) -> None:
        self.name = device.name
        self._buses = buses
        self._active_low = {
            a.board_channel: a.active_low for a in actuators if a.device == device.name
        }
        self._pins: dict[int, Any] = {}

    async def open(self) -> None:
        if self._pins:
            return
        factory = gpio_call(self.name, "finding the pin factory", self._buses.gpio_pin_factory)
        try:
            for pin, low in sorted(self._active_low.items()):
                # initial_value=None: the pin keeps its level, so opening switches nothing.
                claim = partial(
                    DigitalOutputDevice,
                    pin,
                    active_high=not low,
                    initial_value=None,
                    pin_factory=factory,
                )
                self._pins[pin] = gpio_call(self.name, f"claiming GPIO{pin}", claim)
        except DriverError:
            await self.close()
            raise

    async def write(self, channel: int, energized: bool) -> None:
        out = await self._pin(channel)

        def switch() -> bool:
            out.value = energized
            return bool(out.value)

        seen = gpio_call(self.name, f"switching GPIO{channel}", switch)
        if seen != energized:
            want = "energized" if energized else "released"
            raise ReadBackMismatchError(
                self.name, f"GPIO{channel} was {want} but reads back the other way (stuck pin?)"
            )

    async def read(self, channel: int) -> bool:
        out = await self._pin(channel)
        return gpio_call(self.name, f"reading GPIO{channel}", lambda: bool(out.value))

    async def read_all(self, channels: Sequence[int]) -> dict[int, bool]:
        return {ch: await self.read(ch) for ch in channels}

    async def close(self) -> None:
        pins, self._pins = self._pins, {}
        for pin, out in pins.items():
            with contextlib.suppress(DriverError):  # a pin that cannot be released is gone
                gpio_call(self.name, f"releasing GPIO{pin}", out.close)

    async def _pin(self, channel: int) -> Any:
        if channel not in self._active_low:
            raise DriverError(self.name, f"GPIO{channel} is not a relay of this device")
        if not self._pins:
            await self.open()
        return self._pins[channel]
