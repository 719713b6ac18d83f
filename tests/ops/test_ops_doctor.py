"""``scada doctor`` against emulated buses, fake user databases, real listeners and mosquitto."""

from __future__ import annotations

import json
import socket
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from scada.cli.main import app
from scada.doctor import Level, Probes, diagnose, exit_code, summary
from scada.doctor_hw import check_i2c, check_modbus_tcp, check_mqtt, check_one_wire, mqtt_connect
from scada.layout import Layout
from scada.link.mqtt_settings import MqttSettings
from scada.settings import ScadaSettings, SettingsError, SettingsProblem, load_settings
from sim.buses.machine import EmulatedBuses
from tests.mqtt_support import Mosquitto, Pki, make_pki, require_mosquitto
from tests.ops.ops_support import (
    BIG_HOUSE,
    REAL_HOUSE,
    closed_port,
    doctor_probes,
    emulated_machine,
    env_without_scada,
    levels,
    lines,
    load,
    pi_groups,
    settings_env,
    tcp_listener,
    write,
)

USERS = {"w-house": "Pa55-w0rd"}


@pytest.fixture
def layout() -> Layout:
    return load(REAL_HOUSE)


@pytest.fixture
def machine(layout: Layout, tmp_path: Path) -> Iterator[EmulatedBuses]:
    buses = emulated_machine(layout, tmp_path)
    yield buses
    buses.close()


def settings(tmp: Path, config: str = "", secrets: str = "") -> ScadaSettings:
    return load_settings({}, settings_env(tmp, config, secrets)).settings


def service_dirs(tmp: Path) -> str:
    """scada.toml lines putting the data and the socket in ``tmp`` (made like systemd would)."""
    (tmp / "run").mkdir(mode=0o750)
    (tmp / "data").mkdir()
    (tmp / "data").chmod(0o770)  # the service user is in its group here (a temp folder)
    return f'data_dir = "{tmp / "data"}"\nsocket = "{tmp / "run" / "scada.sock"}"\n'


# --------------------------------------------------------------- a healthy Pi


def test_a_healthy_pi_is_all_ok(layout: Layout, machine: EmulatedBuses, tmp_path: Path) -> None:
    probes = doctor_probes(machine, tmp_path, mqtt_answer=None)
    gid = tmp_path.stat().st_gid
    probes.groups.add_group("gwscada", gid, "pi")  # type: ignore[attr-defined]
    env = settings_env(tmp_path, service_dirs(tmp_path) + '[mqtt]\nurl = "mqtts://b.example"\n')
    with socket.socket(socket.AF_UNIX) as s:
        s.bind(str(tmp_path / "run" / "scada.sock"))
        (tmp_path / "run" / "scada.sock").chmod(0o660)
        findings = diagnose(load_settings({}, env), layout, probes)
    report = lines(findings)
    assert exit_code(findings) == 0, report
    assert all(f.level is Level.OK for f in findings), report
    for expected in (
        "OK    I2C bus /dev/i2c-1 present (relay-board, air-adc)",
        "OK    relay-board (ncd__pr8_14_spst) answers at 0x20 on i2c-1",
        "OK    air-adc (ncd__ads1115) answers at 0x48 on i2c-1",
        "OK    serial port /dev/ttyUSB0 present (main-meter)",
        "OK    gwscada is in i2c (the I2C buses)",
        "OK    gwscada is in dialout (the serial ports)",
        "OK    pi is in gwscada: gwtui can attach",
        "OK    broker mqtts://b.example:8883 accepted no user name (TLS)",
        "OK    the clock is synchronised (NTP)",
        "OK    50.0 GB free for the data in " + str(tmp_path / "data"),
    ):
        assert expected in report.splitlines(), report
    probes_1w = [f for f in findings if f.check == "1-wire"]
    assert len(probes_1w) == 1 + sum(1 for c in layout.channels if c.hw_id)
    assert summary(findings) == f"0 FAIL, 0 WARN, {len(findings)} OK"


# ------------------------------------------------------------------- I2C / 1-Wire


def test_a_missing_i2c_bus_fails_with_the_raspi_config_fix(layout: Layout, tmp_path: Path) -> None:
    bare = EmulatedBuses(one_wire_root=None)
    findings = check_i2c(layout, doctor_probes(bare, tmp_path))
    assert lines(findings) == (
        "FAIL  /dev/i2c-1 does not exist (relay-board, air-adc) — enable I2C: sudo raspi-config "
        "nonint do_i2c 0 (or Interface Options → I2C), reboot"
    )
    big = load(BIG_HOUSE)
    bare.add_i2c(1)
    found = lines(check_i2c(big, doctor_probes(bare, tmp_path)))
    assert "FAIL  /dev/i2c-3 does not exist (pipe-adc-2, pipe-adc-3) — bus 3 needs an overlay" in (
        found
    )


def test_a_chip_that_does_not_answer_fails_with_the_wiring_fix(
    layout: Layout, machine: EmulatedBuses, tmp_path: Path
) -> None:
    machine.i2c_buses[1].detach(0x48)
    findings = check_i2c(layout, doctor_probes(machine, tmp_path))
    assert levels(findings, "i2c") == ["OK", "OK", "FAIL"]
    assert findings[2].what == (
        "air-adc (ncd__ads1115): no answer at 0x48 on i2c-1 (Remote I/O error)"
    )
    assert "`i2cdetect -y 1` lists the addresses that answer" in findings[2].fix


def test_the_1wire_overlay_and_the_probe_ids(
    layout: Layout, machine: EmulatedBuses, tmp_path: Path
) -> None:
    probes = doctor_probes(machine, tmp_path)
    probe = next(c for c in layout.channels if c.hw_id)
    assert machine.one_wire is not None
    machine.one_wire.remove(probe.hw_id or "")
    machine.one_wire.set_temperature("28-0000000abcde", 20.0)  # a probe the layout lacks
    findings = check_one_wire(layout, probes)
    bad = [f for f in findings if f.level is Level.FAIL]
    assert [f.what for f in bad] == [f"{probe.name}: probe {probe.hw_id} is not on the bus"]
    assert bad[0].fix.endswith("present and not in the layout: 28-0000000abcde")
    no_overlay = check_one_wire(layout, doctor_probes(EmulatedBuses(), tmp_path))
    assert lines(no_overlay).startswith(
        "FAIL  /sys/bus/w1/devices does not exist (ds18b20-probes): no 1-Wire overlay — enable "
        "1-Wire: sudo raspi-config nonint do_onewire 0"
    )


# ---------------------------------------------------------------- serial, groups


def test_a_missing_serial_port_and_one_the_service_cannot_open(
    layout: Layout, machine: EmulatedBuses, tmp_path: Path
) -> None:
    port = Path(machine.serial["/dev/ttyUSB0"])
    port.chmod(0o600)  # owner only: the service user (not root) may not use it
    findings = diagnose(
        load_settings({}, settings_env(tmp_path)), layout, doctor_probes(machine, tmp_path)
    )
    serial = [f for f in findings if f.check == "serial"]
    assert serial[1].level is Level.FAIL
    assert serial[1].what.startswith("gwscada cannot read and write /dev/ttyUSB0 (0600")
    assert serial[1].fix.startswith("sudo usermod -aG dialout gwscada")
    del machine.serial["/dev/ttyUSB0"]
    findings = diagnose(
        load_settings({}, settings_env(tmp_path)), layout, doctor_probes(machine, tmp_path)
    )
    assert "FAIL  serial port /dev/ttyUSB0 does not exist (main-meter) — plug in the RS-485" in (
        lines(findings)
    )
    assert exit_code(findings) == 1


def test_missing_group_memberships_say_which_and_how(
    layout: Layout, machine: EmulatedBuses, tmp_path: Path
) -> None:
    db = pi_groups(dialout_gid=tmp_path.stat().st_gid)
    db.groups["i2c"] = db.groups["i2c"].__class__("i2c", 998)  # gwscada left out
    db.groups["gwscada"] = db.groups["gwscada"].__class__("gwscada", 990)  # pi left out
    probes = doctor_probes(machine, tmp_path, groups=db)
    write(probes.unit_path, "[Service]\nSupplementaryGroups=dialout\n")
    findings = diagnose(load_settings({}, settings_env(tmp_path)), layout, probes)
    report = lines(findings)
    assert (
        "FAIL  gwscada is not in i2c: the service cannot use the I2C buses — "
        "sudo usermod -aG i2c gwscada && sudo systemctl restart gwscada"
    ) in report
    assert (
        "FAIL  pi is not in gwscada: gwtui and scada status cannot attach — "
        "sudo usermod -aG gwscada pi, then log out and back in"
    ) in report
    del db.users["gwscada"]
    report = lines(diagnose(load_settings({}, settings_env(tmp_path)), layout, probes))
    assert "FAIL  there is no user gwscada — make install-pi (sudo scada install-service)" in report


# --------------------------------------------------------------------- Modbus TCP


def test_modbus_tcp_meter_listening_closed_and_unresolvable(tmp_path: Path) -> None:
    big = load(BIG_HOUSE)  # its eGauge is at egauge4030.local:502
    buses = EmulatedBuses()
    probes = doctor_probes(buses, tmp_path)
    with tcp_listener() as port:
        buses.modbus[("egauge4030.local", 502)] = ("127.0.0.1", port)
        assert lines(check_modbus_tcp(big, probes)) == (
            "OK    egauge (egauge__4030) answers on egauge4030.local:502"
        )
    buses.modbus[("egauge4030.local", 502)] = ("127.0.0.1", closed_port())
    assert lines(check_modbus_tcp(big, probes)) == (
        "FAIL  egauge: egauge4030.local:502 refused the connection — turn on the meter's Modbus "
        "TCP server and check the port in the layout"
    )
    buses.modbus[("egauge4030.local", 502)] = ("no-such-host.invalid", 502)
    (found,) = check_modbus_tcp(big, probes)
    assert found.level is Level.FAIL
    assert found.what.startswith("egauge: cannot resolve egauge4030.local")
    assert "IP address" in found.fix


# --------------------------------------------------------------- MQTT (mosquitto)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture
def auth_broker(tmp_path: Path) -> Iterator[Mosquitto]:
    b = Mosquitto(tmp_path / "broker", binary=require_mosquitto(), users=USERS)
    yield b.start()
    b.stop()


@pytest.fixture
def tls_broker(tmp_path: Path, pki: Pki) -> Iterator[Mosquitto]:
    b = Mosquitto(tmp_path / "tls-broker", binary=require_mosquitto(), users=USERS, pki=pki)
    yield b.start()
    b.stop()


def mqtt_findings(tmp: Path, config: str, secrets: str = "") -> list[str]:
    probes = Probes(timeout_s=3.0)
    return [f.line() for f in check_mqtt(settings(tmp, config, secrets), probes)]


@pytest.mark.broker
def test_broker_accepts_the_configured_user(auth_broker: Mosquitto, tmp_path: Path) -> None:
    config = f'[mqtt]\nurl = "{auth_broker.url}"\nusername = "w-house"\n'
    secrets = '[mqtt]\npassword = "Pa55-w0rd"\n'
    assert mqtt_findings(tmp_path, config, secrets) == [
        f"OK    broker {auth_broker.url} accepted user w-house (no TLS)"
    ]


@pytest.mark.broker
def test_broker_refuses_a_wrong_password(auth_broker: Mosquitto, tmp_path: Path) -> None:
    config = f'[mqtt]\nurl = "{auth_broker.url}"\nusername = "w-house"\n'
    (line,) = mqtt_findings(tmp_path, config, '[mqtt]\npassword = "wrong"\n')
    assert line.startswith(f"FAIL  broker {auth_broker.url} (user w-house): Not authorized")
    assert line.endswith(
        "check mqtt.username in /etc/gwscada/scada.toml and mqtt.password in "
        "/etc/gwscada/secrets.toml"
    )
    assert "wrong" not in line


@pytest.mark.broker
def test_broker_with_tls_needs_the_right_ca(
    tls_broker: Mosquitto, pki: Pki, tmp_path: Path
) -> None:
    base = f'[mqtt]\nurl = "{tls_broker.url}"\nusername = "w-house"\n'
    secrets = '[mqtt]\npassword = "Pa55-w0rd"\n'
    assert mqtt_findings(tmp_path, base + f'ca_file = "{pki.ca_cert}"\n', secrets) == [
        f"OK    broker {tls_broker.url} accepted user w-house (TLS)"
    ]
    (line,) = mqtt_findings(tmp_path, base, secrets)  # the system CAs do not know the test CA
    assert line.startswith(f"FAIL  broker {tls_broker.url} (user w-house): TLS: ")
    assert "mqtt.ca_file" in line


def test_broker_closed_port_and_no_broker_at_all(tmp_path: Path) -> None:
    url = f"mqtt://127.0.0.1:{closed_port()}"
    assert mqtt_findings(tmp_path, f'[mqtt]\nurl = "{url}"\n') == [
        (
            f"FAIL  broker {url} (no user name): connection refused — is the broker running and "
            "reachable from here? check mqtt.url and the firewall"
        )
    ]
    assert mqtt_findings(tmp_path, "") == [
        (
            "WARN  no broker configured (mqtt.url): the SCADA runs LocalControl and keeps its "
            "data — set [mqtt] url in /etc/gwscada/scada.toml for the uplink to the ATN"
        )
    ]


def test_a_plain_broker_across_the_network_is_a_warning(tmp_path: Path) -> None:
    s = settings(tmp_path, '[mqtt]\nurl = "mqtt://broker.example.net"\n')
    probes = Probes(mqtt_connect=lambda _s, _t: None)
    assert [f.level for f in check_mqtt(s, probes)] == [Level.WARN, Level.OK]


def test_mqtt_connect_with_a_listener_that_never_answers(tmp_path: Path) -> None:
    with tcp_listener() as port:
        reason = mqtt_connect(MqttSettings(url=f"mqtt://127.0.0.1:{port}"), 0.3)
    assert reason == "no CONNACK within 0.3 s"


# --------------------------------------------------- clock, disk, socket, settings


def test_clock_synchronised_not_and_unknown(tmp_path: Path) -> None:
    from scada.doctor import check_clock

    def clock(answer: tuple[int, str]) -> str:
        return lines(check_clock(doctor_probes(EmulatedBuses(), tmp_path, clock_answer=answer)))

    assert clock((0, "yes")) == "OK    the clock is synchronised (NTP)"
    assert clock((0, "no")).startswith("FAIL  the clock is not synchronised")
    assert clock((127, "timedatectl: not found")).startswith(
        "WARN  cannot tell whether the clock is synchronised (timedatectl: timedatectl: not found)"
    )


def test_disk_space_thresholds(tmp_path: Path) -> None:
    from scada.doctor import check_disk

    s = settings(tmp_path, service_dirs(tmp_path))

    def disk(free: int) -> list[str]:
        probes = doctor_probes(EmulatedBuses(), tmp_path, free_bytes=free)
        return [f.level.value for f in check_disk(s, probes)]

    assert disk(5 * 1024**3) == ["OK", "OK"]
    assert disk(500 * 1024**2) == ["WARN", "OK"]
    assert disk(50 * 1024**2) == ["FAIL", "OK"]


def test_socket_folder_group_and_mode(tmp_path: Path) -> None:
    from scada.doctor import check_socket

    s = settings(tmp_path, service_dirs(tmp_path))
    probes = doctor_probes(EmulatedBuses(), tmp_path)
    sock_path = tmp_path / "run" / "scada.sock"
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(sock_path))
        sock_path.chmod(0o660)
        # the group database says gwscada is gid 990; the temp files belong to another group
        found = check_socket(s, probes)
        assert [f.level for f in found] == [Level.FAIL, Level.FAIL]
        assert "not group gwscada, so its members cannot attach" in found[0].what
        gid = tmp_path.stat().st_gid
        probes.groups.add_group("gwscada", gid, "pi")  # type: ignore[attr-defined]
        (tmp_path / "run").chmod(0o700)
        found = check_socket(s, probes)
        assert [f.level for f in found] == [Level.FAIL, Level.OK]
        assert "the group needs r-x, others no write" in found[0].what
        (tmp_path / "run").chmod(0o750)
        assert [f.level for f in check_socket(s, probes)] == [Level.OK, Level.OK]
    sock_path.unlink()
    found = check_socket(s, probes)
    assert [f.level for f in found] == [Level.OK, Level.WARN]
    assert found[1].what == f"no socket {sock_path}: the service is not serving"
    missing = settings(tmp_path, 'socket = "/nonexistent-dir/scada.sock"\n')
    assert lines(check_socket(missing, probes)).startswith(
        "WARN  no /nonexistent-dir: the service is not running"
    )


def test_settings_problems_are_failures_and_the_rest_still_runs(
    layout: Layout, machine: EmulatedBuses, tmp_path: Path
) -> None:
    bad = SettingsError([SettingsProblem("/etc/gwscada/scada.toml", "log_level", "bad")])
    findings = diagnose(bad, layout, doctor_probes(machine, tmp_path))
    assert findings[0].line() == (
        "FAIL  /etc/gwscada/scada.toml: log_level: bad — correct it; `scada config show` prints "
        "the settings and where each came from"
    )
    assert any(f.check == "i2c" for f in findings)


def test_a_world_readable_secrets_file_fails(tmp_path: Path, machine: EmulatedBuses) -> None:
    env = settings_env(tmp_path, "", '[mqtt]\npassword = "x"\n')
    (tmp_path / "secrets.toml").chmod(0o644)
    findings = diagnose(load_settings({}, env), None, doctor_probes(machine, tmp_path))
    (found,) = [f for f in findings if "lets every user read the secrets" in f.what]
    assert found.level is Level.FAIL
    assert found.fix == (
        f"sudo chmod 0640 {tmp_path / 'secrets.toml'} && sudo chgrp gwscada "
        f"{tmp_path / 'secrets.toml'}"
    )


# ------------------------------------------------------------------------ the CLI


def test_doctor_cli_on_this_machine_prints_lines_and_json(tmp_path: Path) -> None:
    """This machine has no I2C, no 1-Wire and no gwscada user: FAILs, exit 1, valid JSON."""
    env = settings_env(tmp_path, service_dirs(tmp_path))
    run = CliRunner().invoke(app, ["doctor", "--house", "w.isone.nh.orange.1"], env=env)
    assert run.exit_code == 1, run.output
    out = run.output.splitlines()
    assert out[0] == f"OK    settings read ({tmp_path / 'scada.toml'}: present)"
    assert out[1].startswith("OK    house w.isone.nh.orange.1 from ")
    assert all(line[:6] in {"OK    ", "WARN  ", "FAIL  "} for line in out[:-2])
    assert out[-1].endswith(" OK")
    as_json = CliRunner().invoke(app, ["doctor", "--layout", str(REAL_HOUSE), "--json"], env=env)
    data = json.loads(as_json.output)
    assert as_json.exit_code == 1
    assert {f["level"] for f in data["findings"]} >= {"OK", "FAIL"}
    assert all(set(f) == {"level", "check", "what", "fix"} for f in data["findings"])


def test_doctor_cli_on_a_simulated_house_skips_the_hardware(tmp_path: Path) -> None:
    env = settings_env(tmp_path, 'house = "dw1.isone.nh.orange.1"\n')
    run = CliRunner().invoke(app, ["doctor"], env=env)
    assert "(0 devices" not in run.output
    assert "simulated: no hardware to check" in run.output
    assert "i2c" not in run.output.lower().replace("i2c-", "")


def test_doctor_cli_without_a_house_warns(tmp_path: Path) -> None:
    env = env_without_scada(settings_env(tmp_path))
    run = CliRunner().invoke(app, ["doctor"], env=env)
    assert (
        "WARN  no house configured: the service runs the simulated demo house — set house (or "
        "layout) in /etc/gwscada/scada.toml"
    ) in run.output
    assert sys.platform.startswith("linux")
