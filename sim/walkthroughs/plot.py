"""``sim walkthrough NAME --plot FILE.png``: the run's record drawn over simulated time.

Stacked panels share the time axis (the house's local time): the tank layers, the zones' air
with their comfort bands, the pipes watched for freezing (when the house watches any), the
outdoor air, the price and the electricity drawn (the heat pump, and everything together).
Spans in LocalControl are shaded grey on every panel. The temperatures are the physics' true
ones, as the checks judge them.

matplotlib is an optional extra (``plot``); it is drawn with the Agg canvas, so no display is
needed and no pyplot state is touched.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scada.protocol import Mode
from sim.walkthroughs.record import Record
from sim.walkthroughs.spec import format_duration

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from sim.walkthroughs.runner import WalkReport

INSTALL = "pip install 'gw-spaceheat-scada[plot]'"
"""How to get matplotlib: the project's ``plot`` extra."""

WIDTH_IN, ROW_IN, DPI = 12.0, 2.0, 100
_OUTSIDE: dict[str, Any] = {"loc": "upper left", "bbox_to_anchor": (1.0, 1.0)}
"""Legends beside their panel, where they hide no data."""


class PlotUnavailableError(RuntimeError):
    """matplotlib is not installed; the message says how to install it."""

    def __init__(self) -> None:
        super().__init__(f"--plot needs matplotlib, which is not installed: {INSTALL}")


def require_matplotlib() -> None:
    """Raise :class:`PlotUnavailableError` unless matplotlib can be imported.

    Raises:
        PlotUnavailableError: with the command that installs it.
    """
    try:
        import matplotlib as mpl  # noqa: F401, PLC0415 - an optional extra, only for --plot
    except ImportError:
        raise PlotUnavailableError from None


def plot_report(report: WalkReport, path: Path) -> None:
    """Draw ``report``'s record to the PNG ``path``.

    Raises:
        PlotUnavailableError: matplotlib is not installed.
        OSError: ``path`` cannot be written.
    """
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: PLC0415
        from matplotlib.dates import (  # noqa: PLC0415
            AutoDateLocator,
            ConciseDateFormatter,
            date2num,
        )
        from matplotlib.figure import Figure  # noqa: PLC0415
    except ImportError:
        raise PlotUnavailableError from None

    rec = report.record
    # matplotlib.dates carries no annotations; its day numbers are plain floats.
    day = float(date2num(report.start))  # type: ignore[no-untyped-call]
    end = day + report.duration.total_seconds() / 86_400
    times = [day + s.t / 86_400 for s in rec.samples]
    rows = 6 if rec.pipe_names else 5
    fig = Figure(figsize=(WIDTH_IN, ROW_IN * rows + 1), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    axes = list(fig.subplots(rows, 1, sharex=True))
    fig.suptitle(
        f"walkthrough {report.name} on {report.house}: "
        f"{report.start:%a %Y-%m-%d %H:%M}, {format_duration(report.duration)} "
        f"({report.passed}/{len(report.results)} checks passed)"
    )
    for ax in axes:
        ax.grid(visible=True, alpha=0.3)
        _shade_local(ax, rec, day, end, label=ax is axes[-1])
    tank, house, *rest, outdoor, price, power = axes
    _tank(tank, times, rec)
    _house(house, times, rec)
    if rest:
        _pipes(rest[0], times, rec)
    outdoor.plot(times, [s.outdoor_c for s in rec.samples], color="tab:cyan", lw=1.2)
    outdoor.set_ylabel("outdoor °C")
    price.step(times, [s.price for s in rec.samples], where="post", color="tab:purple", lw=1.2)
    price.set_ylabel("price $/MWh")
    _power(power, times, rec)
    tz = report.start.tzinfo
    locator = AutoDateLocator(tz=tz)  # type: ignore[no-untyped-call]
    power.xaxis.set_major_locator(locator)
    power.xaxis.set_major_formatter(ConciseDateFormatter(locator, tz=tz))  # type: ignore[no-untyped-call]
    power.set_xlim(day, max([end, *times[-1:]]))
    fig.savefig(path, format="png")


def _tank(ax: Axes, times: list[float], rec: Record) -> None:
    layers = len(rec.samples[0].tank) if rec.samples else 0
    for i in range(layers):
        # Hot at the top, cold at the bottom: red through blue, in layer order.
        shade = i / max(layers - 1, 1)
        label = "top" if i == 0 else "bottom" if i == layers - 1 else None
        color = (0.85 - 0.7 * shade, 0.2, 0.15 + 0.7 * shade)
        ax.plot(times, [s.tank[i] for s in rec.samples], color=color, lw=1.0, label=label)
    ax.set_ylabel(f"tank °C\n({layers} layers)")
    if layers:
        ax.legend(**_OUTSIDE, fontsize="small")


def _house(ax: Axes, times: list[float], rec: Record) -> None:
    for i, (zone, setpoint) in enumerate(zip(rec.zone_names, rec.setpoints, strict=True)):
        line = ax.plot(times, [s.zones[i] for s in rec.samples], lw=1.4, label=zone)
        ax.axhspan(
            setpoint - rec.band_c, setpoint + rec.band_c, color=line[0].get_color(), alpha=0.12
        )
    ax.set_ylabel("house air °C\n(comfort bands)")
    ax.legend(**_OUTSIDE, fontsize="small")


def _pipes(ax: Axes, times: list[float], rec: Record) -> None:
    for i, pipe in enumerate(rec.pipe_names):
        ax.plot(times, [s.pipes[i] for s in rec.samples], lw=1.0, label=pipe)
    ax.set_ylabel("pipes °C\n(freeze watch)")
    ax.legend(**_OUTSIDE, fontsize="small")


def _power(ax: Axes, times: list[float], rec: Record) -> None:
    hp_kw = [s.heat_pump_w / 1000 for s in rec.samples]
    ax.plot(times, hp_kw, color="tab:red", lw=1.0, label="heat pump")
    # Everything drawn, averaged over each sample interval from the cumulative energy.
    total = [
        (b.electric_j - a.electric_j) / (b.t - a.t) / 1000 if b.t > a.t else 0.0
        for a, b in itertools.pairwise(rec.samples)
    ]
    if total:
        ax.step(times[:-1], total, where="post", color="tab:gray", lw=0.8, alpha=0.8, label="all")
    ax.set_ylabel("electricity kW")
    ax.set_ylim(bottom=0)
    ax.legend(**_OUTSIDE, fontsize="small")


def _shade_local(ax: Axes, rec: Record, start: float, end: float, *, label: bool) -> None:
    edges = [*rec.modes, ((end - start) * 86_400, None)]
    spans = [
        (t0, t1)
        for (t0, mode), (t1, _) in itertools.pairwise(edges)
        if mode is Mode.LOCAL and t1 > t0
    ]
    for i, (t0, t1) in enumerate(spans):
        ax.axvspan(
            start + t0 / 86_400,
            start + t1 / 86_400,
            color="0.5",
            alpha=0.15,
            lw=0,
            label="LocalControl" if label and i == 0 else None,
        )
