"""The systemd unit of the SCADA service, and the files ``scada install-service`` writes once.

Standard library only: ``sudo python3 -m scada.install`` runs this on a fresh Pi before any
virtual environment exists.

Why the unit is what it is:

* ``Type=notify`` + ``WatchdogSec=30``: ``scada serve`` says ``READY=1`` once it serves and
  pings the watchdog from its event loop (:mod:`scada.systemd`); a stuck loop is restarted.
  ``Restart=always`` with ``StartLimitIntervalSec=0``: a heating controller never gives up.
* ``After=network.target`` only — never ``network-online.target``: no network at boot must not
  hold up local control (defect 6 of the original).
* The socket is ``/run/gwscada/scada.sock`` (``RuntimeDirectory=``, mode 0750, group gwscada),
  the store under ``/var/lib/gwscada`` (``StateDirectory=``), settings in ``/etc/gwscada``
  (``ConfigurationDirectory=``, owned by root and read-only to the service: with
  ``ProtectSystem=strict`` the SCADA cannot rewrite its own configuration even if it tried).
* Devices: the service reaches ``/dev/i2c-*``, ``/dev/gpiochip*`` and the serial ports through
  its groups (``SupplementaryGroups=i2c gpio dialout``) and the ordinary file permissions.
  ``PrivateDevices=`` stays off, because it would hide those very nodes, and there is no
  ``DeviceAllow=`` list, because systemd resolves ``char-ttyUSB``-style classes to device
  numbers when the service starts: an RS-485 adapter whose driver loads later would be refused
  until a restart. ``ProtectClock=`` is left out for the same reason — on Debian bookworm's
  systemd it implies ``DeviceAllow=char-rtc r``, which closes every other device.
  With an empty capability set the service cannot create device nodes of its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

SERVICE: Final = "gwscada"
UNIT_PATH: Final = Path("/etc/systemd/system/gwscada.service")
CONFIG_DIR: Final = Path("/etc/gwscada")
STATE_DIR: Final = Path("/var/lib/gwscada")
RUNTIME_DIR: Final = Path("/run/gwscada")
DEFAULT_PREFIX: Final = Path("/opt/gwscada")
DEFAULT_USER: Final = "gwscada"
DEVICE_GROUPS: Final = ("i2c", "gpio", "dialout")
WATCHDOG_S: Final = 30


@dataclass(frozen=True, slots=True)
class UnitOptions:
    prefix: Path = DEFAULT_PREFIX
    user: str = DEFAULT_USER
    group: str = DEFAULT_USER
    supplementary_groups: Sequence[str] = DEVICE_GROUPS
    watchdog_s: int = WATCHDOG_S
    extra_env: Sequence[str] = field(default_factory=tuple)

    @property
    def venv(self) -> Path:
        return self.prefix / "venv"


def render_unit(opts: UnitOptions | None = None) -> str:
    """The text of ``/etc/systemd/system/gwscada.service``."""
    o = opts or UnitOptions()
    env = "".join(f"Environment={e}\n" for e in ("PYTHONUNBUFFERED=1", *o.extra_env))
    return f"""\
# Written by `scada install-service`; running it again rewrites this file.
# Local changes belong in a drop-in: sudo systemctl edit {SERVICE}
[Unit]
Description=GridWorks SpaceHeat SCADA
Documentation=file://{o.prefix}/src/README.md
After=network.target
StartLimitIntervalSec=0

[Service]
Type=notify
NotifyAccess=main
ExecStart={o.venv}/bin/scada serve
WatchdogSec={o.watchdog_s}
Restart=always
RestartSec=5
TimeoutStartSec=90
TimeoutStopSec=30
User={o.user}
Group={o.group}
SupplementaryGroups={" ".join(o.supplementary_groups)}
{env}RuntimeDirectory={SERVICE}
RuntimeDirectoryMode=0750
StateDirectory={SERVICE}
StateDirectoryMode=0750
ConfigurationDirectory={SERVICE}
ConfigurationDirectoryMode=0755
UMask=0027
# Hardening. Devices are reached through the groups above; see scada/service_unit.py for why
# there is no PrivateDevices=, DeviceAllow= or ProtectClock=.
ProtectSystem=strict
ReadWritePaths={STATE_DIR}
ProtectHome=yes
PrivateTmp=yes
NoNewPrivileges=yes
PrivateDevices=no
CapabilityBoundingSet=
AmbientCapabilities=
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectControlGroups=yes
ProtectHostname=yes
RestrictSUIDSGID=yes
RestrictRealtime=yes
RestrictNamespaces=yes
LockPersonality=yes
RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_NETLINK
SystemCallArchitectures=native

[Install]
WantedBy=multi-user.target
"""


def parse_unit(text: str) -> dict[str, dict[str, list[str]]]:
    """``{section: {key: [values in order]}}`` of a unit file (comments and blanks skipped)."""
    out: dict[str, dict[str, list[str]]] = {}
    section: dict[str, list[str]] | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            section = out.setdefault(line[1:-1], {})
            continue
        key, sep, value = line.partition("=")
        if sep and section is not None:
            section.setdefault(key.strip(), []).append(value.strip())
    return out


DEFAULT_CONFIG: Final = """\
# GridWorks SpaceHeat SCADA: the settings of this installation.
# `scada config show` prints the effective values and where each one came from.
# The SCADA only ever reads this file. Flags of `scada serve` and SCADA_* environment
# variables override what is here. Secrets (mqtt.password, mqtt.key_file) belong in
# /etc/gwscada/secrets.toml, never here. After a change: sudo systemctl restart gwscada

# The house to run: its alias (`scada houses` lists them) ...
# house = "w.isone.nh.orange.1"
# ... or a layout file of your own (not both). With neither, the service runs the
# simulated demo house and touches no hardware.
# layout = "/etc/gwscada/house.json"

# simulated = false          # true: run the house on simulated hardware
# log_level = "info"         # debug, info, warning or error
# console_group = "gwscada"  # its members may attach gwtui and the scada CLI

# The uplink to the ATN. Without mqtt.url the SCADA runs LocalControl and keeps its data.
# [mqtt]
# url = "mqtts://broker.example.net:8883"
# username = "w-isone-nh-orange-1"
# ca_file = "/etc/gwscada/ca.pem"       # the CA that signed the broker's certificate
# cert_file = "/etc/gwscada/client.pem" # a client certificate, if the broker wants one
"""

DEFAULT_SECRETS: Final = """\
# GridWorks SpaceHeat SCADA: the secrets of this installation.
# Mode 0640, owner root, group gwscada: readable by the service, never logged.
# [mqtt]
# password = "..."
# key_file = "/etc/gwscada/client.key"  # the TLS client key (mode 0640 root:gwscada too)
"""
