"""The real mosquitto fixtures of the link tests, for the uplink's fault tests."""

from tests.link.conftest import broker, mosquitto_bin

__all__ = ["broker", "mosquitto_bin"]
