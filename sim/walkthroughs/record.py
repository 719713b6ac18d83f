"""What a walkthrough run saw: samples of the house every minute and the runtime's events.

:class:`Record` is filled while the run goes (by the sampler and the event consumer of
:mod:`sim.walkthroughs.recorder`) and read by the checks afterwards. Times are seconds since the
walkthrough's start. Temperatures are the *true* ones of the physics (what the occupants feel),
not what the sensors said.
"""

from __future__ import annotations

import bisect
import itertools
from dataclasses import dataclass, field

from scada.protocol import CommandOutcome, CommandSource, Mode, ProblemEvent, RelayState

SAMPLE_S = 60.0
"""Seconds between two samples of the house."""

J_PER_MWH = 3.6e9


@dataclass(frozen=True, slots=True)
class Sample:
    """The house at ``t``: true temperatures, cumulative electricity, the price, counters."""

    t: float
    zones: tuple[float, ...]
    """Air temperature of each control zone (layout order)."""
    tank: tuple[float, ...]
    """Tank layers, top first."""
    pipes: tuple[float, ...]
    """The pipes watched for freezing (``Record.pipe_names``)."""
    outdoor_c: float
    electric_j: float
    """Electricity used since the start (heat pump, elements, pumps), J."""
    heat_pump_w: float
    """Electricity the heat pump drew at ``t``."""
    price: float
    """$/MWh from this sample to the next."""
    statuses: int
    """Statuses the runtime produced so far."""
    statuses_atn: int
    """5-minute slots the simulated ATN has received a status of, so far."""


@dataclass(frozen=True, slots=True)
class CommandRecord:
    """A relay command's end: who sent it, how it ended, and who was boss at that moment."""

    t: float
    node: str
    source: CommandSource
    outcome: CommandOutcome
    boss: CommandSource


@dataclass(slots=True)
class Record:
    """Everything a run recorded (see the module docstring)."""

    zone_names: tuple[str, ...]
    setpoints: tuple[float, ...]
    band_c: float
    status_period_s: float
    pipe_names: tuple[str, ...] = ()
    samples: list[Sample] = field(default_factory=list)
    problems: list[tuple[float, ProblemEvent]] = field(default_factory=list)
    modes: list[tuple[float, Mode]] = field(default_factory=list)
    """(from t, mode): the mode at the start, then every change."""
    relays: dict[str, list[tuple[float, RelayState]]] = field(default_factory=dict)
    """Per actuator: (from t, observed state) at every change of the read-back."""
    interlocks: dict[str, list[tuple[float, str | None]]] = field(default_factory=dict)
    """Per actuator: (from t, the interlock overriding its boss or None) at every change."""
    commands: list[CommandRecord] = field(default_factory=list)
    seen: dict[int, str] = field(default_factory=dict)
    """Point checks (by index in ``expect``): what was seen at their instant."""

    def __repr__(self) -> str:
        # A month's record is tens of thousands of samples: a repr (a failed assertion's, a
        # log line's) says how much there is, not all of it.
        return (
            f"Record(zones={self.zone_names!r}, {len(self.samples)} samples, "
            f"{len(self.problems)} problems, {len(self.modes)} modes, "
            f"{len(self.commands)} commands)"
        )

    # ------------------------------------------------------------------ building
    def mode_changed(self, t: float, mode: Mode) -> None:
        if not self.modes or self.modes[-1][1] is not mode:
            self.modes.append((t, mode))

    def relay_seen(self, t: float, node: str, state: RelayState) -> None:
        series = self.relays.setdefault(node, [])
        if not series or series[-1][1] is not state:
            series.append((t, state))

    def interlock_seen(self, t: float, node: str, interlock: str | None) -> bool:
        """Note what overrides ``node`` from ``t``; True if that changed."""
        series = self.interlocks.setdefault(node, [])
        if (series[-1][1] if series else None) == interlock:
            return False
        series.append((t, interlock))
        return True

    # ------------------------------------------------------------------- reading
    def window(self, after: float, before: float) -> list[Sample]:
        """Samples with ``after <= t <= before``."""
        times = [s.t for s in self.samples]
        lo = bisect.bisect_left(times, after)
        hi = bisect.bisect_right(times, before)
        return self.samples[lo:hi]

    def mode_at(self, t: float) -> Mode | None:
        i = bisect.bisect_right([m[0] for m in self.modes], t) - 1
        return self.modes[i][1] if i >= 0 else None

    def modes_within(self, after: float, before: float) -> list[tuple[float, Mode]]:
        """The mode at ``after`` and every change after it and before ``before``."""
        first = self.mode_at(after)
        out = [(after, first)] if first is not None else []
        out += [(t, m) for t, m in self.modes if after < t < before]
        return out

    def relay_within(
        self, node: str, after: float, before: float
    ) -> list[tuple[float, RelayState]]:
        """The read-back state of ``node`` at ``after`` and every change after it and before
        ``before``."""
        series = self.relays.get(node, [])
        i = bisect.bisect_right([s[0] for s in series], after) - 1
        out = [(after, series[i][1])] if i >= 0 else []
        out += [(t, s) for t, s in series if after < t < before]
        return out

    def interlock_within(
        self, node: str, after: float, before: float
    ) -> list[tuple[float, str | None]]:
        """What overrode ``node`` at ``after`` and every change after it and before ``before``."""
        series = self.interlocks.get(node, [])
        i = bisect.bisect_right([s[0] for s in series], after) - 1
        out = [(after, series[i][1])] if i >= 0 else []
        out += [(t, s) for t, s in series if after < t < before]
        return out

    def in_band(self, temps: tuple[float, ...], zone: int | None = None) -> tuple[int, int]:
        """(zones inside setpoint ± band, zones counted) in one sample."""
        idx = range(len(temps)) if zone is None else (zone,)
        inside = sum(1 for i in idx if abs(temps[i] - self.setpoints[i]) <= self.band_c + 1e-9)
        return inside, len(idx)

    def comfort_share(self, after: float, before: float, zone: int | None = None) -> float:
        """Share of zone-samples in the window whose air was inside its comfort band."""
        inside = total = 0
        for s in self.window(after, before):
            i, n = self.in_band(s.zones, zone)
            inside += i
            total += n
        return inside / total if total else 0.0

    def energy_kwh(self, after: float = 0.0, before: float = float("inf")) -> float:
        w = self.window(after, before)
        return (w[-1].electric_j - w[0].electric_j) / 3.6e6 if len(w) > 1 else 0.0

    def cost_usd(self, after: float = 0.0, before: float = float("inf")) -> float:
        """Sum over sample intervals of electricity used times the price over that interval."""
        w = self.window(after, before)
        return sum(
            (b.electric_j - a.electric_j) * a.price / J_PER_MWH for a, b in itertools.pairwise(w)
        )
