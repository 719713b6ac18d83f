"""The SCADA's settings: one model, four sources, every value traced to where it came from.

Priority, highest first: command-line flags > ``SCADA_*`` environment variables >
``/etc/gwscada/scada.toml`` (``$SCADA_CONFIG``) > defaults. Secrets (the broker password, the
TLS client key) live apart in ``/etc/gwscada/secrets.toml`` (``$SCADA_SECRETS``, mode 0640
root:gwscada) or in the environment, are held as :class:`~pydantic.SecretStr` and never logged.
A secret in ``scada.toml``, or a non-secret in ``secrets.toml``, is a problem, not a fallback.

The SCADA only ever *reads* these files: nothing here writes them (defect 28 of the original:
the 2025 SCADA rewrote its own ``.env``). ``scada install-service`` writes the first
``scada.toml`` once and never overwrites it.

Every problem is one line ``source: key: what`` — the file and its key (``mqtt.url``), the
environment variable, or the flag — and :func:`load_settings` reports all of them at once.

The files are flat TOML, the broker's keys in an ``[mqtt]`` table (the fields of
:class:`scada.link.mqtt_settings.MqttSettings`, ``SCADA_MQTT_*`` in the environment)::

    house = "w.isone.nh.orange.1"
    log_level = "info"

    [mqtt]
    url = "mqtts://broker.example.net:8883"
    username = "w-isone-nh-orange-1"
    ca_file = "/etc/gwscada/ca.pem"
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Final, Literal, get_args

from pydantic import BeforeValidator, Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from scada.link.mqtt_settings import MqttSettings
from scada.settings_sources import (
    CONFIG_ENV,
    CONFIG_PATH,
    ENV_PREFIX,
    MQTT_PREFIX,
    SECRET_FIELDS,
    SECRETS_ENV,
    SECRETS_PATH,
    EnvSource,
    FileSource,
    FlagSource,
    Origin,
    SettingsError,
    SettingsProblem,
    Source,
    config_path,
    env_name,
    file_key,
    flag_name,
    secrets_path,
)

__all__ = [
    "CONFIG_PATH",
    "MQTT_PREFIX",
    "SECRETS_PATH",
    "SECRET_FIELDS",
    "LoadedSettings",
    "Origin",
    "ScadaSettings",
    "SettingsError",
    "SettingsProblem",
    "env_name",
    "file_key",
    "flag_name",
    "load_settings",
    "secrets_file_warnings",
    "show_value",
]
MASK: Final = "********"

LogLevel = Literal["debug", "info", "warning", "error"]


def _lower(value: object) -> object:
    return value.strip().lower() if isinstance(value, str) else value


class ScadaSettings(BaseSettings):
    """Everything about one SCADA installation that is not in the house layout."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="forbid", frozen=True)

    house: str | None = Field(
        default=None, description="The house alias to run (a file in the houses folder)."
    )
    layout: Path | None = Field(default=None, description="A layout file to run instead.")
    simulated: bool = Field(default=False, description="Run the house simulated.")
    socket: Path | None = Field(default=None, description="The local API socket.")
    data_dir: Path | None = Field(default=None, description="Where the store keeps its data.")
    log_level: Annotated[LogLevel, BeforeValidator(_lower)] = Field(
        default="info", description="debug, info, warning or error."
    )
    # The uplink's broker: one field per field of scada.link.mqtt_settings.MqttSettings
    # (``[mqtt]`` in the files, ``SCADA_MQTT_*`` in the environment; None: MqttSettings'
    # default). :meth:`mqtt_settings` builds that model; its rules are checked on load.
    mqtt_url: str | None = Field(
        default=None, description="mqtt://host:1883 or mqtts://host:8883; not set: no uplink."
    )
    mqtt_client_id: str | None = Field(default=None, description="MQTT client id.")
    mqtt_username: str | None = Field(default=None, description="MQTT user name.")
    mqtt_password: SecretStr | None = Field(default=None, description="MQTT password.")
    mqtt_password_file: Path | None = Field(
        default=None, description="A file holding the password instead."
    )
    mqtt_ca_file: Path | None = Field(default=None, description="CA bundle for TLS.")
    mqtt_cert_file: Path | None = Field(default=None, description="TLS client certificate.")
    mqtt_key_file: SecretStr | None = Field(
        default=None, description="TLS client key: its path (a secret)."
    )
    mqtt_tls_insecure: bool | None = Field(default=None, description="Skip the host-name check.")
    mqtt_keepalive_s: int | None = Field(default=None, description="MQTT keepalive.")
    mqtt_reconnect_min_s: int | None = Field(default=None, description="First reconnect delay.")
    mqtt_reconnect_max_s: int | None = Field(default=None, description="Longest reconnect delay.")
    mqtt_connect_timeout_s: float | None = Field(default=None, description="Connect timeout.")
    mqtt_protocol: Literal["3.1.1", "5"] | None = Field(default=None, description="3.1.1 or 5.")
    mqtt_max_queued: int | None = Field(
        default=None, description="Most outgoing QoS 1 messages held unacknowledged."
    )
    console_group: str = Field(
        default="gwscada",
        min_length=1,
        description="Members of this group may attach a console (gwtui, scada status).",
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,  # noqa: ARG003 - replaced by EnvSource
        dotenv_settings: PydanticBaseSettingsSource,  # noqa: ARG003 - no .env files, ever
        file_secret_settings: PydanticBaseSettingsSource,  # noqa: ARG003 - secrets.toml instead
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Keyword arguments, then the environment, then the two files (the same sources
        :func:`load_settings` reads; it validates each on its own to name the source of
        every problem, then builds the model from what it merged)."""
        if _GIVEN_ONLY.get():
            return (init_settings,)
        env = dict(os.environ)
        return (
            init_settings,
            EnvSource(settings_cls, env),
            FileSource(settings_cls, config_path(env), secrets=False),
            FileSource(settings_cls, secrets_path(env), secrets=True),
        )

    # ------------------------------------------------------------- derived values

    def mqtt_settings(self) -> MqttSettings | None:
        """The uplink's :class:`MqttSettings`, or None when no broker is configured.

        Raises:
            pydantic.ValidationError: when the ``mqtt`` values break MqttSettings' rules
                (:func:`load_settings` has checked that already).
        """
        if self.mqtt_url is None:
            return None
        values: dict[str, Any] = {}
        for name in MqttSettings.model_fields:
            value = getattr(self, MQTT_PREFIX + name)
            if value is not None:
                values[name] = value
        if self.mqtt_key_file is not None:
            values["key_file"] = Path(self.mqtt_key_file.get_secret_value())
        return MqttSettings.model_validate(values)

    def socket_path(self, env: Mapping[str, str] | None = None) -> Path:
        """The socket to serve on: the setting, else systemd's ``$RUNTIME_DIRECTORY``, else the
        rules of :func:`scada.api.paths.default_socket_path`."""
        from scada.api.paths import SOCKET_NAME, default_socket_path  # noqa: PLC0415

        environ = os.environ if env is None else env
        if self.socket is not None:
            return self.socket
        runtime_dir = environ.get("RUNTIME_DIRECTORY", "").split(":")[0]
        if runtime_dir:
            return Path(runtime_dir) / SOCKET_NAME
        return default_socket_path(env=environ)

    def data_path(self, env: Mapping[str, str] | None = None) -> Path:
        """The data folder: the setting, else systemd's ``$STATE_DIRECTORY``, else the
        per-user default of :func:`scada.runtime.data_dir_default`."""
        environ = os.environ if env is None else env
        if self.data_dir is not None:
            return self.data_dir
        state_dir = environ.get("STATE_DIRECTORY", "").split(":")[0]
        if state_dir:
            return Path(state_dir)
        if env_dir := environ.get("SCADA_DATA_DIR"):
            return Path(env_dir)
        base = environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
        return Path(base) / "gwscada"


_GIVEN_ONLY: ContextVar[bool] = ContextVar("scada_settings_given_only", default=False)


@contextlib.contextmanager
def _given_only() -> Iterator[None]:
    """Within: ``ScadaSettings(**values)`` validates ``values`` alone (no env, no files)."""
    token = _GIVEN_ONLY.set(True)
    try:
        yield
    finally:
        _GIVEN_ONLY.reset(token)


# -------------------------------------------------------------------- loading


@dataclass(frozen=True, slots=True)
class LoadedSettings:
    """The effective settings, where each came from, and notes worth a warning."""

    settings: ScadaSettings
    origins: Mapping[str, Origin]
    config_file: Path
    config_exists: bool
    secrets_file: Path
    secrets_exists: bool
    warnings: tuple[str, ...] = ()

    def rows(self, env: Mapping[str, str] | None = None) -> list[tuple[str, str, str]]:
        """``(file key, value as shown, origin)`` per setting; secrets masked, and the socket
        and data folder shown as they resolve when not set."""
        out = []
        s = self.settings
        for name in ScadaSettings.model_fields:
            value: object = getattr(s, name)
            origin = str(self.origins[name])
            if name == "socket" and value is None:
                value, origin = s.socket_path(env), "default (resolved)"
            elif name == "data_dir" and value is None:
                value, origin = s.data_path(env), "default (resolved)"
            elif name.startswith(MQTT_PREFIX) and value is None and s.mqtt_url is not None:
                sub = MqttSettings.model_fields.get(name.removeprefix(MQTT_PREFIX))
                if sub is not None and not sub.is_required() and sub.default is not None:
                    value = sub.default
            out.append((file_key(name), show_value(value), origin))
        return out

    def as_json(self, env: Mapping[str, str] | None = None) -> dict[str, Any]:
        return {
            "config_file": {"path": str(self.config_file), "exists": self.config_exists},
            "secrets_file": {"path": str(self.secrets_file), "exists": self.secrets_exists},
            "settings": {
                key: {"value": value, "source": origin} for key, value, origin in self.rows(env)
            },
            "warnings": list(self.warnings),
        }


def show_value(value: object) -> str:
    """A value as shown to a person: secrets masked, None as ``(not set)``."""
    if value is None:
        return "(not set)"
    if isinstance(value, SecretStr):
        return MASK
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def load_settings(
    flags: Mapping[str, object] | None = None,
    env: Mapping[str, str] | None = None,
) -> LoadedSettings:
    """Read every source, check each on its own, and merge them by priority.

    ``flags`` maps field names to the values given on the command line (None: not given).
    ``env`` defaults to the process environment; it also names the files
    (``$SCADA_CONFIG``, ``$SCADA_SECRETS``).

    Raises:
        SettingsError: with one :class:`SettingsProblem` per problem, across all sources.
    """
    environ = dict(os.environ if env is None else env)
    cls = ScadaSettings
    flag_src = FlagSource(cls, flags or {})
    env_src = EnvSource(cls, environ)
    config = FileSource(
        cls, config_path(environ), secrets=False, required=bool(environ.get(CONFIG_ENV))
    )
    secrets = FileSource(
        cls, secrets_path(environ), secrets=True, required=bool(environ.get(SECRETS_ENV))
    )
    sources: tuple[Source, ...] = (flag_src, env_src, config, secrets)
    problems: list[SettingsProblem] = []
    for src in sources:
        problems.extend(src.problems)
        problems.extend(_check(src))
        problems.extend(_check_choice(src))
    if problems:
        raise SettingsError(problems)
    merged, origins = _merge(sources)
    with _given_only():
        settings = cls(**merged)
    problems = _check_mqtt(settings, origins, sources)
    if problems:
        raise SettingsError(problems)
    warnings = list(env_src.unknown)
    if settings.mqtt_url is None:
        given = [file_key(n) for n in merged if n.startswith(MQTT_PREFIX)]
        if given:
            warnings.append(f"{', '.join(given)} given but no mqtt.url: there is no uplink")
    if secrets.exists:
        warnings.extend(secrets_file_warnings(secrets.path))
    return LoadedSettings(
        settings=settings,
        origins=origins,
        config_file=config.path,
        config_exists=config.exists,
        secrets_file=secrets.path,
        secrets_exists=secrets.exists,
        warnings=tuple(warnings),
    )


def secrets_file_warnings(path: Path) -> list[str]:
    """Why the secrets file's mode is unsafe (it should be 0640 root:gwscada), if it is."""
    try:
        mode = path.stat().st_mode & 0o777
    except OSError:
        return []
    if mode & 0o007:
        fix = f"sudo chmod 0640 {path} && sudo chgrp gwscada {path}"
        return [f"{path}: mode {mode:04o} lets every user read the secrets: {fix}"]
    return []


def _check(src: Source) -> list[SettingsProblem]:
    """Validate one source's values on their own; each error names the source and key."""
    if not src.values:
        return []
    try:
        with _given_only():
            ScadaSettings(**src.values)
    except ValidationError as e:
        out = []
        for err in e.errors(include_url=False):
            name = str(err["loc"][0]) if err["loc"] else ""
            key = src.keys.get(name, name)
            out.append(SettingsProblem(src.label, key, _what(name, err, src.values.get(name))))
        return out
    return []


def _check_mqtt(
    settings: ScadaSettings, origins: Mapping[str, Origin], sources: tuple[Source, ...]
) -> list[SettingsProblem]:
    """MqttSettings' own rules (ranges, TLS needs mqtts://, a key needs its certificate), each
    problem named by the source and key of the value it is about (of ``mqtt.url`` when it is
    about several)."""
    try:
        settings.mqtt_settings()
    except ValidationError as e:
        out = []
        for err in e.errors(include_url=False):
            name = MQTT_PREFIX + str(err["loc"][0]) if err["loc"] else "mqtt_url"
            origin = origins.get(name, Origin("default"))
            src = next((s for s in sources if s.origin_matches(name, origin)), None)
            key = src.keys[name] if src is not None else file_key(name)
            label = src.label if src is not None else str(origin)
            value = None if name in SECRET_FIELDS else getattr(settings, name, None)
            got = f" (got {value!r})" if err["loc"] and value is not None else ""
            msg = str(err["msg"]).removeprefix("Value error, ")
            out.append(SettingsProblem(label, key, _uncap(msg) + got))
        return out
    return []


def _check_choice(src: Source) -> list[SettingsProblem]:
    if "house" in src.values and "layout" in src.values:
        key = f"{src.keys['house']} and {src.keys['layout']}"
        return [SettingsProblem(src.label, key, "give a house or a layout file, not both")]
    return []


def _what(name: str, err: Mapping[str, Any], value: object) -> str:
    kind = err["type"]
    got = "" if name in SECRET_FIELDS else f" (got {value!r})"
    info = ScadaSettings.model_fields.get(name)
    if kind == "literal_error" and info is not None:
        choices = [str(c) for c in get_args(info.annotation)]
        return f"must be one of {', '.join(choices)}{got}"
    if kind in {"bool_parsing", "bool_type"}:
        return f"must be true or false{got}"
    if kind in {"string_type", "path_type"}:
        return f"must be a string{got}"
    if kind == "value_error":
        return str(err["msg"]).removeprefix("Value error, ") + got
    msg = str(err["msg"])
    return _uncap(msg) + got


def _uncap(msg: str) -> str:
    """``Input should be…`` → ``input should be…``; ``TLS settings…`` stays."""
    return msg[:1].lower() + msg[1:] if msg[1:2].islower() else msg


def _merge(sources: tuple[Source, ...]) -> tuple[dict[str, Any], dict[str, Origin]]:
    """The highest-priority value of every field. ``house`` and ``layout`` are one choice:
    the first source that gives either gives both (a ``--layout`` flag overrides the
    configured ``house``)."""
    merged: dict[str, Any] = {}
    origins: dict[str, Origin] = {n: Origin("default") for n in ScadaSettings.model_fields}
    chosen = False
    for src in sources:
        for name, value in src.values.items():
            if name in {"house", "layout"}:
                if chosen:
                    continue
            elif name in merged:
                continue
            merged[name] = value
            origins[name] = src.origin(name)
        if not chosen and ({"house", "layout"} & src.values.keys()):
            chosen = True
    return merged, origins
