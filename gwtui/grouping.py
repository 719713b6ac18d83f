"""Grouping channels by the house's structure (tank layers, pipes, zones, flow, power).

The console sees only what the wire says about a channel (its name, node alias, quantity and
unit), never the layout file, so the structure is read from those: a water temperature on a
``tank`` node numbered ``tempN`` is a tank layer, other water temperatures are pipes, air
temperatures are zones and rooms, except on an ``outdoors`` node (the outdoor air, which drives the
heat load and is read apart from the rooms), and flow and power are their own groups.
Anything new lands in "Other" rather than disappearing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import IntEnum
from typing import Final


class ChannelGroup(IntEnum):
    """Display order of the groups (tank first: it is what an installer looks at first)."""

    TANK = 0
    PIPES = 1
    ZONES = 2
    OUTDOOR = 3
    FLOW = 4
    POWER = 5
    OTHER = 6

    @property
    def title(self) -> str:
        return GROUP_TITLES[self]


GROUP_TITLES: Final = {
    ChannelGroup.TANK: "Tank",
    ChannelGroup.PIPES: "Pipes",
    ChannelGroup.ZONES: "Zones",
    ChannelGroup.OUTDOOR: "Outdoor",
    ChannelGroup.FLOW: "Flow",
    ChannelGroup.POWER: "Power",
    ChannelGroup.OTHER: "Other",
}

_TANK_LAYER = re.compile(r"(?:^|\.)(?:tank|store|buffer)\w*\.temp(\d+)$")
_OUTDOORS = re.compile(r"(?:^|\.)outdoors?(?:\.|$)")


@dataclass(frozen=True, slots=True, order=True)
class GroupKey:
    """Where a channel sorts: its group, then its tank layer, then its place on the wire."""

    group: ChannelGroup
    layer: int
    position: int


def classify(node: str, quantity: str) -> ChannelGroup:
    """The group a channel belongs to."""
    q = quantity.lower()
    if q == "water_temp":
        return ChannelGroup.TANK if _TANK_LAYER.search(node) else ChannelGroup.PIPES
    if q == "outdoor_temp":
        return ChannelGroup.OUTDOOR
    if q in ("air_temp", "room_temp", "humidity"):
        return ChannelGroup.OUTDOOR if _OUTDOORS.search(node) else ChannelGroup.ZONES
    if q.startswith("flow"):
        return ChannelGroup.FLOW
    if q in ("power", "energy", "current", "voltage"):
        return ChannelGroup.POWER
    return ChannelGroup.OTHER


def group_key(node: str, quantity: str, position: int) -> GroupKey:
    """Sort key: tank layers top to bottom by layer number, the rest in wire order."""
    group = classify(node, quantity)
    layer = 0
    if group is ChannelGroup.TANK:
        match = _TANK_LAYER.search(node)
        layer = int(match.group(1)) if match else 0
    return GroupKey(group, layer, position)
