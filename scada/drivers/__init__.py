"""Hardware seams, the typed driver errors, and the driver families behind them."""

from scada.drivers.base import ChannelValue, RelayBoard, SensorDevice
from scada.drivers.errors import (
    BusMissing,
    DeviceGarbage,
    DeviceRefused,
    DeviceTimeout,
    DriverError,
    ReadBackMismatch,
)

__all__ = [
    "BusMissing",
    "ChannelValue",
    "DeviceGarbage",
    "DeviceRefused",
    "DeviceTimeout",
    "DriverError",
    "ReadBackMismatch",
    "RelayBoard",
    "SensorDevice",
]
