"""The channels the control core reads: the only readings a control decision depends on."""

from __future__ import annotations

from scada.layout import ControlSettings


def control_channels(settings: ControlSettings) -> tuple[str, ...]:
    """Every channel that :func:`~scada.control.home_alone.decide` or
    :func:`~scada.control.interlocks.apply` looks at: room, tank, pipe and outdoor temperatures.

    A controller hands the core the readings of these alone, so a new reading of any other
    channel (power, flow) leaves the inputs of a decision, and so the decision, unchanged.
    """
    names = [z.room_channel for z in settings.zones]
    names += settings.tank_layers
    names += settings.freeze_channels
    if settings.outdoor_channel is not None:
        names.append(settings.outdoor_channel)
    return tuple(dict.fromkeys(names))
