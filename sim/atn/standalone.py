"""``sim atn``: the simulated ATN on its own, talking to a SCADA over MQTT.

The ATN only needs an :class:`~scada.link.base.Uplink`; here it is an
:class:`~scada.link.MqttLink` end with ``me`` = the house's (ATN) alias and ``peer`` = its SCADA
alias, against the broker ``--broker mqtt[s]://host:port`` names (credentials and TLS from the
same ``SCADA_MQTT_*`` variables the SCADA reads; the client id defaults to the ATN alias). It
runs in real time until SIGTERM or Ctrl-C, reconnecting by itself while the broker is away.
Start ``scada serve --sim --broker URL`` on the same broker and the house goes to
RemoteControl under this ATN.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys

from pydantic import ValidationError

from scada.clock import SystemClock
from scada.layout import Layout, LayoutError, find_house, load_layout
from scada.link import MqttLink, MqttSettings
from scada.link.mqtt_settings import describe_settings_error
from sim.atn.actor import SimulatedAtn
from sim.atn.prices import PriceProfile
from sim.house.errors import ProfileError
from sim.house.profiles import load_prices

log = logging.getLogger("sim.atn")

EXIT_USAGE = 2

NEEDS_BROKER = (
    "sim atn: needs --broker mqtt://HOST:PORT (or mqtts://...) to reach the SCADA over MQTT"
)


def main(house: str, broker: str | None, *, log_level: str = "info") -> int:
    """Run the ATN for ``house`` against ``broker`` until stopped; the exit status."""
    try:
        layout = load_layout(find_house(house))
    except LayoutError as e:
        print(f"sim atn: {e}", file=sys.stderr)
        return EXIT_USAGE
    if not broker:
        print(NEEDS_BROKER, file=sys.stderr)
        return EXIT_USAGE
    try:
        settings = MqttSettings.from_env(url=broker)
    except (ValidationError, ValueError) as e:
        print(f"sim atn: {describe_settings_error(e)}", file=sys.stderr)
        return EXIT_USAGE
    logging.basicConfig(
        stream=sys.stderr,
        level=getattr(logging, log_level.upper(), logging.INFO),
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
    )
    asyncio.run(run(layout, settings))
    return 0


async def run(layout: Layout, settings: MqttSettings) -> None:
    """The ATN over MQTT until SIGTERM/SIGINT (or cancellation)."""
    clock = SystemClock()
    link = MqttLink(settings, layout.house.alias, layout.house.scada, clock)
    atn = SimulatedAtn(layout, link, clock, _prices(layout))
    print(
        f"sim atn: {layout.house.alias} dispatching {layout.house.scada} "
        f"via {settings.display_url} (Ctrl-C to stop)",
        file=sys.stderr,
        flush=True,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    task = asyncio.create_task(atn.run(), name="sim-atn")
    stopper = asyncio.create_task(stop.wait(), name="sim-atn:stop")
    try:
        await asyncio.wait({task, stopper}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for t in (task, stopper):
            t.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.gather(task, stopper, return_exceptions=True)
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
    failure = task.exception() if task.done() and not task.cancelled() else None
    if failure is not None:
        raise failure
    log.info("stopped")


def _prices(layout: Layout) -> PriceProfile | None:
    sim = layout.simulation
    if sim is None:
        return None
    try:
        return load_prices(sim.price_profile, tz=layout.house.time_zone).at
    except ProfileError as e:
        log.warning("no price profile for the simulated ATN: %s", e)
        return None
