"""The house layout: everything that differs between houses, as validated data.

A layout is one JSON file per house. Field-level rules live here (types, ranges,
``extra="forbid"``); rules that need the whole document (unique aliases, references,
bus clashes) live in :mod:`scada.layout.checks`.

Units are in the field names: ``_c`` degrees Celsius, ``_s`` seconds, ``_w`` watts,
``_l`` litres, ``_gpm`` US gallons per minute.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from scada.layout.control import ControlSettings
from scada.layout.simulation import SimulationSettings

ALIAS_RE = re.compile(r"^[a-z][a-z0-9]*(\.[a-z][a-z0-9]*)*$")
GNODE_RE = re.compile(r"^[a-z0-9]+(\.[a-z0-9]+)*$")
NAME_RE = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")

SCHEMA_VERSION: Literal[1] = 1


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Role(StrEnum):
    """What a node is. Covers every role of the 2022 original plus the 2025 additions."""

    ATN = "atn"
    HOME_ALONE = "home_alone"
    SCADA = "scada"
    BOOST_ELEMENT = "boost_element"
    DEDICATED_THERMAL_STORE = "dedicated_thermal_store"
    HYDRONIC_PIPE = "hydronic_pipe"
    CIRCULATOR_PUMP = "circulator_pump"
    BASEBOARD_RADIATOR = "baseboard_radiator"
    RADIATOR_FAN = "radiator_fan"
    HEATED_SPACE = "heated_space"
    OUTDOORS = "outdoors"
    TANK_WATER_TEMP_SENSOR = "tank_water_temp_sensor"
    PIPE_TEMP_SENSOR = "pipe_temp_sensor"
    ROOM_TEMP_SENSOR = "room_temp_sensor"
    OUTDOOR_TEMP_SENSOR = "outdoor_temp_sensor"
    PIPE_FLOW_METER = "pipe_flow_meter"
    POWER_METER = "power_meter"
    RELAY = "relay"
    HEAT_PUMP = "heat_pump"
    ZONE_THERMOSTAT = "zone_thermostat"
    ZONE_VALVE = "zone_valve"


class Hardware(StrEnum):
    """Whether a physical house stands behind the layout."""

    SIMULATED = "simulated"
    REAL = "real"


class MakeModel(StrEnum):
    """Hardware the drivers know. Adding a meter is adding a register table, not a class."""

    NCD_PR8_14_SPST = "ncd__pr8_14_spst"  # MCP23008 relay board on I2C
    KRIDA_EMR16_I2C = "krida__emr16_i2c_v3"  # PCF8575-style 16-relay board on I2C
    GPIO_RELAY = "gpio__relay"  # relays wired straight to Pi header pins
    ADAFRUIT_642 = "adafruit__642"  # DS18B20 probes on the Linux 1-Wire bus
    NCD_ADS1115 = "ncd__ads1115"  # ADS1115 + NTC 10k thermistors
    EGAUGE_4030 = "egauge__4030"  # Modbus TCP power meter
    SCHNEIDER_IEM3455 = "schneider__iem3455"  # Modbus RTU power meter
    PULSE_FLOW_METER = "pulse__flow_meter"  # pulse output on a GPIO input


class Quantity(StrEnum):
    WATER_TEMP = "water_temp"
    AIR_TEMP = "air_temp"
    POWER = "power"
    FLOW = "flow"
    RELAY_STATE = "relay_state"


class Unit(StrEnum):
    DEG_C = "degC"
    W = "W"
    GPM = "gpm"
    STATE = "state"


UNIT_OF: dict[Quantity, Unit] = {
    Quantity.WATER_TEMP: Unit.DEG_C,
    Quantity.AIR_TEMP: Unit.DEG_C,
    Quantity.POWER: Unit.W,
    Quantity.FLOW: Unit.GPM,
    Quantity.RELAY_STATE: Unit.STATE,
}


class Location(_Strict):
    latitude: float = Field(ge=-90, le=90)
    longitude: float = Field(ge=-180, le=180)
    address: str | None = None


class House(_Strict):
    """Identity of the house: the ATN GNode alias is the house alias."""

    alias: str
    display_name: str = Field(min_length=1)
    hardware: Hardware
    time_zone: str = "America/New_York"
    location: Location | None = None
    scada_alias: str | None = Field(
        default=None, description="The SCADA's GNode alias; defaults to '<alias>.ta.scada'."
    )

    @field_validator("alias", "scada_alias")
    @classmethod
    def _gnode_alias(cls, v: str | None) -> str | None:
        if v is not None and not GNODE_RE.match(v):
            raise ValueError(f"'{v}' is not a GNode alias (dot-separated lowercase words)")
        return v

    @property
    def scada(self) -> str:
        return self.scada_alias or f"{self.alias}.ta.scada"


class Node(_Strict):
    """A thing in the house. Its dotted alias *is* the hierarchy.

    ``a.tank.temp0`` is in ``a.tank``, so every parent must itself be a node.
    """

    alias: str
    role: Role
    display_name: str = Field(min_length=1)
    nameplate_power_w: float | None = Field(default=None, gt=0)

    @field_validator("alias")
    @classmethod
    def _alias(cls, v: str) -> str:
        if not ALIAS_RE.match(v):
            raise ValueError(f"'{v}' is not a node alias (dot-separated lowercase words)")
        return v

    @property
    def parent(self) -> str | None:
        return self.alias.rpartition(".")[0] or None


# --------------------------------------------------------------------- buses


class I2cBus(_Strict):
    kind: Literal["i2c"] = "i2c"
    bus: int = Field(default=1, ge=0, le=31, description="/dev/i2c-<bus>")
    address: int = Field(ge=0x03, le=0x77, description="7-bit I2C address")


class GpioBus(_Strict):
    kind: Literal["gpio"] = "gpio"
    chip: int = Field(default=0, ge=0)


class OneWireBus(_Strict):
    kind: Literal["one_wire"] = "one_wire"
    sysfs_root: str = "/sys/bus/w1/devices"


class ModbusTcpBus(_Strict):
    kind: Literal["modbus_tcp"] = "modbus_tcp"
    host: str
    port: int = Field(default=502, ge=1, le=65535)
    unit_id: int = Field(default=1, ge=0, le=247)
    timeout_s: float = Field(default=3.0, gt=0, le=60)


class ModbusRtuBus(_Strict):
    kind: Literal["modbus_rtu"] = "modbus_rtu"
    port: str = Field(description="Serial device, e.g. /dev/ttyUSB0")
    baud: int = Field(default=9600, ge=1200, le=115200)
    parity: Literal["N", "E", "O"] = "E"
    unit_id: int = Field(default=1, ge=1, le=247)
    timeout_s: float = Field(default=1.0, gt=0, le=60)


Bus = Annotated[
    I2cBus | GpioBus | OneWireBus | ModbusTcpBus | ModbusRtuBus, Field(discriminator="kind")
]


class Register(_Strict):
    """One entry of a Modbus register map: how to turn registers into a value."""

    name: str
    address: int = Field(ge=0, le=65535)
    type: Literal["f32", "u32", "s32", "u16", "s16", "s64"]
    word_order: Literal["big", "little"] = "big"
    scale: float = 1.0
    unit: Unit = Unit.W
    function: Literal["holding", "input"] = "input"


class Device(_Strict):
    """A physical device on a bus. Channels and actuators point at it by ``name``."""

    name: str
    make_model: MakeModel
    bus: Bus
    display_name: str | None = None
    hw_uid: str | None = None
    register_map: tuple[Register, ...] | None = Field(
        default=None, description="Modbus meters: overrides the make/model's built-in table."
    )
    pulses_per_gallon: float | None = Field(default=None, gt=0)

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not NAME_RE.match(v):
            raise ValueError(f"'{v}' is not a device name (lowercase words joined by '-')")
        return v


# ------------------------------------------------------------------ channels


class Thermistor(_Strict):
    """An NTC thermistor in a divider: R_t = R_d * V / (V_s - V)."""

    r0_ohm: float = Field(default=10_000.0, gt=0)
    t0_c: float = 25.0
    beta: float | None = Field(default=3977.0, gt=0)
    steinhart_hart: tuple[float, float, float] | None = None
    divider_ohm: float = Field(default=10_000.0, gt=0)
    supply_v: float = Field(default=4.85, gt=0, le=6.2)


class Channel(_Strict):
    """A stream of readings: what is measured, where, how often and what is plausible."""

    name: str
    node: str = Field(description="Alias of the node this channel is about.")
    device: str = Field(description="Name of the device that produces it.")
    quantity: Quantity
    unit: Unit
    device_channel: int | None = Field(
        default=None, ge=0, description="ADC input, GPIO pin or relay index on the device."
    )
    hw_id: str | None = Field(
        default=None,
        description=(
            "DS18B20 (1-Wire) channels: the sensor's sysfs folder name under "
            "/sys/bus/w1/devices, i.e. family code 28, a dash and the 48-bit serial as "
            "12 lowercase hex digits, e.g. '28-000000033ffe'. The 2022 layouts' HwUid is "
            "the last 8 of those digits ('00033ffe')."
        ),
    )
    register_name: str | None = Field(default=None, description="Modbus register name.")
    thermistor: Thermistor | None = None
    sample_period_s: float = Field(default=5.0, ge=0.05, le=3600)
    report_on_change: float | None = Field(
        default=None,
        gt=0,
        description="Absolute change that triggers a report (unit of the channel).",
    )
    plausible_range: tuple[float, float]
    tank_layer: int | None = Field(default=None, ge=0, description="0 = top of the tank.")

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not NAME_RE.match(v):
            raise ValueError(f"'{v}' is not a channel name (lowercase words joined by '-')")
        return v

    @field_validator("unit")
    @classmethod
    def _unit_of_quantity(cls, v: Unit, info: ValidationInfo) -> Unit:
        quantity = info.data.get("quantity")
        if isinstance(quantity, Quantity) and UNIT_OF[quantity] != v:
            raise ValueError(
                f"a {quantity.value} channel is measured in {UNIT_OF[quantity].value}, "
                f"not {v.value}"
            )
        return v

    @field_validator("plausible_range")
    @classmethod
    def _range_not_empty(cls, v: tuple[float, float]) -> tuple[float, float]:
        lo, hi = v
        if not lo < hi:
            raise ValueError(f"[{lo:g}, {hi:g}] is empty: the low end must be below the high end")
        return v


# ----------------------------------------------------------------- actuators


class Actuator(_Strict):
    """A relay. ``node`` is the relay's own node; ``drives`` the node it switches."""

    node: str
    drives: str
    device: str
    board_channel: int = Field(
        ge=0, le=31, description="Relay index on the board, or BCM pin for GPIO."
    )
    contact: Literal["normally_open", "normally_closed"] = "normally_open"
    active_low: bool = False
    min_on_s: float = Field(default=0.0, ge=0, le=3600)
    min_off_s: float = Field(default=0.0, ge=0, le=3600)
    response_time_s: float = Field(default=0.2, ge=0, le=10)

    @property
    def de_energized_state(self) -> Literal["on", "off"]:
        """What the driven load does when the coil is not energized (power lost, SCADA down)."""
        return "off" if self.contact == "normally_open" else "on"


# -------------------------------------------------------------------- layout


class Layout(_Strict):
    """One house: identity, nodes, devices, channels, actuators, control and simulation."""

    schema_version: Literal[1] = SCHEMA_VERSION
    house: House
    nodes: tuple[Node, ...] = Field(min_length=1)
    devices: tuple[Device, ...] = ()
    channels: tuple[Channel, ...] = ()
    actuators: tuple[Actuator, ...] = ()
    control: ControlSettings
    simulation: SimulationSettings | None = None

    def node(self, alias: str) -> Node:
        for n in self.nodes:
            if n.alias == alias:
                return n
        raise KeyError(alias)

    def device(self, name: str) -> Device:
        for d in self.devices:
            if d.name == name:
                return d
        raise KeyError(name)

    def channel(self, name: str) -> Channel:
        for c in self.channels:
            if c.name == name:
                return c
        raise KeyError(name)

    def actuator(self, node: str) -> Actuator:
        for a in self.actuators:
            if a.node == node:
                return a
        raise KeyError(node)

    @property
    def simulated(self) -> bool:
        return self.house.hardware is Hardware.SIMULATED
