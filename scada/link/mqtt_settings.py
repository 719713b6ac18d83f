"""How the SCADA (or a simulated ATN) reaches its MQTT broker.

Every value comes from explicit arguments or, through :meth:`MqttSettings.from_env`, from
``SCADA_MQTT_*`` environment variables (explicit values win):

=============================  ==============================================================
``SCADA_MQTT_URL``             ``mqtt://host[:port]`` (1883) or ``mqtts://host[:port]`` (8883)
``SCADA_MQTT_CLIENT_ID``       MQTT client id (default: the link's own alias)
``SCADA_MQTT_USERNAME``        user name, if the broker wants one
``SCADA_MQTT_PASSWORD``        its password (never logged, never in ``repr``)
``SCADA_MQTT_PASSWORD_FILE``   or a file holding it (systemd credentials, a 0600 file)
``SCADA_MQTT_CA_FILE``         CA bundle that signed the broker's certificate (``mqtts``;
                               default: the system's CAs)
``SCADA_MQTT_CERT_FILE``       client certificate (PEM) for brokers that require one
``SCADA_MQTT_KEY_FILE``        its private key (PEM; default: inside the certificate file)
``SCADA_MQTT_TLS_INSECURE``    ``true`` skips the host-name check (the chain is still
                               verified); for a broker reached by an address its
                               certificate does not name. Default false.
``SCADA_MQTT_KEEPALIVE_S``     MQTT keepalive, passed to the client (default 30 s: a
                               half-open connection is noticed within about 45 s)
``SCADA_MQTT_RECONNECT_MIN_S`` first reconnect delay (default 1 s)
``SCADA_MQTT_RECONNECT_MAX_S`` cap of the doubling, jittered reconnect delay (default 60 s)
``SCADA_MQTT_PROTOCOL``        ``3.1.1`` (default) or ``5``
=============================  ==============================================================

Secrets never travel in the URL: ``mqtt://user:secret@host`` is refused with a message saying
where the password goes instead (defect 28: committed device credentials).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

ENV_PREFIX = "SCADA_MQTT_"
DEFAULT_PORTS = {"mqtt": 1883, "mqtts": 8883}


class MqttSettings(BaseModel):
    """Broker address, identity, credentials, TLS and timing of one MQTT link."""

    # hide_input: a validation error must never echo a secret (a password in a URL, say).
    model_config = ConfigDict(frozen=True, extra="forbid", hide_input_in_errors=True)

    url: str = Field(description="mqtt://host[:port] or mqtts://host[:port]")
    client_id: str | None = Field(
        default=None, max_length=128, description="default: the link's own alias"
    )
    username: str | None = None
    password: SecretStr | None = None
    password_file: Path | None = None
    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    tls_insecure: bool = False
    keepalive_s: int = Field(default=30, ge=1, le=65535)
    reconnect_min_s: int = Field(default=1, ge=1, le=3600)
    reconnect_max_s: int = Field(default=60, ge=1, le=86400)
    connect_timeout_s: float = Field(default=5.0, gt=0, le=120)
    protocol: Literal["3.1.1", "5"] = "3.1.1"
    max_queued: int = Field(
        default=10_000,
        ge=1,
        description="most outgoing QoS 1 messages the client holds unacknowledged by the broker",
    )

    @field_validator("url")
    @classmethod
    def _check_url(cls, v: str) -> str:
        v = v.strip()
        shown = _redact(v)
        parts = urlsplit(v)
        if parts.password is not None:
            raise ValueError(
                f"the broker URL {shown!r} must not carry a password: set "
                f"{ENV_PREFIX}PASSWORD or {ENV_PREFIX}PASSWORD_FILE instead"
            )
        if parts.scheme not in DEFAULT_PORTS:
            raise ValueError(
                f"broker URL {shown!r} must start with mqtt:// or mqtts:// "
                "(e.g. mqtt://127.0.0.1:1883)"
            )
        if not parts.hostname:
            raise ValueError(f"broker URL {shown!r} names no host")
        try:
            parts.port  # noqa: B018 - raises ValueError on a bad port
        except ValueError:
            raise ValueError(f"broker URL {shown!r} has a bad port") from None
        if parts.path not in ("", "/") or parts.query or parts.fragment:
            raise ValueError(f"broker URL {shown!r}: only mqtt[s]://host[:port] is understood")
        return v

    @model_validator(mode="after")
    def _check(self) -> MqttSettings:
        if self.reconnect_max_s < self.reconnect_min_s:
            raise ValueError("reconnect_max_s must be >= reconnect_min_s")
        if not self.tls and (self.ca_file or self.cert_file or self.key_file or self.tls_insecure):
            raise ValueError(
                "TLS settings given for a plain mqtt:// broker URL: use mqtts:// to enable TLS"
            )
        if self.key_file is not None and self.cert_file is None:
            raise ValueError("a client key file needs its certificate (cert_file)")
        if self.password is not None and self.password_file is not None:
            raise ValueError("give the password or a password file, not both")
        if (self.password is not None or self.password_file is not None) and not self.username:
            raise ValueError("a password needs a username")
        return self

    # ------------------------------------------------------------------ derived
    @property
    def tls(self) -> bool:
        return urlsplit(self.url).scheme == "mqtts"

    @property
    def host(self) -> str:
        host = urlsplit(self.url).hostname
        assert host is not None  # checked by the validator
        return host

    @property
    def port(self) -> int:
        parts = urlsplit(self.url)
        return parts.port or DEFAULT_PORTS[parts.scheme]

    @property
    def url_username(self) -> str | None:
        return urlsplit(self.url).username

    @property
    def display_url(self) -> str:
        """``mqtts://host:port``: safe to log."""
        return f"{'mqtts' if self.tls else 'mqtt'}://{self.host}:{self.port}"

    def effective_username(self) -> str | None:
        return self.username or self.url_username

    def read_password(self) -> str | None:
        """The password, from the setting or the file (first line, stripped); OSError if the file
        cannot be read."""
        if self.password is not None:
            return self.password.get_secret_value()
        if self.password_file is not None:
            lines = self.password_file.read_text(encoding="utf-8").splitlines()
            return lines[0].strip() if lines else ""
        return None

    # -------------------------------------------------------------------- build
    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> MqttSettings:
        """Settings from ``SCADA_MQTT_*`` variables (of ``environ``, default ``os.environ``),
        with ``overrides`` (those not ``None``) taking precedence."""
        given = {k: v for k, v in overrides.items() if v is not None}
        if environ is None:
            env = _EnvSettings()
        else:
            env = _EnvSettings.model_validate(
                {
                    k[len(ENV_PREFIX) :].lower(): v
                    for k, v in environ.items()
                    if k.startswith(ENV_PREFIX)
                }
            )
        values = {k: v for k, v in env.model_dump(exclude_unset=True).items() if v is not None}
        values.update(given)
        if "url" not in values:
            raise ValueError(f"no broker URL: pass one or set {ENV_PREFIX}URL")
        return cls.model_validate(values)


class _EnvSettings(BaseSettings):
    """The raw ``SCADA_MQTT_*`` values; validated for real by :class:`MqttSettings`."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, extra="ignore", case_sensitive=False, hide_input_in_errors=True
    )

    url: str | None = None
    client_id: str | None = None
    username: str | None = None
    password: SecretStr | None = None
    password_file: Path | None = None
    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    tls_insecure: bool | None = None
    keepalive_s: int | None = None
    reconnect_min_s: int | None = None
    reconnect_max_s: int | None = None
    connect_timeout_s: float | None = None
    protocol: Literal["3.1.1", "5"] | None = None
    max_queued: int | None = None


def describe_settings_error(exc: Exception) -> str:
    """One line for a person from a settings error (a pydantic ``ValidationError`` or the
    ``ValueError`` of :meth:`MqttSettings.from_env`); never includes the input values."""
    if isinstance(exc, ValidationError):
        problems = []
        for err in exc.errors(include_url=False, include_input=False):
            field = ".".join(str(p) for p in err["loc"])
            text = err["msg"].removeprefix("Value error, ")
            problems.append(f"{field}: {text}" if field else text)
        return "MQTT settings: " + "; ".join(problems)
    return f"MQTT settings: {exc}"


def _redact(url: str) -> str:
    """``url`` with any password in it replaced by ``***``."""
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:
        return "<unparsable URL>"
    if password is None:
        return url
    return url.replace(f":{password}@", ":***@", 1)
