"""The uplink seam: how the SCADA talks to its ATN, whatever carries the messages."""

from scada.link.base import Uplink, UplinkHandler
from scada.link.inprocess import InProcessLink, LinkEnd
from scada.link.mqtt import MqttLink
from scada.link.mqtt_outbound import QOS1_TYPES
from scada.link.mqtt_settings import MqttSettings
from scada.link.mqtt_types import LinkStats, Publication

__all__ = [
    "QOS1_TYPES",
    "InProcessLink",
    "LinkEnd",
    "LinkStats",
    "MqttLink",
    "MqttSettings",
    "Publication",
    "Uplink",
    "UplinkHandler",
]
