"""``sim atn``: the simulated ATN on its own, talking to a SCADA over MQTT.

The ATN only needs an :class:`~scada.link.base.Uplink`; the in-process link exists only inside
one process (``scada serve`` runs the simulated ATN itself), so on its own it needs a broker.
The MQTT uplink comes with its own issue: until then this checks its arguments and explains,
with exit status 2, that it cannot run yet.
"""

from __future__ import annotations

import sys

from scada.layout import LayoutError, find_house, load_layout

EXIT_USAGE = 2

NEEDS_BROKER = (
    "sim atn: needs --broker HOST[:PORT] to reach a SCADA over MQTT "
    "(the MQTT uplink comes in a later issue)"
)
NO_MQTT_YET = "sim atn: cannot reach {broker}: the MQTT uplink is not built yet (a later issue)"


def main(house: str, broker: str | None) -> int:
    """Check the arguments and run the ATN for ``house`` against ``broker``; the exit status."""
    try:
        load_layout(find_house(house))
    except LayoutError as e:
        print(f"sim atn: {e}", file=sys.stderr)
        return EXIT_USAGE
    if not broker:
        print(NEEDS_BROKER, file=sys.stderr)
        return EXIT_USAGE
    print(NO_MQTT_YET.format(broker=broker), file=sys.stderr)
    return EXIT_USAGE
