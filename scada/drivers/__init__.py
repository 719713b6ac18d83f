"""Hardware seams, the typed driver errors, and the driver families behind them."""

from scada.drivers.base import ChannelValue, RelayBoard, SensorDevice
from scada.drivers.errors import (
    BusMissingError,
    DeviceGarbageError,
    DeviceRefusedError,
    DeviceTimeoutError,
    DriverError,
    NotYetMeasuredError,
    ReadBackMismatchError,
)

__all__ = [
    "BusMissingError",
    "ChannelValue",
    "DeviceGarbageError",
    "DeviceRefusedError",
    "DeviceTimeoutError",
    "DriverError",
    "NotYetMeasuredError",
    "ReadBackMismatchError",
    "RelayBoard",
    "SensorDevice",
]
