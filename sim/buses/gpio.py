"""GPIO for the emulated house: gpiozero's ``MockFactory`` with pins that can fail.

:class:`MockGpio` owns one mock pin factory. Relays on header pins are gpiozero output devices
on its pins; flow meters are inputs that :meth:`MockGpio.pulse_train` drives. Each pin is a
:class:`FaultyMockPin`: ``stuck`` holds it at a level whatever is written (a welded contact, a
dead driver transistor), ``dead`` makes every access fail like a pin library error.
"""

from __future__ import annotations

import errno
from collections.abc import Callable
from typing import Any

from gpiozero.pins.mock import MockFactory, MockPin


class FaultyMockPin(MockPin):  # type: ignore[misc]  # gpiozero is untyped
    """A mock pin with fault injection."""

    def __init__(self, factory: Any, info: Any) -> None:
        self.stuck: bool | None = None
        self.dead = False
        self.writes: list[bool] = []
        #: Where a flow meter driver counts pulses in bulk (see ``scada.drivers.pulse_flow``).
        self.pulse_counter: Callable[[int], None] | None = None
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
        # The factory keeps one pin per number, found through its board info on each ask (the
        # physics asks for every relay and flow meter pin at every step).
        self._pins: dict[int, FaultyMockPin] = {}

    def pin(self, number: int) -> FaultyMockPin:
        pin = self._pins.get(number)
        if pin is None:
            pin = self._pins[number] = self.factory.pin(number)
        return pin

    def level(self, number: int) -> bool:
        return bool(self.pin(number).state)

    def stick(self, number: int, level: bool | None) -> None:
        """Hold pin ``number`` at ``level`` whatever is written (None: release it)."""
        self.pin(number).stuck = level

    def kill(self, number: int, dead: bool = True) -> None:
        """Every access to pin ``number`` fails (or works again)."""
        self.pin(number).dead = dead

    def pulse_train(
        self, number: int, count: int, *, active_low: bool = True, bulk: bool = False
    ) -> None:
        """``count`` pulses on input pin ``number``: each a swing to the active level and back.

        Each edge reaches the pin's ``when_changed`` handler (the input device's, as from
        :meth:`MockPin.drive_low` / ``drive_high``), but without MockPin's per-edge history: a
        1111-pulse/gal meter makes millions of edges a simulated day, and that list only grew.
        ``bulk``: a pin at rest whose driver counts through :attr:`FaultyMockPin.pulse_counter`
        gets the whole train there at once (the pin ends where it started either way).
        """
        if count <= 0:
            return
        pin = self.pin(number)
        active, idle = (False, True) if active_low else (True, False)
        counter = pin.pulse_counter
        if (
            bulk
            and counter is not None
            and active_low  # the driver counts falling edges on pulled-up pins
            and not pin.dead
            and pin.stuck is None
            and bool(pin.state) is idle
        ):
            counter(count)
            return
        if bool(pin.state) is not idle:
            (pin.drive_high if idle else pin.drive_low)()
        handler = pin.when_changed
        edges = pin.edges
        to_active = handler is not None and edges in ("both", "rising" if active else "falling")
        to_idle = handler is not None and edges in ("both", "rising" if idle else "falling")
        ticks = pin.factory.ticks()
        for _ in range(count):
            pin._state = active  # noqa: SLF001 - the mock's level, set as drive_low/high do
            if to_active:
                handler(ticks, active)
            pin._state = idle  # noqa: SLF001
            if to_idle:
                handler(ticks, idle)

    def close(self) -> None:
        self._pins.clear()
        self.factory.close()
