"""NTC thermistors on an ADS1115 16-bit ADC over I2C (2022 NCD boards, 2025 TSnap1 boards).

Each input AIN0-AIN3 sits in a divider: the fixed resistor R_d from the supply V_s to the ADC
node, the thermistor from the node to ground, so R_t = R_d · V / (V_s - V). The temperature is
the layout's :class:`~scada.layout.Thermistor` model: Steinhart-Hart when it gives
coefficients, else the beta equation. Everything is °C (no Fahrenheit anywhere, defect 19).

A reading that is not a temperature is an error for that channel, never a number (defect 17):
an open thermistor pulls the node up to the supply (V ≥ V_s - 0.15 V), a short pulls it to 0 V.

One conversion: write the config register (0x01: start, single-ended MUX for the input, PGA,
single-shot, 128 SPS, comparator off), wait the conversion time (not when the buses are
emulated), check the config's OS bit says done, read the conversion register (0x00). The chip
lock is held for the whole conversion; the bus lock only for each transaction, so relays on
the same bus are not held up by the ~9 ms wait.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from scada.drivers.base import ChannelValue
from scada.drivers.buses import Buses, SMBusLike
from scada.drivers.errors import DeviceGarbageError, DeviceTimeoutError, DriverError
from scada.drivers.i2c_io import I2cEndpoint, pause
from scada.layout import Channel, Device, Thermistor

CONVERSION = 0x00
CONFIG = 0x01

OS_START = 0x8000  # write: start a conversion; read: 1 = no conversion in progress
MODE_SINGLE = 0x0100
COMP_DISABLE = 0x0003
MUX_MASK = 0x7000
PGA_MASK = 0x0E00

#: Full-scale range (±V) → PGA bits [11:9].
PGA_BITS: dict[float, int] = {6.144: 0, 4.096: 1, 2.048: 2, 1.024: 3, 0.512: 4, 0.256: 5}
#: Samples per second → DR bits [7:5].
DATA_RATE_BITS: dict[int, int] = {8: 0, 16: 1, 32: 2, 64: 3, 128: 4, 250: 5, 475: 6, 860: 7}

KELVIN = 273.15
OPEN_MARGIN_V = 0.15  # open thermistor: the node sits within this of the supply
SHORT_V = 0.03  # shorted thermistor: the node sits at ground (150 °C would still read ~0.09 V)
DONE_POLLS = 3  # config reads waiting for the OS bit before the conversion is given up


def config_word(ain: int, full_scale_v: float = 6.144, sps: int = 128) -> int:
    """The config register value that starts a single-shot conversion of AIN<ain> vs GND."""
    return (
        OS_START
        | (0b100 + ain) << 12
        | PGA_BITS[full_scale_v] << 9
        | MODE_SINGLE
        | DATA_RATE_BITS[sps] << 5
        | COMP_DISABLE
    )


def raw_to_volts(raw: int, full_scale_v: float) -> float:
    """The conversion register (16-bit two's complement) in volts."""
    signed = raw - 0x10000 if raw & 0x8000 else raw
    return signed * full_scale_v / 32768


def divider_fault(volts: float, th: Thermistor) -> str | None:
    """Why ``volts`` is not a thermistor reading (open, short), or None when it is one."""
    if volts >= th.supply_v - OPEN_MARGIN_V:
        return (
            f"open thermistor: {volts:.3f} V is within {OPEN_MARGIN_V} V of the "
            f"{th.supply_v} V supply (probe unplugged or wire broken)"
        )
    if volts <= SHORT_V:
        return f"shorted thermistor: {volts:.3f} V at the divider (probe or wire shorted)"
    return None


def thermistor_ohms(volts: float, th: Thermistor) -> float:
    """R_t = R_d · V / (V_s - V)."""
    return th.divider_ohm * volts / (th.supply_v - volts)


def ohms_to_celsius(ohms: float, th: Thermistor) -> float:
    """Steinhart-Hart when the layout gives coefficients, else the beta equation."""
    if th.steinhart_hart is not None:
        a, b, c = th.steinhart_hart
        ln_r = math.log(ohms)
        return 1.0 / (a + b * ln_r + c * ln_r**3) - KELVIN
    if th.beta is None:
        raise ValueError("a thermistor needs beta or Steinhart-Hart coefficients")
    return 1.0 / (1.0 / (th.t0_c + KELVIN) + math.log(ohms / th.r0_ohm) / th.beta) - KELVIN


class Ads1115Thermistors:
    """A :class:`~scada.drivers.base.SensorDevice`: NTC thermistors on one ADS1115.

    Args:
        device: the layout device (its I2C bus and address).
        channels: the layout channels of ``device``; ``device_channel`` is the input (0-3),
            ``thermistor`` the divider and model (the layout's defaults when absent).
        buses: where to find ``/dev/i2c-<bus>``.
        full_scale_v: the PGA range; it must cover the supply so an open probe is seen.
        sps: samples per second (sets the conversion wait).
    """

    def __init__(
        self,
        device: Device,
        channels: Sequence[Channel],
        buses: Buses,
        *,
        full_scale_v: float = 6.144,
        sps: int = 128,
    ) -> None:
        if full_scale_v not in PGA_BITS:
            raise ValueError(f"{device.name}: no PGA range ±{full_scale_v} V on an ADS1115")
        if sps not in DATA_RATE_BITS:
            raise ValueError(f"{device.name}: no data rate {sps} SPS on an ADS1115")
        self.name = device.name
        self._io = I2cEndpoint(device, buses)
        self._buses = buses
        self._fsr = full_scale_v
        self._sps = sps
        self._inputs: dict[str, tuple[int, Thermistor]] = {}
        for ch in channels:
            if ch.device != device.name:
                continue
            if ch.device_channel is None or not 0 <= ch.device_channel <= 3:
                raise ValueError(f"{ch.name}: an ADS1115 channel needs device_channel 0-3")
            th = ch.thermistor or Thermistor()
            if th.beta is None and th.steinhart_hart is None:
                raise ValueError(f"{ch.name}: the thermistor needs beta or Steinhart-Hart")
            if th.supply_v > full_scale_v:
                raise ValueError(
                    f"{ch.name}: ±{full_scale_v} V cannot see the {th.supply_v} V supply, "
                    "so an open thermistor would read as a cold one"
                )
            self._inputs[ch.name] = (ch.device_channel, th)

    @property
    def conversion_s(self) -> float:
        """How long one conversion takes, with the datasheet's 10 % rate tolerance and 1 ms."""
        return 1.1 / self._sps + 0.001

    async def open(self) -> None:
        await self._io.transact("reading the config register", self._read_config)

    async def read(self, channels: Sequence[str]) -> Mapping[str, ChannelValue]:
        out: dict[str, ChannelValue] = {}
        for name in channels:
            spec = self._inputs.get(name)
            if spec is None:
                out[name] = DriverError(self.name, f"channel {name} is not on this device")
                continue
            ain, th = spec
            volts = await self.read_volts(ain)
            fault = divider_fault(volts, th)
            if fault is not None:
                out[name] = DeviceGarbageError(self.name, f"{name} (AIN{ain}): {fault}")
            else:
                out[name] = round(ohms_to_celsius(thermistor_ohms(volts, th), th), 3)
        return out

    async def read_volts(self, ain: int) -> float:
        """One single-shot conversion of AIN<ain> against ground, in volts."""
        config = config_word(ain, self._fsr, self._sps)
        if self._io.emulated:
            # Emulated transactions and pauses never suspend, so nothing can come between the
            # conversion's start and its result, and the chip's lock would always be free.
            seen, raw = await self._convert(ain, config)
        else:
            async with self._io.chip_lock():
                seen, raw = await self._convert(ain, config)
        if seen & (MUX_MASK | PGA_MASK) != config & (MUX_MASK | PGA_MASK):
            raise DeviceGarbageError(
                self.name,
                f"config reads 0x{seen:04x} after writing 0x{config:04x} at {self._io.where} "
                "(is this an ADS1115?)",
            )
        return raw_to_volts(raw, self._fsr)

    async def _convert(self, ain: int, config: int) -> tuple[int, int]:
        """Start AIN<ain> with ``config`` and wait for its result: (config register seen with
        it, conversion register). The caller holds the chip."""
        data = [config >> 8, config & 0xFF]
        await self._io.transact(
            f"starting AIN{ain}",
            lambda bus: bus.write_i2c_block_data(self._io.address, CONFIG, data),
        )
        for _ in range(DONE_POLLS):
            await pause(self._buses, self.conversion_s)
            seen, raw = await self._io.transact(f"reading AIN{ain}", self._read_result)
            if seen & OS_START:
                return seen, raw
        raise DeviceTimeoutError(
            self.name, f"AIN{ain} conversion never finished at {self._io.where}"
        )

    async def close(self) -> None:
        self._io.close()

    def _read_config(self, bus: SMBusLike) -> int:
        msb, lsb = bus.read_i2c_block_data(self._io.address, CONFIG, 2)
        return msb << 8 | lsb

    def _read_result(self, bus: SMBusLike) -> tuple[int, int]:
        config = self._read_config(bus)
        msb, lsb = bus.read_i2c_block_data(self._io.address, CONVERSION, 2)
        return config, msb << 8 | lsb
