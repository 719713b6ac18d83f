"""Physical parameters for running a house on the simulator (thermal properties, profiles)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class SimulationSettings(BaseModel):
    """How the simulated house behaves. Profiles are file names under ``input_data/profiles/``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    tank_volume_l: float = Field(default=450.0, gt=10, le=20_000)
    tank_loss_w_per_k: float = Field(default=3.0, ge=0, le=100)
    house_loss_w_per_k: float = Field(default=180.0, gt=0, le=5_000, description="Envelope UA.")
    house_heat_capacity_kj_per_k: float = Field(default=8_000.0, gt=0)
    radiator_w_per_k: float = Field(default=250.0, gt=0, le=10_000, description="Emitter UA.")
    distribution_flow_gpm: float = Field(default=3.0, gt=0, le=50)
    heat_pump_capacity_w: float | None = Field(default=None, gt=0, le=50_000)
    initial_tank_c: float = Field(default=55.0, ge=0, le=95)
    initial_space_c: float = Field(default=19.5, ge=-10, le=35)
    weather_profile: str = "maine-winter.csv"
    price_profile: str = "isone-prices.csv"
    sensor_noise_c: float = Field(default=0.05, ge=0, le=2)
