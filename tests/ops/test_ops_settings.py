"""Settings: sources by priority, where each value came from, one line per problem."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import SecretStr
from typer.testing import CliRunner

from scada.cli.main import app
from scada.link.mqtt_settings import MqttSettings
from scada.settings import (
    MQTT_PREFIX,
    SECRET_FIELDS,
    Origin,
    ScadaSettings,
    SettingsError,
    file_key,
    load_settings,
)
from tests.ops.ops_support import env_without_scada, settings_env, write

BIN = Path(sys.executable).parent


def problems(flags: dict[str, object] | None, env: dict[str, str]) -> list[str]:
    with pytest.raises(SettingsError) as e:
        load_settings(flags, env)
    return [str(p) for p in e.value.problems]


# ------------------------------------------------------------------ precedence


def test_defaults_when_nothing_is_set(tmp_path: Path) -> None:
    loaded = load_settings({}, settings_env(tmp_path))
    s = loaded.settings
    assert (s.house, s.layout, s.simulated, s.log_level, s.mqtt_url) == (
        None,
        None,
        False,
        "info",
        None,
    )
    assert s.console_group == "gwscada"
    assert set(loaded.origins.values()) == {Origin("default")}
    assert s.mqtt_settings() is None


def test_flag_beats_env_beats_file_beats_default(tmp_path: Path) -> None:
    config = 'log_level = "warning"\nsimulated = true\nsocket = "/tmp/file.sock"\n'
    env = settings_env(tmp_path, config) | {
        "SCADA_LOG_LEVEL": "error",
        "SCADA_SOCKET": "/tmp/env.sock",
    }
    loaded = load_settings({"log_level": "debug"}, env)
    s, origin = loaded.settings, loaded.origins
    assert s.log_level == "debug"
    assert str(origin["log_level"]) == "flag --log-level"
    assert s.socket == Path("/tmp/env.sock")
    assert str(origin["socket"]) == "environment SCADA_SOCKET"
    assert s.simulated is True
    assert str(origin["simulated"]) == str(tmp_path / "scada.toml")
    assert str(origin["data_dir"]) == "default"


def test_flags_not_given_do_not_override(tmp_path: Path) -> None:
    env = settings_env(tmp_path, 'log_level = "warning"\n')
    loaded = load_settings({"log_level": None, "house": None, "simulated": None}, env)
    assert loaded.settings.log_level == "warning"


def test_house_and_layout_are_one_choice_taken_from_the_highest_source(tmp_path: Path) -> None:
    env = settings_env(tmp_path, 'house = "w.isone.nh.orange.1"\n')
    by_flag = load_settings({"layout": Path("/srv/mine.json")}, env)
    assert by_flag.settings.layout == Path("/srv/mine.json")
    assert by_flag.settings.house is None  # the file's house does not also apply
    by_file = load_settings({}, env)
    assert by_file.settings.house == "w.isone.nh.orange.1"


def test_secrets_come_from_the_secrets_file_and_are_masked(tmp_path: Path) -> None:
    env = settings_env(
        tmp_path,
        '[mqtt]\nurl = "mqtts://broker.example.net"\nusername = "house-1"\ncert_file = "c.pem"\n',
        '[mqtt]\npassword = "hunter2"\nkey_file = "client.key"\n',
    )
    loaded = load_settings({}, env)
    s = loaded.settings
    assert isinstance(s.mqtt_password, SecretStr)
    assert s.mqtt_password.get_secret_value() == "hunter2"
    assert "hunter2" not in repr(s)
    assert "hunter2" not in str(loaded.as_json())
    rows = {key: (value, origin) for key, value, origin in loaded.rows()}
    assert rows["mqtt.password"] == ("********", str(tmp_path / "secrets.toml"))
    assert rows["mqtt.key_file"][0] == "********"
    assert rows["mqtt.keepalive_s"] == ("30", "default")  # MqttSettings' own default
    mqtt = s.mqtt_settings()
    assert mqtt is not None
    assert mqtt.key_file == tmp_path / "client.key"  # relative to the secrets file's folder
    assert mqtt.read_password() == "hunter2"
    assert (mqtt.host, mqtt.port, mqtt.tls) == ("broker.example.net", 8883, True)


def test_env_gives_mqtt_settings_under_the_links_own_names(tmp_path: Path) -> None:
    env = settings_env(tmp_path) | {
        "SCADA_MQTT_URL": "mqtt://127.0.0.1:1884",
        "SCADA_MQTT_KEEPALIVE_S": "20",
        "SCADA_MQTT_PASSWORD": "pw",
        "SCADA_MQTT_USERNAME": "u",
    }
    mqtt = load_settings({}, env).settings.mqtt_settings()
    assert mqtt == MqttSettings.from_env(env)


def test_every_mqtt_setting_of_the_link_is_a_scada_setting() -> None:
    """The [mqtt] table mirrors MqttSettings field for field, so none is unreachable."""
    for name in MqttSettings.model_fields:
        assert MQTT_PREFIX + name in ScadaSettings.model_fields, name
    assert {"mqtt_password", "mqtt_key_file"} == SECRET_FIELDS


def test_relative_paths_in_a_file_are_relative_to_the_file(tmp_path: Path) -> None:
    env = settings_env(tmp_path, 'layout = "houses/mine.json"\ndata_dir = "/srv/data"\n')
    s = load_settings({}, env).settings
    assert s.layout == tmp_path / "houses" / "mine.json"
    assert s.data_dir == Path("/srv/data")


def test_systemd_directories_are_the_default_socket_and_data_folders(tmp_path: Path) -> None:
    s = load_settings({}, settings_env(tmp_path)).settings
    env = {"RUNTIME_DIRECTORY": "/run/gwscada", "STATE_DIRECTORY": "/var/lib/gwscada"}
    assert s.socket_path(env) == Path("/run/gwscada/scada.sock")
    assert s.data_path(env) == Path("/var/lib/gwscada")
    given = ScadaSettings.model_construct(socket=Path("/x.sock"), data_dir=Path("/d"))
    assert given.socket_path(env) == Path("/x.sock")
    assert given.data_path(env) == Path("/d")


def test_the_model_alone_reads_env_and_files_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path / "scada.toml", 'house = "w.isone.nh.orange.1"\nlog_level = "error"\n')
    monkeypatch.setenv("SCADA_CONFIG", str(tmp_path / "scada.toml"))
    monkeypatch.setenv("SCADA_SECRETS", str(tmp_path / "none.toml"))
    monkeypatch.setenv("SCADA_LOG_LEVEL", "warning")
    s = ScadaSettings()
    assert (s.house, s.log_level) == ("w.isone.nh.orange.1", "warning")
    assert ScadaSettings(log_level="debug").log_level == "debug"


def test_loading_never_writes_the_files(tmp_path: Path) -> None:
    env = settings_env(tmp_path, 'log_level = "debug"\n', '[mqtt]\npassword = "x"\n')
    before = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in tmp_path.iterdir()}
    load_settings({"log_level": "error"}, env)
    assert {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in tmp_path.iterdir()} == before


# -------------------------------------------------------------------- problems


def test_bad_file_values_are_one_line_each_with_file_key_and_what(tmp_path: Path) -> None:
    config = (
        'log_level = "verbose"\n'
        "simulated = 3\n"
        'lgo_level = "info"\n'
        "[mqtt]\n"
        'url = "http://broker"\n'
        'password = "oops"\n'
    )
    env = settings_env(tmp_path, config)
    f = tmp_path / "scada.toml"
    assert sorted(problems({}, env)) == sorted(
        [
            f"{f}: log_level: must be one of debug, info, warning, error (got 'verbose')",
            f"{f}: simulated: must be true or false (got 3)",
            f"{f}: lgo_level: unknown setting (did you mean 'log_level'?)",
            (
                f"{f}: mqtt.password: a secret: put it in /etc/gwscada/secrets.toml (mode 0640), "
                "never in this file"
            ),
        ]
    )


def test_bad_env_values_and_flags_name_their_variable_and_flag(tmp_path: Path) -> None:
    env = settings_env(tmp_path) | {"SCADA_LOG_LEVEL": "loud", "SCADA_SIMULATED": "maybe"}
    assert problems({"log_level": "chatty"}, env) == [
        "command line: --log-level: must be one of debug, info, warning, error (got 'chatty')",
        "environment: SCADA_SIMULATED: must be true or false (got 'maybe')",
        "environment: SCADA_LOG_LEVEL: must be one of debug, info, warning, error (got 'loud')",
    ]


def test_non_secret_in_the_secrets_file_and_toml_syntax(tmp_path: Path) -> None:
    env = settings_env(tmp_path, "house = \n", 'house = "x"\n')
    found = problems({}, env)
    assert found[0].startswith(f"{tmp_path / 'scada.toml'}: not valid TOML: ")
    assert found[1] == (
        f"{tmp_path / 'secrets.toml'}: house: not a secret: put it in /etc/gwscada/scada.toml"
    )


def test_house_and_layout_in_one_source_is_a_problem(tmp_path: Path) -> None:
    env = settings_env(tmp_path, 'house = "a"\nlayout = "/b.json"\n')
    assert problems({}, env) == [
        f"{tmp_path / 'scada.toml'}: house and layout: give a house or a layout file, not both"
    ]


def test_a_named_config_file_must_exist(tmp_path: Path) -> None:
    env = env_without_scada({"SCADA_CONFIG": str(tmp_path / "nope.toml")})
    env["SCADA_SECRETS"] = str(tmp_path / "nope-either.toml")
    assert problems({}, env) == [
        f"{tmp_path / 'nope.toml'}: does not exist (named by $SCADA_CONFIG)",
        f"{tmp_path / 'nope-either.toml'}: does not exist (named by $SCADA_SECRETS)",
    ]


def test_mqtt_rules_name_the_source_of_the_value(tmp_path: Path) -> None:
    env = settings_env(tmp_path, '[mqtt]\nurl = "mqtt://b.example"\n')
    env["SCADA_MQTT_KEEPALIVE_S"] = "0"
    (keepalive,) = problems({}, env)
    assert keepalive.startswith(
        "environment: SCADA_MQTT_KEEPALIVE_S: input should be greater than or equal to"
    )
    assert keepalive.endswith("(got 0)")
    env = settings_env(tmp_path, '[mqtt]\nurl = "mqtt://b.example"\nca_file = "/ca.pem"\n')
    assert problems({}, env) == [
        (
            f"{tmp_path / 'scada.toml'}: mqtt.url: TLS settings given for a plain mqtt:// "
            "broker URL: use mqtts:// to enable TLS"
        )
    ]


def test_a_secret_value_is_never_echoed_in_a_problem(tmp_path: Path) -> None:
    env = settings_env(tmp_path, "", "[mqtt]\npassword = 12345678\n")
    (line,) = problems({}, env)
    assert "12345678" not in line
    assert line.startswith(f"{tmp_path / 'secrets.toml'}: mqtt.password: ")


def test_warnings_for_unknown_variables_and_a_readable_secrets_file(tmp_path: Path) -> None:
    env = settings_env(tmp_path, "", '[mqtt]\npassword = "x"\n') | {"SCADA_LOG_LEVL": "debug"}
    (tmp_path / "secrets.toml").chmod(0o644)
    notes = load_settings({}, env).warnings
    assert "SCADA_LOG_LEVL is not a setting (did you mean SCADA_LOG_LEVEL?)" in notes
    assert any("lets every user read the secrets" in n for n in notes)


# ------------------------------------------------------------------ the commands


def test_config_show_prints_values_and_origins_with_secrets_masked(tmp_path: Path) -> None:
    env = settings_env(
        tmp_path, 'house = "w.isone.nh.orange.1"\n', '[mqtt]\npassword = "hunter2"\n'
    )
    env["SCADA_LOG_LEVEL"] = "debug"
    run = CliRunner().invoke(app, ["config", "show"], env=env)
    assert run.exit_code == 0, run.output
    assert "hunter2" not in run.output
    rows = {line.split()[0]: line.split()[1:] for line in run.output.splitlines() if line}
    assert rows["house"] == ["w.isone.nh.orange.1", str(tmp_path / "scada.toml")]
    assert rows["log_level"] == ["debug", "environment", "SCADA_LOG_LEVEL"]
    assert rows["mqtt.password"] == ["********", str(tmp_path / "secrets.toml")]
    as_json = CliRunner().invoke(app, ["config", "show", "--json"], env=env)
    data = json.loads(as_json.output)
    assert data["settings"]["log_level"] == {
        "value": "debug",
        "source": "environment SCADA_LOG_LEVEL",
    }
    assert data["settings"]["mqtt.password"]["value"] == "********"


def test_config_show_with_a_bad_file_prints_the_problems_and_exits_1(tmp_path: Path) -> None:
    env = settings_env(tmp_path, 'log_level = "verbose"\n')
    run = CliRunner().invoke(app, ["config", "show"], env=env)
    assert run.exit_code == 1
    assert run.output.strip() == (
        f"{tmp_path / 'scada.toml'}: log_level: must be one of debug, info, warning, error "
        "(got 'verbose')"
    )


@pytest.mark.e2e
def test_serve_with_bad_settings_starts_nothing_and_exits_1(tmp_path: Path) -> None:
    env = settings_env(tmp_path, "simulated = 3\n") | {"SCADA_LOG_LEVEL": "loud"}
    sock = tmp_path / "s.sock"
    run = subprocess.run(
        [str(BIN / "scada"), "serve", "--sim", "--socket", str(sock), "--data-dir", str(tmp_path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert run.returncode == 1
    assert run.stdout == ""
    assert run.stderr.splitlines() == [
        "environment: SCADA_LOG_LEVEL: must be one of debug, info, warning, error (got 'loud')",
        f"{tmp_path / 'scada.toml'}: simulated: must be true or false (got 3)",
    ]
    assert not sock.exists()
    assert not (tmp_path / "sim").exists()  # nothing started


def test_unknown_house_in_the_file_names_the_file(tmp_path: Path) -> None:
    env = settings_env(tmp_path, 'house = "w.isone.nh.orang.1"\n')
    run = CliRunner().invoke(app, ["serve", "--socket", str(tmp_path / "s")], env=env)
    assert run.exit_code == 1
    assert f"{tmp_path / 'scada.toml'}: house:" in run.output
    assert "did you mean 'w.isone.nh.orange.1'" in run.output


def test_file_key_spelling() -> None:
    assert file_key("mqtt_url") == "mqtt.url"
    assert file_key("log_level") == "log_level"
    assert os.sep == "/"
