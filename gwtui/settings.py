"""The console's settings: what the command line sets, and the timings tests may shorten."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ConsoleSettings:
    socket: Path | None = None
    """The SCADA's socket; ``None`` looks in the usual places (``scada.api.paths``)."""
    readonly: bool = False
    """Nothing can be changed: every changing action is hidden and refused."""
    operator: str = "installer"
    """Who is at the keyboard; goes into the SCADA's audit log with every change."""
    hold_minutes: float = 30.0
    """The hold length the hold dialog suggests."""
    keepalive_s: float = 15.0
    """How often the console tells the SCADA it is still there while it holds."""
    refresh_s: float = 0.05
    """How long readings are gathered before the tables redraw (bounds latency and CPU)."""
    tick_s: float = 1.0
    """How often ages and countdowns move."""
    flash_s: float = 1.0
    """How long a changed value stays highlighted."""
    confirm_guard_s: float = 0.3
    """Confirm presses this soon after a confirmation opens are ignored (key auto-repeat)."""
    reconnect_first_s: float = 0.25
    """First wait before re-attaching (a SCADA restart takes about a second)."""
    reconnect_cap_s: float = 5.0
    """Longest wait between attempts while the SCADA stays away."""
    reconnect_jitter: float = 0.2
    """Share by which each wait is varied at random (0 in tests: reproducible screens)."""
    offer_simulation: bool = True
    """With no SCADA running, offer to start a simulated one."""
    resync_s: float = 30.0
    """How often the whole snapshot is fetched again, besides after hold, mode, contract and
    device news (so a detail the event stream missed never lingers on screen)."""
    backfill_events: int = 200
    """How many recent events to fetch into the log on attach."""
