"""House physics for the simulator: pure, stepped by the caller with an explicit dt.

Modules: :mod:`~sim.house.tank` (stratified store), :mod:`~sim.house.heat_pump` (capacity and
COP), :mod:`~sim.house.emitters` (radiators), :mod:`~sim.house.building` (spaces),
:mod:`~sim.house.profiles` (weather and prices), :mod:`~sim.house.topology` (layout → physics)
and :mod:`~sim.house.model` (:class:`HouseModel`, the whole house).
"""

from sim.house.errors import HouseModelError, ProfileError, ProfileProblem
from sim.house.heat_pump import HeatPumpOutput, HeatPumpSpec
from sim.house.model import EnergyAccount, HouseModel
from sim.house.profiles import (
    PRICES,
    WEATHER,
    Profile,
    load_prices,
    load_profile,
    load_weather,
    profiles_dir,
)

__all__ = [
    "PRICES",
    "WEATHER",
    "EnergyAccount",
    "HeatPumpOutput",
    "HeatPumpSpec",
    "HouseModel",
    "HouseModelError",
    "Profile",
    "ProfileError",
    "ProfileProblem",
    "load_prices",
    "load_profile",
    "load_weather",
    "profiles_dir",
]
