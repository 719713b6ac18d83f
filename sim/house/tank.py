"""A stratified hot-water tank: N fully mixed layers, layer 0 at the top.

Two flow loops pass through the tank, each described by its mass flow and the heat it picks up
outside the tank, so the energy balance is exact whatever the step:

* the **charging loop** (heat pump) draws from the bottom layer and comes back into the top
  layer ``charge_heat_w`` warmer — inside the tank the water moves down;
* the **distribution loop** (circulator and radiators) draws from the top layer and comes back
  into the bottom layer having given ``draw_heat_w`` to the house — inside the tank the water
  moves up.

Between layers the net flow carries each layer's own temperature (first-order upwind), so a step
never creates or loses energy. Boost elements and other heat enter the layer they sit in. Each
layer loses heat to the room through its share of ``loss_w_per_k``, and neighbouring layers
conduct through water and wall (about 1.6 W/(m·K) over the tank's cross-section, for a tank
2.5 times as tall as it is wide). Whenever a warmer layer sits below a colder one the two mix
(convection is much faster than any step), so the profile is never inverted after a step.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

WATER_CP_J_PER_KG_K = 4186.0
WATER_KG_PER_L = 1.0
LITRES_PER_US_GALLON = 3.785411784
KG_S_PER_GPM = LITRES_PER_US_GALLON * WATER_KG_PER_L / 60.0
EFFECTIVE_CONDUCTIVITY_W_PER_M_K = 1.6  # still water (0.6) plus the steel wall along it
HEIGHT_PER_DIAMETER = 2.5
MAX_COURANT = 0.5  # at most half a layer's water moves per internal step


def gpm_to_kg_s(gpm: float) -> float:
    return gpm * KG_S_PER_GPM


def kg_s_to_gpm(kg_s: float) -> float:
    return kg_s / KG_S_PER_GPM


class StratifiedTank:
    """Layer temperatures (°C, top first), stepped by :meth:`advance`."""

    __slots__ = ("interface_w_per_k", "layer_c_j_per_k", "layer_kg", "layer_loss_w_per_k", "temps")

    def __init__(self, volume_l: float, layers: int, loss_w_per_k: float, initial_c: float) -> None:
        if layers < 1:
            raise ValueError("a tank needs at least one layer")
        self.layer_kg = volume_l * WATER_KG_PER_L / layers
        self.layer_c_j_per_k = self.layer_kg * WATER_CP_J_PER_KG_K
        self.layer_loss_w_per_k = loss_w_per_k / layers
        volume_m3 = volume_l / 1000.0
        diameter = (4.0 * volume_m3 / (math.pi * HEIGHT_PER_DIAMETER)) ** (1.0 / 3.0)
        area = math.pi * diameter**2 / 4.0
        dz = HEIGHT_PER_DIAMETER * diameter / layers
        self.interface_w_per_k = EFFECTIVE_CONDUCTIVITY_W_PER_M_K * area / dz
        self.temps = [float(initial_c)] * layers

    @property
    def layers(self) -> int:
        return len(self.temps)

    def energy_j(self) -> float:
        """Heat stored, counted from 0 °C."""
        return self.layer_c_j_per_k * sum(self.temps)

    def mean_c(self) -> float:
        return sum(self.temps) / len(self.temps)

    def advance(
        self,
        dt_s: float,
        *,
        room_c: float,
        charge_kg_s: float = 0.0,
        charge_heat_w: float = 0.0,
        draw_kg_s: float = 0.0,
        draw_heat_w: float = 0.0,
        layer_heat_w: Sequence[float] | None = None,
    ) -> float:
        """Advance ``dt_s`` seconds; returns the standby loss to the room (W, mean over dt).

        ``charge_heat_w`` is added to the charging loop (water returns to the top that much
        warmer); ``draw_heat_w`` is taken from the distribution loop (water returns to the
        bottom that much cooler). A loop with heat but no flow puts its heat straight into its
        inlet layer. ``layer_heat_w`` is heat into each layer (elements, pumps).
        """
        n = len(self.temps)
        moved = (charge_kg_s + draw_kg_s) * dt_s
        substeps = max(1, math.ceil(moved / (MAX_COURANT * self.layer_kg)))
        h = dt_s / substeps
        cp = WATER_CP_J_PER_KG_K
        k = h / self.layer_c_j_per_k
        net_down = charge_kg_s - draw_kg_s  # through every interface, kg/s
        carry = net_down * cp
        down = net_down > 0
        charge_cp, draw_cp = charge_kg_s * cp, draw_kg_s * cp
        ua_loss = self.layer_loss_w_per_k
        ua_int = self.interface_w_per_k
        heat = layer_heat_w if layer_heat_w is not None else (0.0,) * n
        loss_total = 0.0
        last = n - 1
        for _ in range(substeps):
            t = self.temps
            top, bottom = t[0], t[last]
            loss_total += ua_loss * (sum(t) - n * room_c)
            # Ports: the charging loop carries bottom water (plus its heat) into the top;
            # the distribution loop carries top water (minus its heat) into the bottom.
            flux_in = charge_cp * bottom + charge_heat_w - draw_cp * top  # W into layer 0
            out: list[float] = []
            inverted = False
            previous = math.inf
            for i in range(last):
                upper, lower = t[i], t[i + 1]
                # W from layer i down into layer i + 1: carried by the net flow, and conducted.
                flux = carry * (upper if down else lower) + ua_int * (upper - lower)
                value = upper + k * (flux_in - flux - ua_loss * (upper - room_c) + heat[i])
                inverted = inverted or value > previous
                previous = value
                out.append(value)
                flux_in = flux
            flux_in += draw_cp * top - draw_heat_w - charge_cp * bottom
            value = bottom + k * (flux_in - ua_loss * (bottom - room_c) + heat[last])
            out.append(value)
            self.temps = out
            if inverted or value > previous:
                self.mix_inversions()
        return loss_total / substeps

    def mix_inversions(self) -> None:
        """Mix any warmer-below-colder layers into one temperature (equal layer masses)."""
        t = self.temps
        # Pool adjacent violators: blocks of (sum of temperatures, layer count), top first.
        sums: list[float] = []
        counts: list[int] = []
        for v in t:
            sums.append(v)
            counts.append(1)
            while len(sums) > 1 and sums[-2] / counts[-2] < sums[-1] / counts[-1]:
                s, k = sums.pop(), counts.pop()
                sums[-1] += s
                counts[-1] += k
        out: list[float] = []
        for s, k in zip(sums, counts, strict=True):
            out.extend([s / k] * k)
        self.temps = out
