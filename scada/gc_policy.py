"""The cycle collector's thresholds for the SCADA's own processes (``scada``, ``sim``).

CPython looks for reference cycles among its youngest objects after every 700 allocations of
container objects, and each such pass walks the whole young generation. The runtime makes tens of
thousands of short-lived containers a simulated day (messages, readings, timer handles), and
reference counting frees nearly all of them the moment they are dropped: the passes find next to
nothing. On the 28-day walkthrough of dw1 the collector took 2.4 s at CPython's thresholds and
under 0.1 s at these. The price is that cyclic garbage waits longer to be freed: at most
:data:`YOUNG_THRESHOLD` container objects more, a few MB.
"""

from __future__ import annotations

import gc

YOUNG_THRESHOLD = 50_000
"""Allocations of container objects (net of frees) between two passes over the youngest
generation; the older generations keep CPython's ratios to it."""


def tune() -> None:
    """Set :data:`YOUNG_THRESHOLD`. Process-wide, so called by entry points, not libraries."""
    _, middle, oldest = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, oldest)
