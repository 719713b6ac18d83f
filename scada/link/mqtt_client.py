"""Building the paho client behind :class:`~scada.link.mqtt.MqttLink` from its settings.

The client comes back set up but not connected. It reconnects by itself
(``reconnect_on_failure``) at the delays :class:`~scada.link.mqtt_callbacks.Callbacks` set, runs
with ``suppress_exceptions`` (a callback that raised anyway must not kill the network thread,
defect 4) and has at most :data:`MAX_INFLIGHT` QoS 1 messages on the wire. TLS verifies the
broker's chain always; ``tls_insecure`` skips only the host-name check.
"""

from __future__ import annotations

import ssl
import threading
from typing import Final

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

from scada.link.mqtt_callbacks import Callbacks
from scada.link.mqtt_settings import MqttSettings

MAX_INFLIGHT: Final = 100
"""QoS 1 messages on the wire awaiting the broker's PUBACK (paho queues the rest)."""


def make_client(
    s: MqttSettings, client_id: str, callbacks: Callbacks, *, will: tuple[str, bytes] | None
) -> mqtt.Client:
    """A paho client for ``s`` as ``client_id``, reporting to ``callbacks``.

    ``will`` is the (topic, payload) the broker publishes, retained at QoS 1, when the client
    dies without a clean disconnect. Raises :class:`OSError` (:class:`ssl.SSLError` included)
    or :class:`ValueError` when the client cannot be set up (e.g. an unreadable password, CA,
    certificate or key file); never for a broker problem, which only shows once connecting.
    """
    v5 = s.protocol == "5"
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2,
        client_id=client_id,
        clean_session=None if v5 else True,
        protocol=MQTTProtocolVersion.MQTTv5 if v5 else MQTTProtocolVersion.MQTTv311,
        reconnect_on_failure=True,
    )
    client.suppress_exceptions = True  # belt and braces: our callbacks never raise anyway
    client.connect_timeout = s.connect_timeout_s
    client.max_queued_messages_set(s.max_queued)
    client.max_inflight_messages_set(MAX_INFLIGHT)
    client.reconnect_delay_set(s.reconnect_min_s, s.reconnect_min_s)
    username = s.effective_username()
    if username:
        client.username_pw_set(username, s.read_password())
    if s.tls:
        ctx = ssl.create_default_context(cafile=str(s.ca_file) if s.ca_file else None)
        if s.cert_file is not None:
            ctx.load_cert_chain(str(s.cert_file), str(s.key_file) if s.key_file else None)
        if s.tls_insecure:
            ctx.check_hostname = False  # the chain is still verified
        ctx.sslsocket_class = _ClosingSSLSocket
        client.tls_set_context(ctx)
    if will is not None:
        client.will_set(will[0], will[1], qos=1, retain=True)
    client.on_connect = callbacks.on_connect
    client.on_subscribe = callbacks.on_subscribe
    client.on_disconnect = callbacks.on_disconnect
    client.on_connect_fail = callbacks.on_connect_fail
    client.on_message = callbacks.on_message
    client.on_publish = callbacks.on_publish
    return client


def start_network_thread(client: mqtt.Client) -> threading.Thread | None:
    """Start ``client``'s network loop in a thread of its own and return that thread, for a
    watchdog to check (``None`` if it cannot be told from the others)."""
    before = set(threading.enumerate())
    client.loop_start()
    return next(
        (t for t in threading.enumerate() if t not in before and t.name.startswith("paho-")),
        None,
    )


class _ClosingSSLSocket(ssl.SSLSocket):
    """Closes itself when the TLS handshake fails. paho leaves that socket to the garbage
    collector (an open descriptor, then a ResourceWarning, per failed attempt)."""

    def do_handshake(self, block: bool = False) -> None:
        try:
            super().do_handshake(block)
        except BaseException:
            self.close()
            raise
