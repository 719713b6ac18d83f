"""The typed error tree at the hardware boundary. Third-party exceptions never pass above it."""

from __future__ import annotations


class DriverError(Exception):
    """A device could not do what was asked. ``device`` names it; ``reason`` says why."""

    def __init__(self, device: str, reason: str) -> None:
        self.device = device
        self.reason = reason
        super().__init__(f"{device}: {reason}")


class BusMissingError(DriverError):
    """The bus the layout names does not exist on this machine (no /dev/i2c-1, no serial port)."""


class DeviceTimeoutError(DriverError):
    """The device did not answer in time."""


class DeviceGarbageError(DriverError):
    """The device answered with something that is not a reading (bad CRC, short read, 85 °C)."""


class DeviceRefusedError(DriverError):
    """The device answered with an error (a Modbus exception response, a NAK)."""


class NotYetMeasuredError(DriverError):
    """Nothing is wrong, there is just no value yet: a rate read at the instant its count
    began has no interval to measure over. The caller waits for the next read."""


class ReadBackMismatchError(DriverError):
    """A relay was written but reading it back shows the other state."""
