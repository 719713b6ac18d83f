"""Hardware seams: what the runtime needs of a device, whatever drives it.

Two shapes cover every device of a house: a :class:`SensorDevice` produces readings for its
channels (temperature inputs, power meters, flow meters), and a :class:`RelayBoard` switches and
reads back relays by board channel. Real drivers, bus-emulated drivers and in-memory drivers all
implement these. Every method may raise only :class:`~scada.drivers.errors.DriverError`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol, runtime_checkable

from scada.drivers.errors import DriverError

#: A channel's outcome on one poll: its value in the channel's unit, or why there is none.
ChannelValue = float | DriverError


@runtime_checkable
class SensorDevice(Protocol):
    """A device that produces readings (thermistor board, 1-Wire bus, power meter, flow meter)."""

    name: str

    async def open(self) -> None:
        """Prepare the device (open the bus, configure the chip). Idempotent."""
        ...

    async def read(self, channels: Sequence[str]) -> Mapping[str, ChannelValue]:
        """Read ``channels`` (channel names of this device).

        A failure of one channel (a dead probe) is that channel's value; a failure of the whole
        device (bus gone, meter silent) raises :class:`DriverError`.
        """
        ...

    async def close(self) -> None: ...


@runtime_checkable
class RelayBoard(Protocol):
    """A board of relays addressed by board channel (0-based)."""

    name: str

    async def open(self) -> None: ...

    async def write(self, channel: int, energized: bool) -> None:
        """Energize or release one relay coil without disturbing the others."""
        ...

    async def read(self, channel: int) -> bool:
        """Whether the relay coil is energized, read back from the hardware."""
        ...

    async def read_all(self, channels: Sequence[int]) -> dict[int, bool]:
        """:meth:`read` of each of ``channels``, in one transaction where the board allows:
        the periodic read-back of a whole board is one bus read, not one per relay."""
        ...

    async def close(self) -> None: ...
