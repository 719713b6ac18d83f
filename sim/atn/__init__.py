"""The simulated AtomicTNode (ATN): contracts, heartbeats, price-driven dispatch, acks.

``SimulatedAtn(layout, link_end, clock, price_profile)`` runs against one SCADA over the uplink
seam (in-process now, MQTT later); see :mod:`sim.atn.actor` for how it is put together,
:mod:`sim.atn.contracts` for its contracts, :mod:`sim.atn.dispatch` and :mod:`sim.atn.policy`
for its orders.
"""

from sim.atn.actor import SimulatedAtn
from sim.atn.journal import AtnLog, Entry
from sim.atn.policy import DispatchInputs, DispatchPolicy, Order, decide
from sim.atn.prices import PriceBand, PriceBands, PriceProfile, house_tz, simple_price_profile
from sim.atn.readings import LatestReadings
from sim.atn.timing import AtnTiming

__all__ = [
    "AtnLog",
    "AtnTiming",
    "DispatchInputs",
    "DispatchPolicy",
    "Entry",
    "LatestReadings",
    "Order",
    "PriceBand",
    "PriceBands",
    "PriceProfile",
    "SimulatedAtn",
    "decide",
    "house_tz",
    "simple_price_profile",
]
