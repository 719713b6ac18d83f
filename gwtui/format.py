"""Turning values, ages and histories into the short strings the tables and header show.

Pure functions, no Textual: every cell's text is decided here and unit-tested on its own.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Final

from scada.protocol import ChannelHealth, CommandSource, Mode, RelayState

SPARK_BLOCKS: Final = "▁▂▃▄▅▆▇█"

_UNIT_LABELS: Final = {"degC": "°C", "degF": "°F"}
_DECIMALS: Final = {"degC": 2, "degF": 1, "W": 0, "kW": 2, "gpm": 2, "%": 1, "V": 1, "A": 2}

MODE_LABELS: Final = {Mode.LOCAL: "LocalControl", Mode.REMOTE: "RemoteControl"}

BOSS_LABELS: Final = {
    CommandSource.HOME_ALONE: "home-alone",
    CommandSource.ATN: "ATN",
    CommandSource.ADMIN: "admin",
    CommandSource.INTERLOCK: "interlock",
}

HEALTH_LABELS: Final = {
    ChannelHealth.OK: "ok",
    ChannelHealth.STALE: "stale",
    ChannelHealth.OUT_OF_RANGE: "out of range",
    ChannelHealth.NEVER_READ: "never read",
    ChannelHealth.DEVICE_FAILING: "device failing",
}


def unit_label(unit: str) -> str:
    """The unit as a person writes it (``degC`` -> ``°C``)."""
    return _UNIT_LABELS.get(unit, unit)


def format_value(value: float | None, unit: str) -> str:
    """A reading with the precision its unit deserves; ``-`` when there is none."""
    if value is None or not math.isfinite(value):
        return "-"
    decimals = _DECIMALS.get(unit, 2)
    return f"{value:,.{decimals}f}" if abs(value) >= 10_000 else f"{value:.{decimals}f}"


def format_age(seconds: float | None) -> str:
    """A compact age: ``4s``, ``2m05s``, ``3h12m``, ``5d``; ``-`` when unknown."""
    if seconds is None:
        return "-"
    s = max(0, int(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    if s < 86_400:
        return f"{s // 3600}h{(s % 3600) // 60:02d}m"
    return f"{s // 86_400}d"


def format_countdown(seconds: float) -> str:
    """A countdown as a clock reads: ``29:41`` or ``1:02:03`` (never negative)."""
    s = max(0, math.ceil(seconds))
    hours, rest = divmod(s, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"


def format_bytes(size: int) -> str:
    """``4.2 MB`` style sizes (decimal units, like disk vendors and ``df -H``)."""
    value = float(size)
    for unit in ("B", "kB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{value:.1f} GB"  # pragma: no cover - the loop always returns


def relay_label(state: RelayState | None) -> str:
    """``ON`` / ``OFF`` / ``?`` (unknown read-back)."""
    return "?" if state is None else state.value.upper()


def sparkline(values: Sequence[float], width: int) -> str:
    """The last ``width`` values as unicode blocks scaled to their own min..max, right-aligned.

    A flat history draws a flat middle line, so "no change" never looks like "at the minimum".
    """
    if width <= 0:
        return ""
    tail = list(values)[-width:]
    if not tail:
        return " " * width
    low, high = min(tail), max(tail)
    span = high - low
    top = len(SPARK_BLOCKS) - 1
    if span <= 1e-9 * max(1.0, abs(high)):
        blocks = SPARK_BLOCKS[top // 2] * len(tail)
    else:
        blocks = "".join(SPARK_BLOCKS[round((v - low) / span * top)] for v in tail)
    return blocks.rjust(width)


def resample(values: Sequence[float], width: int) -> list[float]:
    """At most ``width`` points: buckets of consecutive values averaged, newest last."""
    n = len(values)
    if n <= width:
        return list(values)
    out = []
    for i in range(width):
        lo, hi = i * n // width, (i + 1) * n // width
        bucket = values[lo:hi]
        out.append(sum(bucket) / len(bucket))
    return out


def bar_chart(values: Sequence[float], width: int, height: int) -> list[str]:
    """A ``height``-line bar chart of ``values`` (scaled to their own range), right-aligned,
    drawn with eighth blocks so each line has eight levels of resolution."""
    points = resample(values, width)
    if width <= 0 or height <= 0:
        return []
    if not points:
        return [" " * width for _ in range(height)]
    low, high = min(points), max(points)
    span = high - low
    levels = height * 8
    heights = [
        levels // 2
        if span <= 1e-9 * max(1.0, abs(high))
        else 1 + round((v - low) / span * (levels - 1))
        for v in points
    ]
    lines = []
    for row in range(height):
        floor = (height - row - 1) * 8
        cells = []
        for h in heights:
            fill = min(8, max(0, h - floor))
            cells.append(" " if fill == 0 else SPARK_BLOCKS[fill - 1])
        lines.append("".join(cells).rjust(width))
    return lines
