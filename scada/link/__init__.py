"""The uplink seam: how the SCADA talks to its ATN, whatever carries the messages."""

from scada.link.base import Uplink, UplinkHandler
from scada.link.inprocess import InProcessLink, LinkEnd

__all__ = ["InProcessLink", "LinkEnd", "Uplink", "UplinkHandler"]
