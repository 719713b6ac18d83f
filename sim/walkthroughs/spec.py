"""What a walkthrough file says: the house, the start, the timed steps and the checks.

A walkthrough is a TOML (or JSON) file in ``input_data/walkthroughs/``, named ``<name>.toml``::

    description = "The uplink is cut for two hours; LocalControl, then RemoteControl again."
    house = "dw1.isone.nh.orange.1"
    start = 2024-01-10T06:00:00        # the house's local wall time
    duration = "8h"

    [[steps]]
    at = "2h"
    do = "link.cut"

    [[expect]]
    check = "mode"
    at = "3h"
    mode = "local"

Times (``at``, ``duration``, ``after``, ``before``, ``lasting``) are durations from the start
written like ``"90s"``, ``"30m"``, ``"2h"``, ``"1d 6h"`` or ``"2h30m"``.

**Steps** (``do``): ``atn.go_silent`` / ``atn.resume`` / ``atn.terminate`` /
``atn.stop_offering`` (the simulated ATN), ``link.cut`` / ``link.restore`` (the uplink),
``sensor.fail`` (``channel``, ``how`` = ``disconnected`` or ``garbled``) / ``sensor.heal``,
``weather.cold_snap`` (``by_c`` kelvin on the outdoor profile, for ``lasting`` or until
``weather.normal``), ``hold.take`` (``operator``, ``minutes``) / ``hold.release``,
``relay.set`` (``node``, ``state``, ``operator``: an installer's command, which needs the hold)
and ``mode.set`` (``mode``, ``operator``).

**Checks** (``check``): ``mode``, ``boss`` and ``relay`` at an instant; over a window
(``after`` .. ``before``, default the whole run): ``mode_throughout``, ``relay_throughout``,
``problem`` (a problem event of ``kind``, optionally about ``subject`` and whose summary
``says`` some text, ``seen`` or not),
``interlock`` (safety interlock ``interlock`` overrode ``node``'s boss, ``seen`` or not),
``comfort`` (share of the time each zone's air was within setpoint ± comfort_band_c),
``room_temp``, ``tank_temp`` and ``pipe_temp`` (stayed within ``min_c`` / ``max_c``; for the
tank the top layer against ``min_c``, the hottest against ``max_c``, the coldest against
``coldest_min_c``), ``statuses`` (share of the 5-minute statuses produced, or received by the
ATN), ``commands`` (how many relay commands of a source ended how), ``price_paid`` (the mean
price the electricity was bought at, as a share of the window's mean price); and
``boss_only``: every relay command carried out came from the boss of the moment (and there was
at least one).

A check that could not fail, or could not pass, is refused with the file: a temperature check
without a limit or with ``min_c`` above ``max_c``, ``commands`` with ``min = 0`` and no ``max``,
a ``problem`` about a channel, device or relay the house lacks, ``statuses`` over a window
shorter than a status period.

**Fidelity** (``[fidelity]``): the physics step, and for long runs a floor on the sensors'
sample periods and a cap on flow-meter pulses per gallon (fewer polls and pulses, same code).

**Initial** (``[initial]``): the house as the run finds it, over its file's ``simulation``
settings: ``space_c`` (every room's air) and ``tank_c`` (every tank layer).
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    model_validator,
)

from scada.control import Interlock
from scada.protocol import Mode, ProblemKind, RelayState

_DURATION = re.compile(
    r"^\s*(?:(?P<d>\d+(?:\.\d+)?)\s*d)?\s*(?:(?P<h>\d+(?:\.\d+)?)\s*h)?"
    r"\s*(?:(?P<m>\d+(?:\.\d+)?)\s*m(?:in)?)?\s*(?:(?P<s>\d+(?:\.\d+)?)\s*s)?\s*$"
)
_UNIT_S = {"d": 86_400.0, "h": 3600.0, "m": 60.0, "s": 1.0}


def parse_duration(value: Any) -> timedelta:
    """``"1d 6h"``, ``"2h30m"``, ``"90s"`` -> timedelta (a timedelta passes through)."""
    if isinstance(value, timedelta):
        return value
    match = _DURATION.match(value) if isinstance(value, str) else None
    if match is None or not any(match.groupdict().values()):
        shown = repr(value) if isinstance(value, str) else str(value)
        raise ValueError(f"{shown} is not a duration like '90s', '30m', '2h' or '1d 6h'")
    seconds = sum(float(v) * _UNIT_S[k] for k, v in match.groupdict().items() if v)
    return timedelta(seconds=seconds)


def format_duration(td: timedelta) -> str:
    """``timedelta(hours=26, minutes=5)`` -> ``"1d 2h5m"`` (the inverse of the parser)."""
    total = round(td.total_seconds())
    days, rest = divmod(total, 86_400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    parts = [f"{days}d"] if days else []
    clock = "".join(f"{n}{u}" for n, u in ((hours, "h"), (minutes, "m"), (seconds, "s")) if n)
    if clock:
        parts.append(clock)
    return " ".join(parts) or "0s"


Duration = Annotated[
    timedelta,
    BeforeValidator(parse_duration),
    PlainSerializer(format_duration, return_type=str),
]


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Fidelity(_Strict):
    """How closely the run follows the house file; defaults follow it except the physics step."""

    physics_step_s: float = Field(default=10.0, gt=0, le=60)
    sensor_period_floor_s: float | None = Field(default=None, gt=0, le=600)
    pulses_per_gallon_max: float | None = Field(default=None, gt=0)


class Initial(_Strict):
    """The simulated house at the start; ``None`` keeps the house file's value."""

    space_c: float | None = Field(default=None, ge=-10, le=35)
    tank_c: float | None = Field(default=None, ge=0, le=95)


# ----------------------------------------------------------------------------------- steps


class _Step(_Strict):
    at: Duration
    say: str | None = None
    """What the narration says when the step is taken (a default is made from the step)."""


class AtnStep(_Step):
    do: Literal["atn.go_silent", "atn.resume", "atn.terminate", "atn.stop_offering"]


class LinkStep(_Step):
    do: Literal["link.cut", "link.restore"]


class SensorFail(_Step):
    do: Literal["sensor.fail"]
    channel: str
    how: Literal["disconnected", "garbled"] = "disconnected"


class SensorHeal(_Step):
    do: Literal["sensor.heal"]
    channel: str


class ColdSnap(_Step):
    do: Literal["weather.cold_snap"]
    by_c: float = Field(default=-10.0, ge=-40, lt=0)
    lasting: Duration | None = None

    @model_validator(mode="after")
    def _lasts(self) -> ColdSnap:
        if self.lasting is not None and self.lasting <= timedelta(0):
            raise ValueError("lasting must be longer than 0s (leave it out: until weather.normal)")
        return self


class WeatherNormal(_Step):
    do: Literal["weather.normal"]


class HoldTake(_Step):
    do: Literal["hold.take"]
    operator: str = Field(default="installer", min_length=1)
    minutes: float = Field(gt=0, le=24 * 60)


class HoldRelease(_Step):
    do: Literal["hold.release"]
    operator: str = Field(default="installer", min_length=1)


class RelaySet(_Step):
    do: Literal["relay.set"]
    node: str
    state: RelayState
    operator: str = Field(default="installer", min_length=1)


class ModeSet(_Step):
    do: Literal["mode.set"]
    mode: Mode
    operator: str = Field(default="installer", min_length=1)


AnyStep = (
    AtnStep
    | LinkStep
    | SensorFail
    | SensorHeal
    | ColdSnap
    | WeatherNormal
    | HoldTake
    | HoldRelease
    | RelaySet
    | ModeSet
)
Step = Annotated[AnyStep, Field(discriminator="do")]

# ---------------------------------------------------------------------------------- checks


class _Check(_Strict):
    name: str | None = None
    """How the report names the check (a default is made from the check)."""


class _Window(_Check):
    after: Duration = timedelta(0)
    before: Duration | None = None
    """End of the window; ``None``: the end of the run."""


class ModeAt(_Check):
    check: Literal["mode"]
    at: Duration
    mode: Mode


class BossAt(_Check):
    check: Literal["boss"]
    at: Duration
    boss: Literal["home_alone", "atn", "admin"]


class RelayAt(_Check):
    check: Literal["relay"]
    at: Duration
    node: str
    state: RelayState


class ModeThroughout(_Window):
    check: Literal["mode_throughout"]
    mode: Mode


class RelayThroughout(_Window):
    check: Literal["relay_throughout"]
    node: str
    state: RelayState


class ProblemSeen(_Window):
    check: Literal["problem"]
    kind: ProblemKind
    subject: str | None = None
    says: str | None = None
    """Text its summary contains."""
    seen: bool = True


class InterlockSeen(_Window):
    check: Literal["interlock"]
    node: str
    interlock: Interlock
    seen: bool = True


class Comfort(_Window):
    check: Literal["comfort"]
    min_share: float = Field(gt=0, le=1)
    zone: str | None = None


class _Limits(_Window):
    """A temperature check: at least one limit, or it could not fail."""

    min_c: float | None = None
    max_c: float | None = None

    @model_validator(mode="after")
    def _a_limit_that_can_fail(self) -> _Limits:
        limits = [v for k, v in self if k.endswith("_c") and v is not None]
        if not limits:
            keys = ", ".join(k for k in type(self).model_fields if k.endswith("_c"))
            raise ValueError(f"give a limit ({keys}): without one the check cannot fail")
        if self.min_c is not None and self.max_c is not None and self.min_c > self.max_c:
            raise ValueError(
                f"min_c {self.min_c:g} is above max_c {self.max_c:g}: the check cannot pass"
            )
        return self


class RoomTemp(_Limits):
    check: Literal["room_temp"]
    zone: str | None = None


class TankTemp(_Limits):
    check: Literal["tank_temp"]
    min_c: float | None = None
    """The top layer (the heat the house can use) stays at or above this."""
    max_c: float | None = None
    """The hottest layer stays at or below this."""
    coldest_min_c: float | None = None
    """The coldest layer stays at or above this (the tank kept from freezing)."""


class PipeTemp(_Limits):
    check: Literal["pipe_temp"]
    min_c: float | None = None
    """Every pipe the house watches for freezing (``control.freeze_channels``) stays at or
    above this."""


class Statuses(_Window):
    check: Literal["statuses"]
    min_share: float = Field(gt=0, le=1)
    seen_by: Literal["runtime", "atn"] = "runtime"


class Commands(_Window):
    check: Literal["commands"]
    source: Literal["atn", "admin"]
    outcome: Literal["confirmed", "refused", "failed"]
    min: int = Field(default=1, ge=0)
    max: int | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _a_count_that_can_fail(self) -> Commands:
        if self.max is None and self.min == 0:
            raise ValueError("min = 0 with no max cannot fail: give min >= 1 or a max")
        if self.max is not None and self.max < self.min:
            raise ValueError(f"max {self.max} is below min {self.min}: the check cannot pass")
        return self


class PricePaid(_Window):
    check: Literal["price_paid"]
    max_share_of_mean: float = Field(gt=0, le=1)
    """The electricity used over the window was bought at a mean price of at most this share
    of the window's mean price: charging in the cheap hours, coasting through the peaks."""


class BossOnly(_Check):
    check: Literal["boss_only"]


Check = Annotated[
    ModeAt
    | BossAt
    | RelayAt
    | ModeThroughout
    | RelayThroughout
    | ProblemSeen
    | InterlockSeen
    | Comfort
    | RoomTemp
    | TankTemp
    | PipeTemp
    | Statuses
    | Commands
    | PricePaid
    | BossOnly,
    Field(discriminator="check"),
]

PointCheck = ModeAt | BossAt | RelayAt
"""Checks read live at their instant."""


class Walkthrough(_Strict):
    """One scripted scenario (see the module docstring)."""

    description: str = Field(min_length=1)
    house: str = "dw1.isone.nh.orange.1"
    start: datetime = datetime(2024, 1, 8)  # noqa: DTZ001 - the house's local wall time
    duration: Duration
    atn: bool = True
    fidelity: Fidelity = Fidelity()
    initial: Initial = Initial()
    steps: tuple[Step, ...] = ()
    expect: tuple[Check, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _some_time(self) -> Walkthrough:
        if self.duration <= timedelta(0):
            raise ValueError("duration must be longer than 0s")
        return self


STEP_KINDS: dict[str, type[_Step]] = {
    do: model
    for model in (
        AtnStep,
        LinkStep,
        SensorFail,
        SensorHeal,
        ColdSnap,
        WeatherNormal,
        HoldTake,
        HoldRelease,
        RelaySet,
        ModeSet,
    )
    for do in model.model_fields["do"].annotation.__args__  # type: ignore[union-attr]
}
"""Each ``do`` value -> its step model."""

CHECK_KINDS: dict[str, type[_Check]] = {
    model.model_fields["check"].annotation.__args__[0]: model  # type: ignore[union-attr]
    for model in (
        ModeAt,
        BossAt,
        RelayAt,
        ModeThroughout,
        RelayThroughout,
        ProblemSeen,
        InterlockSeen,
        Comfort,
        RoomTemp,
        TankTemp,
        PipeTemp,
        Statuses,
        Commands,
        PricePaid,
        BossOnly,
    )
}
"""Each ``check`` value -> its check model."""
