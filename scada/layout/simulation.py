"""Physical parameters for running a house on the simulator (thermal properties, profiles).

Every field has a default, so a house file needs only what differs from a typical house; the
simulator (``sim/house``) documents how each one enters the physics.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field


class SimulationSettings(BaseModel):
    """How the simulated house behaves. Profiles are file names under ``input_data/profiles/``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    tank_volume_l: float = Field(default=450.0, gt=10, le=20_000)
    tank_loss_w_per_k: float = Field(default=3.0, ge=0, le=100)
    tank_layers: int | None = Field(
        default=None,
        ge=4,
        le=50,
        description=(
            "Layers of the simulated tank; default: one per tank sensor "
            "(control.tank_layers), at least 4."
        ),
    )
    house_loss_w_per_k: float = Field(default=180.0, gt=0, le=5_000, description="Envelope UA.")
    house_heat_capacity_kj_per_k: float = Field(default=8_000.0, gt=0)
    radiator_w_per_k: float = Field(default=250.0, gt=0, le=10_000, description="Emitter UA.")
    distribution_flow_gpm: float = Field(default=3.0, gt=0, le=50)
    heat_pump_capacity_w: float | None = Field(
        default=None,
        gt=0,
        le=50_000,
        description=(
            "Heat output at 7 °C outdoor air and 35 °C leaving water (A7/W35); default: "
            "twice the heat pump's nameplate power."
        ),
    )
    heat_pump_rated_cop: float = Field(
        default=3.5, gt=1, le=8, description="COP at A7/W35; sets the Carnot fraction."
    )
    heat_pump_capacity_drop_per_k: float = Field(
        default=0.01,
        ge=0,
        le=0.05,
        description="Share of the rated capacity lost per kelvin of outdoor air below 7 °C.",
    )
    heat_pump_min_outdoor_c: float = Field(
        default=-30.0, ge=-50, le=0, description="Below this outdoor temperature it stops."
    )
    heat_pump_max_supply_c: float = Field(
        default=65.0, ge=35, le=90, description="Highest leaving water temperature."
    )
    heat_pump_flow_gpm: float | None = Field(
        default=None,
        gt=0,
        le=50,
        description="Flow through the heat pump; default: a 5 K rise at rated capacity.",
    )
    heat_pump_output_controllable: bool = Field(
        default=False,
        description=(
            "The heat pump accepts a chosen leaving water temperature (it modulates "
            "compressor and flow); otherwise it runs on/off at full capacity."
        ),
    )
    boost_element_layers: tuple[Annotated[int, Field(ge=0)], ...] | None = Field(
        default=None,
        description=(
            "Tank layer (0 = top) of each of control.boost_elements; default: one element at "
            "the bottom, several spread from the top to the bottom."
        ),
    )
    element_cutout_c: float = Field(
        default=85.0, ge=40, le=99, description="An element's own high limit at its layer."
    )
    initial_tank_c: float = Field(default=55.0, ge=0, le=95)
    initial_space_c: float = Field(default=19.5, ge=-10, le=35)
    weather_profile: str = "maine-winter.csv"
    price_profile: str = "isone-prices.csv"
    sensor_noise_c: float = Field(default=0.05, ge=0, le=2)

    def tank_layer_count(self, sensors: int) -> int:
        """Layers of the simulated tank for a tank read by ``sensors`` layer sensors."""
        return self.tank_layers if self.tank_layers is not None else max(4, sensors)
