"""MqttSettings: URLs, environment variables, secrets kept out of sight. No broker needed."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from scada.link import MqttSettings


def test_plain_and_tls_urls_with_default_ports() -> None:
    plain = MqttSettings(url="mqtt://broker.example")
    assert (plain.host, plain.port, plain.tls) == ("broker.example", 1883, False)
    tls = MqttSettings(url="mqtts://broker.example")
    assert (tls.host, tls.port, tls.tls) == ("broker.example", 8883, True)
    local = MqttSettings(url="mqtt://127.0.0.1:18830")
    assert local.port == 18830
    assert local.display_url == "mqtt://127.0.0.1:18830"


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("http://broker", "must start with mqtt:// or mqtts://"),
        ("broker:1883", "must start with mqtt:// or mqtts://"),
        ("mqtt://", "names no host"),
        ("mqtt://broker:notaport", "bad port"),
        ("mqtt://broker/some/path", "only mqtt[s]://host[:port]"),
    ],
)
def test_bad_urls_are_refused_with_the_reason(url: str, says: str) -> None:
    with pytest.raises(ValidationError, match=says.replace("[", r"\[").replace("]", r"\]")):
        MqttSettings(url=url)


def test_a_password_in_the_url_is_refused_without_echoing_it() -> None:
    with pytest.raises(ValidationError) as err:
        MqttSettings(url="mqtt://scada:hunter2@broker")
    text = str(err.value)
    assert "hunter2" not in text
    assert "SCADA_MQTT_PASSWORD" in text


def test_the_password_never_shows() -> None:
    s = MqttSettings(url="mqtt://broker", username="scada", password="hunter2")
    assert "hunter2" not in repr(s)
    assert "hunter2" not in str(s)
    assert "hunter2" not in s.model_dump_json()
    assert s.read_password() == "hunter2"


def test_tls_settings_need_mqtts() -> None:
    with pytest.raises(ValidationError, match="use mqtts://"):
        MqttSettings(url="mqtt://broker", ca_file=Path("/etc/ca.pem"))


def test_consistency_checks() -> None:
    with pytest.raises(ValidationError, match="needs a username"):
        MqttSettings(url="mqtt://b", password="x")
    with pytest.raises(ValidationError, match="not both"):
        MqttSettings(url="mqtt://b", username="u", password="x", password_file=Path("/p"))
    with pytest.raises(ValidationError, match="needs its certificate"):
        MqttSettings(url="mqtts://b", key_file=Path("/k"))
    with pytest.raises(ValidationError, match="reconnect_max_s"):
        MqttSettings(url="mqtt://b", reconnect_min_s=10, reconnect_max_s=5)
    with pytest.raises(ValidationError):
        MqttSettings(url="mqtt://b", reconnect_min_s=0)  # never a busy loop


def test_from_the_environment_with_explicit_values_winning(tmp_path: Path) -> None:
    env = {
        "SCADA_MQTT_URL": "mqtts://broker.example:8884",
        "SCADA_MQTT_USERNAME": "scada",
        "SCADA_MQTT_PASSWORD": "hunter2",
        "SCADA_MQTT_CA_FILE": str(tmp_path / "ca.pem"),
        "SCADA_MQTT_KEEPALIVE_S": "15",
        "SCADA_MQTT_TLS_INSECURE": "false",
        "SCADA_MQTT_RECONNECT_MAX_S": "120",
        "OTHER": "ignored",
    }
    s = MqttSettings.from_env(env)
    assert s.port == 8884
    assert s.username == "scada"
    assert s.read_password() == "hunter2"
    assert s.ca_file == tmp_path / "ca.pem"
    assert s.keepalive_s == 15
    assert s.reconnect_max_s == 120
    assert s.tls_insecure is False
    over = MqttSettings.from_env(env, url="mqtts://other:1234", client_id=None)
    assert over.host == "other"
    assert over.client_id is None  # None overrides nothing


def test_from_the_process_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    secret = tmp_path / "pw"
    secret.write_text("s3cret\n")
    monkeypatch.setenv("SCADA_MQTT_URL", "mqtt://10.0.0.2")
    monkeypatch.setenv("SCADA_MQTT_USERNAME", "scada")
    monkeypatch.setenv("SCADA_MQTT_PASSWORD_FILE", str(secret))
    s = MqttSettings.from_env()
    assert s.host == "10.0.0.2"
    assert s.read_password() == "s3cret"


def test_without_a_url_anywhere() -> None:
    with pytest.raises(ValueError, match="SCADA_MQTT_URL"):
        MqttSettings.from_env({})
