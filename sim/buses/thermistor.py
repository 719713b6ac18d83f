"""The thermistor divider run backwards: the ADC voltage a temperature produces.

The drivers turn volts into °C (:mod:`scada.drivers.ads1115`); the emulator needs the inverse,
so a simulated house can say "this probe is at 47.3 °C" and the ADS1115 answers the voltage the
real divider would give. Beta model: R = R0 · exp(β (1/T - 1/T0)). Steinhart-Hart:
1/T = A + B ln R + C (ln R)³, a depressed cubic in ln R solved in closed form.
"""

from __future__ import annotations

import math

from scada.layout import Thermistor

KELVIN = 273.15


def ohms_at(t_c: float, th: Thermistor) -> float:
    """The thermistor's resistance at ``t_c`` °C under the layout's model."""
    inv_t = 1.0 / (t_c + KELVIN)
    if th.steinhart_hart is not None:
        a, b, c = th.steinhart_hart
        if c == 0:
            return math.exp((inv_t - a) / b)
        p = b / c
        q = (a - inv_t) / c
        disc = math.sqrt((q / 2) ** 2 + (p / 3) ** 3)
        return math.exp(math.cbrt(-q / 2 + disc) + math.cbrt(-q / 2 - disc))
    if th.beta is None:
        raise ValueError("a thermistor needs beta or Steinhart-Hart coefficients")
    return th.r0_ohm * math.exp(th.beta * (inv_t - 1.0 / (th.t0_c + KELVIN)))


def divider_volts(t_c: float, th: Thermistor) -> float:
    """The ADC node voltage: V = V_s · R_t / (R_d + R_t)."""
    r = ohms_at(t_c, th)
    return th.supply_v * r / (th.divider_ohm + r)
