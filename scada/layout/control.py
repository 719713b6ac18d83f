"""Control parameters of a house: which actuators and channels play which part, and the limits.

Nothing in the control code names a house's nodes; every reference is here, as data, and
:mod:`scada.layout.checks` verifies that each one points at a channel or actuator that exists.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Zone(_Strict):
    """A heated space with its room sensor and, where it has one, its zone relay."""

    name: str = Field(min_length=1)
    room_channel: str = Field(description="Channel name of the room temperature sensor.")
    setpoint_c: float = Field(default=20.0, ge=5, le=30)
    relay: str | None = Field(default=None, description="Actuator node that opens this zone.")


class ControlSettings(_Strict):
    """Roles and thresholds the controller and the interlocks run on. Temperatures in °C."""

    zones: tuple[Zone, ...] = Field(min_length=1)
    comfort_band_c: float = Field(
        default=1.0, gt=0, le=5, description="Half-width around a setpoint."
    )
    tank_layers: tuple[str, ...] = Field(
        min_length=1, description="Tank temperature channels from the top layer down."
    )
    heat_pump: str | None = Field(default=None, description="Actuator node of the heat pump.")
    circulator: str | None = Field(
        default=None, description="Actuator node of the distribution pump."
    )
    boost_elements: tuple[str, ...] = Field(
        default=(), description="Actuator nodes of boost elements."
    )
    failsafe_relays: tuple[str, ...] = Field(
        default=(),
        description=(
            "Normally-closed relays that hand a load back to its own controls when released: "
            "the SCADA holds them energised while it runs, so the load follows its own relay, "
            "and a SCADA that is down leaves the house on its own controls."
        ),
    )
    freeze_channels: tuple[str, ...] = Field(
        default=(), description="Pipe temperature channels watched for freezing."
    )
    outdoor_channel: str | None = None
    tank_min_c: float = Field(default=40.0, ge=5, le=95)
    tank_target_c: float = Field(default=60.0, ge=10, le=95)
    tank_max_c: float = Field(default=80.0, ge=20, le=99)
    freeze_pipe_c: float = Field(default=5.0, ge=0, le=20)
    freeze_tank_c: float = Field(default=8.0, ge=0, le=30)
    freeze_hysteresis_c: float = Field(default=2.0, gt=0, le=10)
    power_report_share: float = Field(
        default=0.02, gt=0, le=1, description="Share of nameplate that triggers a power report."
    )
    status_period_s: int = Field(default=300, ge=10, le=3600)
    hold_cap_s: float = Field(
        default=4 * 3600.0, ge=60, le=86_400, description="Longest admin hold."
    )
    contract_grace_s: float = Field(default=300.0, ge=5, le=3600)
    heartbeat_timeout_s: float = Field(
        default=90.0, ge=5, le=3600, description="ATN silence inside a contract before it is lost."
    )

    @model_validator(mode="after")
    def _ordered(self) -> ControlSettings:
        if not self.tank_min_c < self.tank_target_c < self.tank_max_c:
            raise ValueError(
                f"tank limits must satisfy tank_min_c < tank_target_c < tank_max_c "
                f"(got {self.tank_min_c:g} < {self.tank_target_c:g} < {self.tank_max_c:g})"
            )
        if self.freeze_tank_c >= self.tank_min_c:
            raise ValueError(
                f"freeze_tank_c ({self.freeze_tank_c:g}) must be below tank_min_c "
                f"({self.tank_min_c:g})"
            )
        return self
