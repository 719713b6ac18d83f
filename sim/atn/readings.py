"""The simulated ATN's picture of the house: the latest value of each channel, from statuses
(every reading of a 5-minute slot, of which the last counts) and snapshots (latest value and
health per channel)."""

from __future__ import annotations

from datetime import datetime

from scada.protocol import ChannelHealth, Snapshot, Status


class LatestReadings:
    """Latest value and read time per channel; a channel the SCADA reports unhealthy is
    forgotten until it reads again."""

    def __init__(self) -> None:
        self.latest: dict[str, tuple[float, datetime]] = {}

    def update(self, channel: str, value: float, read_at: datetime) -> None:
        known = self.latest.get(channel)
        if known is None or read_at >= known[1]:
            self.latest[channel] = (value, read_at)

    def from_status(self, status: Status) -> None:
        for series in status.channels:
            if series.values:
                self.update(series.channel, series.values[-1], series.read_time(status.slot_start))

    def from_snapshot(self, snapshot: Snapshot) -> None:
        for ch in snapshot.channels:
            if ch.health is ChannelHealth.OK and ch.value is not None and ch.read_at is not None:
                self.update(ch.channel, ch.value, ch.read_at)
            elif ch.health is not ChannelHealth.OK:
                self.latest.pop(ch.channel, None)

    def fresh(self, now: datetime, max_age_s: float) -> dict[str, float]:
        """Channel -> value for every channel read within ``max_age_s`` of ``now``."""
        return {
            ch: value
            for ch, (value, read_at) in self.latest.items()
            if (now - read_at).total_seconds() <= max_age_s
        }
