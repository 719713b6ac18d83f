"""Where the settings come from: the sources, how each spells a setting, and what is wrong.

Each source is read once when it is made: ``values`` by field name, ``keys`` as the source
spells them (``mqtt.url`` in a file, ``SCADA_MQTT_URL`` in the environment, ``--broker`` on
the command line), and ``problems`` found while reading (a file that is not TOML, an unknown
key, a secret in the wrong file). :mod:`scada.settings` validates and merges them.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal

from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource

from scada.layout.errors import nearest

CONFIG_PATH: Final = Path("/etc/gwscada/scada.toml")
SECRETS_PATH: Final = Path("/etc/gwscada/secrets.toml")
CONFIG_ENV: Final = "SCADA_CONFIG"
SECRETS_ENV: Final = "SCADA_SECRETS"
ENV_PREFIX: Final = "SCADA_"
#: ``SCADA_*`` variables that are not settings but mean something to the project.
OTHER_ENV: Final = frozenset({CONFIG_ENV, SECRETS_ENV, "SCADA_HOUSES_DIR", "SCADA_PROFILES_DIR"})
SECRET_FIELDS: Final = frozenset({"mqtt_password", "mqtt_key_file"})
MQTT_PREFIX: Final = "mqtt_"
#: Path settings; a relative path in a settings file is relative to that file's folder.
PATH_FIELDS: Final = frozenset(
    {
        "layout",
        "socket",
        "data_dir",
        "mqtt_password_file",
        "mqtt_ca_file",
        "mqtt_cert_file",
        "mqtt_key_file",
    }
)
#: Flags of ``scada serve`` that are spelt other than ``--<field-with-dashes>``.
FLAG_NAMES: Final = {"simulated": "--sim", "mqtt_url": "--broker"}


# ------------------------------------------------------------------ spelling


def file_key(name: str) -> str:
    """How a field is spelt in a settings file: ``mqtt_url`` → ``mqtt.url``."""
    return f"mqtt.{name.removeprefix(MQTT_PREFIX)}" if name.startswith(MQTT_PREFIX) else name


def env_name(name: str) -> str:
    return ENV_PREFIX + name.upper()


def flag_name(name: str) -> str:
    return FLAG_NAMES.get(name, "--" + name.replace("_", "-"))


def config_path(env: Mapping[str, str]) -> Path:
    return Path(env.get(CONFIG_ENV) or CONFIG_PATH)


def secrets_path(env: Mapping[str, str]) -> Path:
    return Path(env.get(SECRETS_ENV) or SECRETS_PATH)


# ------------------------------------------------------------------ problems


@dataclass(frozen=True, slots=True)
class SettingsProblem:
    """One thing wrong with one source: ``source: key: what``."""

    source: str
    key: str
    what: str

    def __str__(self) -> str:
        return (
            f"{self.source}: {self.key}: {self.what}" if self.key else f"{self.source}: {self.what}"
        )


class SettingsError(Exception):
    """The settings cannot be used; ``problems`` lists every problem, one line each."""

    def __init__(self, problems: list[SettingsProblem]) -> None:
        self.problems = tuple(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


@dataclass(frozen=True, slots=True)
class Origin:
    """Where a value came from: ``default``, a file, an environment variable or a flag."""

    kind: Literal["default", "file", "env", "flag"]
    label: str = ""

    def __str__(self) -> str:
        return {
            "default": "default",
            "file": self.label,
            "env": f"environment {self.label}",
            "flag": f"flag {self.label}",
        }[self.kind]


# ------------------------------------------------------------------- sources


class Source(PydanticBaseSettingsSource):
    """A source read once at construction: ``values`` by field, ``keys`` as spelt there."""

    kind: Literal["file", "env", "flag"]

    def __init__(self, settings_cls: type[BaseSettings], label: str) -> None:
        super().__init__(settings_cls)
        self.label = label
        self.values: dict[str, Any] = {}
        self.keys: dict[str, str] = {}
        self.problems: list[SettingsProblem] = []

    def origin(self, name: str) -> Origin:
        return Origin(self.kind, self.label if self.kind == "file" else self.keys[name])

    def origin_matches(self, name: str, origin: Origin) -> bool:
        return name in self.values and self.origin(name) == origin

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:  # noqa: ARG002
        return self.values.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        if self.problems:
            raise SettingsError(self.problems)
        return dict(self.values)


class FlagSource(Source):
    """Command-line flags that were given (None means not given)."""

    kind = "flag"

    def __init__(self, settings_cls: type[BaseSettings], flags: Mapping[str, object]) -> None:
        super().__init__(settings_cls, "command line")
        for name, value in flags.items():
            if value is not None:
                self.values[name] = value
                self.keys[name] = flag_name(name)


class EnvSource(Source):
    """``SCADA_<FIELD>`` variables (an empty one counts as unset)."""

    kind = "env"

    def __init__(self, settings_cls: type[BaseSettings], env: Mapping[str, str]) -> None:
        super().__init__(settings_cls, "environment")
        names = {env_name(n): n for n in settings_cls.model_fields}
        self.unknown: list[str] = []
        for var, value in env.items():
            if not var.startswith(ENV_PREFIX) or var in OTHER_ENV:
                continue
            if var in names:
                if value.strip():
                    self.values[names[var]] = value
                    self.keys[names[var]] = var
            else:
                hint = nearest(var, names)
                self.unknown.append(
                    f"{var} is not a setting" + (f" (did you mean {hint}?)" if hint else "")
                )


class FileSource(Source):
    """One TOML file: ``scada.toml`` (no secrets) or ``secrets.toml`` (secrets only)."""

    kind = "file"

    def __init__(
        self,
        settings_cls: type[BaseSettings],
        path: Path,
        *,
        secrets: bool,
        required: bool = False,
    ) -> None:
        super().__init__(settings_cls, str(path))
        self.path = path
        self.secrets = secrets
        self.exists = False
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            if required:
                env = SECRETS_ENV if secrets else CONFIG_ENV
                self._problem("", f"does not exist (named by ${env})")
            return
        except PermissionError:
            who = "root or a member of the gwscada group" if secrets else "root"
            self._problem("", f"cannot read it (permission denied): run as {who}")
            return
        except OSError as e:
            self._problem("", f"cannot read it: {e.strerror or e}")
            return
        self.exists = True
        try:
            data = tomllib.loads(raw.decode("utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
            self._problem("", f"not valid TOML: {e}")
            return
        self._take(data)

    def _problem(self, key: str, what: str) -> None:
        self.problems.append(SettingsProblem(self.label, key, what))

    def _take(self, data: Mapping[str, Any]) -> None:
        known = {file_key(n): n for n in self.settings_cls.model_fields}
        for key, value in _flatten(data):
            name = known.get(key)
            if name is None:
                hint = nearest(key, known)
                self._problem(
                    key, "unknown setting" + (f" (did you mean '{hint}'?)" if hint else "")
                )
            elif name in SECRET_FIELDS and not self.secrets:
                self._problem(
                    key, f"a secret: put it in {SECRETS_PATH} (mode 0640), never in this file"
                )
            elif name not in SECRET_FIELDS and self.secrets:
                self._problem(key, f"not a secret: put it in {CONFIG_PATH}")
            else:
                relative = isinstance(value, str) and not Path(value).is_absolute()
                self.values[name] = (
                    str(self.path.parent / value) if name in PATH_FIELDS and relative else value
                )
                self.keys[name] = key


def _flatten(data: Mapping[str, Any]) -> Iterator[tuple[str, Any]]:
    for key, value in data.items():
        if key == "mqtt" and isinstance(value, dict):
            for sub, subvalue in value.items():
                yield f"mqtt.{sub}", subvalue
        else:
            yield key, value
