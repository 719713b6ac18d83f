"""The house layout model: pure pydantic, loaded and checked with errors that name file and path."""

from scada.layout.control import ControlSettings, Zone
from scada.layout.errors import LayoutError, LayoutProblem
from scada.layout.houses import HouseEntry, find_house, houses_dir, list_houses
from scada.layout.load import load_layout, parse_layout
from scada.layout.model import (
    Actuator,
    Channel,
    Device,
    Hardware,
    House,
    Layout,
    MakeModel,
    Node,
    Quantity,
    Register,
    Role,
    Thermistor,
    Unit,
)
from scada.layout.schema import layout_json_schema
from scada.layout.simulation import SimulationSettings

__all__ = [
    "Actuator",
    "Channel",
    "ControlSettings",
    "Device",
    "Hardware",
    "House",
    "HouseEntry",
    "Layout",
    "LayoutError",
    "LayoutProblem",
    "MakeModel",
    "Node",
    "Quantity",
    "Register",
    "Role",
    "SimulationSettings",
    "Thermistor",
    "Unit",
    "Zone",
    "find_house",
    "houses_dir",
    "layout_json_schema",
    "list_houses",
    "load_layout",
    "parse_layout",
]
