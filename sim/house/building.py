"""The building: heated spaces with thermal mass, losing heat to the outdoors and to each other.

Each space ``i`` is one lumped node (air, furniture and the inner layer of the walls) of heat
capacity ``C_i`` (J/K) with an envelope conductance ``UA_i`` (W/K) to the outdoor air. Spaces
exchange heat through interior walls, doors and air movement with a conductance
``K_ij = UA_house * min(w_i, w_j) / sum(w)`` (as much as a space loses through its envelope), so a
zone whose valve stays shut is kept above freezing by its neighbours, as in a real house.
Stepping is explicit (forward Euler) with all fluxes taken at the start of the step, which keeps
the energy balance exact; the caller keeps steps well below the shortest time constant.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class SpaceSpec:
    """One heated space: its node alias, heat capacity and envelope conductance."""

    node: str
    capacity_j_per_k: float
    ua_w_per_k: float


class Building:
    """Space temperatures (°C), stepped by :meth:`advance`."""

    __slots__ = ("_pairs", "spaces", "temps")

    def __init__(
        self,
        spaces: Sequence[SpaceSpec],
        initial_c: float,
        coupling_w_per_k: Sequence[tuple[int, int, float]] = (),
    ) -> None:
        self.spaces = tuple(spaces)
        self.temps = [float(initial_c)] * len(self.spaces)
        self._pairs = tuple(coupling_w_per_k)

    def energy_j(self) -> float:
        """Heat stored in the building mass, counted from 0 °C."""
        return sum(s.capacity_j_per_k * t for s, t in zip(self.spaces, self.temps, strict=True))

    def shortest_time_constant_s(self, extra_w_per_k: Sequence[float]) -> float:
        """The smallest C / (sum of conductances) over the spaces (``extra`` per space)."""
        out = float("inf")
        for i, s in enumerate(self.spaces):
            g = s.ua_w_per_k + extra_w_per_k[i]
            g += sum(k for a, b, k in self._pairs if i in (a, b))
            if g > 0:
                out = min(out, s.capacity_j_per_k / g)
        return out

    def advance(self, dt_s: float, outdoor_c: float, heat_w: Sequence[float]) -> float:
        """Advance ``dt_s`` with ``heat_w`` (W) into each space; returns the loss outdoors (W)."""
        t = self.temps
        q = list(heat_w)
        loss = 0.0
        for i, s in enumerate(self.spaces):
            out = s.ua_w_per_k * (t[i] - outdoor_c)
            loss += out
            q[i] -= out
        for a, b, k in self._pairs:
            flux = k * (t[a] - t[b])
            q[a] -= flux
            q[b] += flux
        self.temps = [t[i] + dt_s * q[i] / s.capacity_j_per_k for i, s in enumerate(self.spaces)]
        return loss
