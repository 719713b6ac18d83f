"""GPIO for the emulated house: gpiozero's ``MockFactory`` with pins that can fail.

:class:`MockGpio` owns one mock pin factory. Relays on header pins are gpiozero output devices
on its pins; flow meters are inputs that :meth:`MockGpio.pulse_train` drives. Each pin is a
:class:`FaultyMockPin`: ``stuck`` holds it at a level whatever is written (a welded contact, a
dead driver transistor), ``dead`` makes every access fail like a pin library error.
"""

from __future__ import annotations

import errno
from typing import Any

from gpiozero.pins.mock import MockFactory, MockPin


class FaultyMockPin(MockPin):  # type: ignore[misc]  # gpiozero is untyped
    """A mock pin with fault injection."""

    def __init__(self, factory: Any, info: Any) -> None:
        self.stuck: bool | None = None
        self.dead = False
        self.writes: list[bool] = []
        super().__init__(factory, info)

    def _get_state(self) -> bool:
        if self.dead:
            raise OSError(errno.EIO, f"GPIO{self.info.name}: input/output error")
        if self.stuck is not None:
            return self.stuck
        return bool(super()._get_state())

    def _set_state(self, value: Any) -> None:
        if self.dead:
            raise OSError(errno.EIO, f"GPIO{self.info.name}: input/output error")
        self.writes.append(bool(value))
        if self.stuck is None:
            super()._set_state(value)


class MockGpio:
    """The header pins of an emulated Pi."""

    def __init__(self) -> None:
        self.factory = MockFactory(pin_class=FaultyMockPin)

    def pin(self, number: int) -> FaultyMockPin:
        pin: FaultyMockPin = self.factory.pin(number)
        return pin

    def level(self, number: int) -> bool:
        return bool(self.pin(number).state)

    def stick(self, number: int, level: bool | None) -> None:
        """Hold pin ``number`` at ``level`` whatever is written (None: release it)."""
        self.pin(number).stuck = level

    def kill(self, number: int, dead: bool = True) -> None:
        """Every access to pin ``number`` fails (or works again)."""
        self.pin(number).dead = dead

    def pulse_train(self, number: int, count: int, *, active_low: bool = True) -> None:
        """``count`` pulses on input pin ``number``: each a swing to the active level and back."""
        pin = self.pin(number)
        for _ in range(count):
            if active_low:
                pin.drive_low()
                pin.drive_high()
            else:
                pin.drive_high()
                pin.drive_low()

    def close(self) -> None:
        self.factory.close()
