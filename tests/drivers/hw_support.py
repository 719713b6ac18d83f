"""Layout pieces and a clock for the I2C, GPIO and 1-Wire driver tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from scada.layout import Actuator, Channel, Device, MakeModel, Quantity, Thermistor, Unit
from scada.layout.model import GpioBus, I2cBus, OneWireBus


def i2c_device(
    name: str = "relay-board",
    make: MakeModel = MakeModel.NCD_PR8_14_SPST,
    *,
    bus: int = 1,
    address: int = 0x20,
) -> Device:
    return Device(name=name, make_model=make, bus=I2cBus(bus=bus, address=address))


def one_wire_device(name: str = "probes") -> Device:
    return Device(name=name, make_model=MakeModel.ADAFRUIT_642, bus=OneWireBus())


def gpio_device(
    name: str = "gpio-relays",
    make: MakeModel = MakeModel.GPIO_RELAY,
    pulses_per_gallon: float | None = None,
) -> Device:
    return Device(name=name, make_model=make, bus=GpioBus(), pulses_per_gallon=pulses_per_gallon)


def relay(device: Device, channel: int, *, active_low: bool = False) -> Actuator:
    return Actuator(
        node=f"a.r{channel}.relay",
        drives=f"a.r{channel}",
        device=device.name,
        board_channel=channel,
        active_low=active_low,
    )


def temp_channel(
    name: str,
    device: Device,
    *,
    ain: int | None = None,
    hw_id: str | None = None,
    thermistor: Thermistor | None = None,
) -> Channel:
    return Channel(
        name=name,
        node="a.tank",
        device=device.name,
        quantity=Quantity.WATER_TEMP,
        unit=Unit.DEG_C,
        device_channel=ain,
        hw_id=hw_id,
        thermistor=thermistor,
        plausible_range=(-40.0, 120.0),
    )


def flow_channel(name: str, device: Device, pin: int) -> Channel:
    return Channel(
        name=name,
        node="a.pipe",
        device=device.name,
        quantity=Quantity.FLOW,
        unit=Unit.GPM,
        device_channel=pin,
        plausible_range=(0.0, 20.0),
    )


class ManualClock:
    """A clock that moves only when told to."""

    def __init__(self) -> None:
        self.t = 1000.0

    def now(self) -> datetime:
        return datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=self.t)

    def monotonic(self) -> float:
        return self.t

    async def sleep(self, seconds: float) -> None:
        self.t += max(0.0, seconds)

    def advance(self, seconds: float) -> None:
        self.t += seconds
