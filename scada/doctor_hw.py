"""The doctor's hardware and broker checks: what the layout names, as the machine sees it.

* I2C: ``/dev/i2c-N`` for every bus the layout uses, and a one-byte read from every address
  (a chip that does not answer is a wiring, power or address-jumper problem);
* 1-Wire: the overlay (``/sys/bus/w1/devices``) and every probe id of the layout, listing the
  probes found that the layout does not name (a mistyped id is the usual culprit);
* GPIO: ``/dev/gpiochipN`` and the service user's access to it;
* serial ports: present, and readable and writable by the service user (``dialout``);
* Modbus TCP meters: a TCP connection within a short timeout;
* the MQTT broker: a real MQTT CONNECT with the configured user, password and TLS, under a
  client id of its own (``…-doctor-<pid>``) so a running service keeps its session.
"""

from __future__ import annotations

import os
import socket
import ssl
import time
from collections import defaultdict
from pathlib import Path

from scada.doctor import Finding, Probes, fail, ok, warn
from scada.drivers.buses import SMBusLike
from scada.drivers.errors import BusMissingError
from scada.layout import Device, Layout
from scada.layout.model import GpioBus, I2cBus, ModbusRtuBus, ModbusTcpBus, OneWireBus
from scada.link.mqtt_settings import MqttSettings
from scada.settings import CONFIG_PATH, SECRETS_PATH, ScadaSettings

BOOT_CONFIG = "/boot/firmware/config.txt"


def check_hardware(layout: Layout, probes: Probes) -> list[Finding]:
    return (
        check_i2c(layout, probes)
        + check_one_wire(layout, probes)
        + check_gpio(layout, probes)
        + check_serial(layout, probes)
        + check_modbus_tcp(layout, probes)
    )


# ------------------------------------------------------------------------- I2C


def check_i2c(layout: Layout, probes: Probes) -> list[Finding]:
    by_bus: dict[int, list[tuple[Device, int]]] = defaultdict(list)
    for dev in layout.devices:
        if isinstance(dev.bus, I2cBus):
            by_bus[dev.bus.bus].append((dev, dev.bus.address))
    out: list[Finding] = []
    for n, devices in sorted(by_bus.items()):
        names = ", ".join(d.name for d, _ in devices)
        try:
            bus = probes.buses.i2c(n)
        except BusMissingError:
            out.append(fail("i2c", f"/dev/i2c-{n} does not exist ({names})", _enable_i2c(n)))
            continue
        except OSError as e:
            out.append(
                fail(
                    "i2c",
                    f"cannot open /dev/i2c-{n}: {e.strerror or e}",
                    "run the doctor with sudo, or join the i2c group: sudo usermod -aG i2c $USER",
                )
            )
            continue
        out.append(ok("i2c", f"I2C bus /dev/i2c-{n} present ({names})"))
        if not probes.buses.emulated:
            out += _device_access(probes, "i2c", probes.dev_dir / f"i2c-{n}", "i2c")
        try:
            out += [_answers(bus, n, dev, addr) for dev, addr in devices]
        finally:
            bus.close()
    return out


def _enable_i2c(n: int) -> str:
    if n == 1:
        return "enable I2C: sudo raspi-config nonint do_i2c 0 (or Interface Options → I2C), reboot"
    return f"bus {n} needs an overlay in {BOOT_CONFIG} (e.g. dtoverlay=i2c-gpio,bus={n}), reboot"


def _answers(bus: SMBusLike, n: int, dev: Device, addr: int) -> Finding:
    where = f"0x{addr:02x} on i2c-{n}"
    try:
        bus.read_byte(addr)
    except OSError as e:
        return fail(
            "i2c",
            f"{dev.name} ({dev.make_model.value}): no answer at {where} ({e.strerror or e})",
            f"check its power, the SDA/SCL wiring and the address jumpers; "
            f"`i2cdetect -y {n}` lists the addresses that answer",
        )
    return ok("i2c", f"{dev.name} ({dev.make_model.value}) answers at {where}")


# ---------------------------------------------------------------------- 1-Wire


def check_one_wire(layout: Layout, probes: Probes) -> list[Finding]:
    out: list[Finding] = []
    for dev in layout.devices:
        if not isinstance(dev.bus, OneWireBus):
            continue
        try:
            root = probes.buses.one_wire_root(dev.bus.sysfs_root)
        except BusMissingError:
            out.append(
                fail(
                    "1-wire",
                    f"{dev.bus.sysfs_root} does not exist ({dev.name}): no 1-Wire overlay",
                    "enable 1-Wire: sudo raspi-config nonint do_onewire 0 "
                    f"(dtoverlay=w1-gpio in {BOOT_CONFIG}), reboot",
                )
            )
            continue
        present = {p.name for p in root.glob("28-*")}
        wanted = {c.hw_id: c.name for c in layout.channels if c.device == dev.name and c.hw_id}
        out.append(ok("1-wire", f"1-Wire bus {root} present ({len(present)} DS18B20 probes found)"))
        others = sorted(present - wanted.keys())
        for hw_id, channel in sorted(wanted.items(), key=lambda kv: kv[1]):
            if hw_id in present:
                out.append(ok("1-wire", f"{channel}: probe {hw_id} present"))
            else:
                found = f"; present and not in the layout: {', '.join(others)}" if others else ""
                out.append(
                    fail(
                        "1-wire",
                        f"{channel}: probe {hw_id} is not on the bus",
                        f"check the probe's wiring and its id in the layout{found}",
                    )
                )
    return out


# ------------------------------------------------------------- GPIO and serial


def check_gpio(layout: Layout, probes: Probes) -> list[Finding]:
    if probes.buses.emulated:
        return []
    chips = sorted({d.bus.chip for d in layout.devices if isinstance(d.bus, GpioBus)})
    out: list[Finding] = []
    for chip in chips:
        path = probes.dev_dir / f"gpiochip{chip}"
        if not path.exists():
            out.append(fail("gpio", f"{path} does not exist", "is this a Raspberry Pi?"))
        else:
            out.append(ok("gpio", f"{path} present"))
            out += _device_access(probes, "gpio", path, "gpio")
    return out


def check_serial(layout: Layout, probes: Probes) -> list[Finding]:
    out: list[Finding] = []
    for dev in layout.devices:
        if not isinstance(dev.bus, ModbusRtuBus):
            continue
        port = dev.bus.port
        try:
            path = Path(probes.buses.serial_port(port))
        except BusMissingError:
            out.append(
                fail(
                    "serial",
                    f"serial port {port} does not exist ({dev.name})",
                    "plug in the RS-485 adapter (`ls -l /dev/serial/by-id/` shows its name) "
                    "or correct the port in the layout",
                )
            )
            continue
        out.append(ok("serial", f"serial port {port} present ({dev.name})"))
        out += _device_access(probes, "serial", path, "dialout", shown=port)
    return out


def _device_access(
    probes: Probes, check: str, path: Path, group: str, *, shown: str | None = None
) -> list[Finding]:
    user = probes.service_user
    try:
        can, mode = probes.service_can(path, 0o6)
    except OSError as e:
        return [warn(check, f"cannot stat {shown or path}: {e.strerror or e}")]
    if probes.groups.user(user) is None:
        return []  # reported by the accounts check
    if can:
        return [ok(check, f"{user} may read and write {shown or path} ({mode})")]
    return [
        fail(
            check,
            f"{user} cannot read and write {shown or path} ({mode})",
            f"sudo usermod -aG {group} {user} && sudo systemctl restart gwscada "
            f"(the device should be group {group}, mode 0660)",
        )
    ]


# ------------------------------------------------------------------ Modbus TCP


def check_modbus_tcp(layout: Layout, probes: Probes) -> list[Finding]:
    out: list[Finding] = []
    for dev in layout.devices:
        if not isinstance(dev.bus, ModbusTcpBus):
            continue
        host, port = dev.bus.host, dev.bus.port
        real_host, real_port = probes.buses.modbus_tcp(host, port)
        where = f"{host}:{port}"
        try:
            probes.connect_tcp(real_host, real_port, probes.timeout_s)
        except OSError as e:
            out.append(_tcp_failure(dev.name, where, host, e, probes.timeout_s))
        else:
            out.append(ok("modbus", f"{dev.name} ({dev.make_model.value}) answers on {where}"))
    return out


def _tcp_failure(name: str, where: str, host: str, e: OSError, timeout_s: float) -> Finding:
    if isinstance(e, socket.gaierror):
        return fail(
            "modbus",
            f"{name}: cannot resolve {host} ({e.strerror or e})",
            "put the meter's IP address in the layout, or check DNS / mDNS (avahi-daemon)",
        )
    if isinstance(e, ConnectionRefusedError):
        return fail(
            "modbus",
            f"{name}: {where} refused the connection",
            "turn on the meter's Modbus TCP server and check the port in the layout",
        )
    if isinstance(e, TimeoutError):
        return fail(
            "modbus",
            f"{name}: no answer from {where} within {timeout_s:g} s",
            f"is the meter powered and on this network? (ping {host})",
        )
    return fail(
        "modbus",
        f"{name}: cannot connect to {where} ({e.strerror or e})",
        f"check the network path to {host}",
    )


# ------------------------------------------------------------------------ MQTT


def check_mqtt(settings: ScadaSettings, probes: Probes) -> list[Finding]:
    mqtt = settings.mqtt_settings() if settings.mqtt_url is not None else None
    if mqtt is None:
        return [
            warn(
                "mqtt",
                "no broker configured (mqtt.url): the SCADA runs LocalControl and keeps its data",
                f"set [mqtt] url in {CONFIG_PATH} for the uplink to the ATN",
            )
        ]
    out: list[Finding] = []
    if not mqtt.tls and mqtt.host not in {"localhost", "127.0.0.1", "::1"}:
        out.append(
            warn(
                "mqtt",
                f"{mqtt.display_url} is not encrypted: credentials and data cross the network "
                "in the clear",
                "use mqtts:// (and mqtt.ca_file)",
            )
        )
    user = mqtt.effective_username()
    who = f"user {user}" if user else "no user name"
    reason = probes.mqtt_connect(mqtt, probes.timeout_s)
    if reason is None:
        tls = "TLS" if mqtt.tls else "no TLS"
        out.append(ok("mqtt", f"broker {mqtt.display_url} accepted {who} ({tls})"))
        return out
    out.append(fail("mqtt", f"broker {mqtt.display_url} ({who}): {reason}", _mqtt_fix(reason)))
    return out


def _mqtt_fix(reason: str) -> str:
    low = reason.lower()
    if "authori" in low or "user name or password" in low or "password" in low:
        return f"check mqtt.username in {CONFIG_PATH} and mqtt.password in {SECRETS_PATH}"
    if low.startswith("tls"):
        return "check mqtt.ca_file (the CA that signed the broker's certificate) and the clock"
    if "resolve" in low:
        return "check the host name in mqtt.url, and DNS"
    return "is the broker running and reachable from here? check mqtt.url and the firewall"


def _handshake(ctx: ssl.SSLContext, host: str, port: int, timeout_s: float) -> None:
    """A TLS handshake of our own first: its failure is the clearest reason there is, and
    its socket is closed whatever happens (paho leaves a failed one to the collector)."""
    with (
        socket.create_connection((host, port), timeout=timeout_s) as raw,
        ctx.wrap_socket(raw, server_hostname=host),
    ):
        pass


def mqtt_connect(settings: MqttSettings, timeout_s: float) -> str | None:
    """Connect to the broker once with ``settings``: None when accepted, else why not."""
    import paho.mqtt.client as mqtt  # noqa: PLC0415
    from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion  # noqa: PLC0415

    v5 = settings.protocol == "5"
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2,
        client_id=f"{settings.client_id or 'gwscada'}-doctor-{os.getpid()}",
        protocol=MQTTProtocolVersion.MQTTv5 if v5 else MQTTProtocolVersion.MQTTv311,
    )
    client.connect_timeout = timeout_s
    answer: list[str] = []

    def on_connect(_c: object, _u: object, _f: object, rc: object, _p: object) -> None:
        failed = bool(getattr(rc, "is_failure", False))
        answer.append(str(rc) if failed else "")

    client.on_connect = on_connect
    username = settings.effective_username()
    if username:
        try:
            client.username_pw_set(username, settings.read_password())
        except OSError as e:
            return f"cannot read mqtt.password_file {settings.password_file}: {e.strerror or e}"
    try:
        if settings.tls:
            ctx = ssl.create_default_context(
                cafile=str(settings.ca_file) if settings.ca_file else None
            )
            if settings.cert_file is not None:
                key = str(settings.key_file) if settings.key_file else None
                ctx.load_cert_chain(str(settings.cert_file), key)
            if settings.tls_insecure:
                ctx.check_hostname = False
            _handshake(ctx, settings.host, settings.port, timeout_s)
            client.tls_set_context(ctx)
        client.connect(settings.host, settings.port, keepalive=max(5, int(timeout_s) + 5))
        deadline = time.monotonic() + timeout_s
        while not answer and time.monotonic() < deadline:
            client.loop(timeout=0.05)
    except ssl.SSLCertVerificationError as e:
        return f"TLS: {e.verify_message or e}"
    except ssl.SSLError as e:
        return f"TLS: {e.reason or e}"
    except ConnectionRefusedError:
        return "connection refused"
    except TimeoutError:
        return f"no answer within {timeout_s:g} s"
    except OSError as e:
        if isinstance(e, socket.gaierror):
            return f"cannot resolve {settings.host} ({e.strerror or e})"
        return e.strerror or str(e)
    finally:
        if client.is_connected():
            client.disconnect()
            client.loop(timeout=0.05)  # send the DISCONNECT
        sock = client.socket()
        if sock is not None:
            sock.close()
    if not answer:
        return f"no CONNACK within {timeout_s:g} s"
    return answer[0] or None
