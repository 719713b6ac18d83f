"""``scada doctor``: what an installer gets wrong, one line each — OK, WARN or FAIL, what, the fix.

The checks: the settings files (and the secrets file's mode), the house layout, the service
user and the groups it needs, the hardware the layout names (:mod:`scada.doctor_hw`: I2C buses
and addresses, the 1-Wire overlay and probe ids, GPIO chips, serial ports and their
permissions, Modbus TCP meters, the MQTT broker with the configured credentials and TLS), the
clock's synchronisation, disk space for the store, and the socket's folder, mode and group.

Every check reads the machine through :class:`Probes` — the buses (the Pi's own, or an
emulator's), the user and group database, a TCP connector, an MQTT connector, a command
runner, ``stat`` and free disk space — so the tests run them against emulated buses, fake
group databases and real local listeners. The paths checked are the service's
(``/var/lib/gwscada``, ``/run/gwscada/scada.sock``) unless the settings name others.
"""

from __future__ import annotations

import getpass
import grp
import os
import pwd
import shutil
import socket
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Final, Protocol

from scada.drivers.buses import Buses, SystemBuses
from scada.layout import Layout
from scada.layout.model import GpioBus, I2cBus, ModbusRtuBus
from scada.link.mqtt_settings import MqttSettings
from scada.service_unit import RUNTIME_DIR, STATE_DIR, UNIT_PATH, parse_unit
from scada.settings import LoadedSettings, ScadaSettings, SettingsError, secrets_file_warnings

GB: Final = 1024**3
WARN_FREE_BYTES: Final = 1 * GB
FAIL_FREE_BYTES: Final = 100 * 1024**2
TIMEOUT_S: Final = 2.0


class Level(StrEnum):
    OK = "OK"
    WARN = "WARN"
    FAIL = "FAIL"


@dataclass(frozen=True, slots=True)
class Finding:
    """One line of the doctor's report."""

    level: Level
    check: str
    what: str
    fix: str = ""

    def line(self) -> str:
        return f"{self.level.value:<4}  {self.what}" + (f" — {self.fix}" if self.fix else "")

    def as_json(self) -> dict[str, str]:
        return {"level": self.level.value, "check": self.check, "what": self.what, "fix": self.fix}


def ok(check: str, what: str) -> Finding:
    return Finding(Level.OK, check, what)


def warn(check: str, what: str, fix: str = "") -> Finding:
    return Finding(Level.WARN, check, what, fix)


def fail(check: str, what: str, fix: str) -> Finding:
    return Finding(Level.FAIL, check, what, fix)


# ---------------------------------------------------------------- the machine


@dataclass(frozen=True, slots=True)
class Account:
    name: str
    uid: int
    gid: int


@dataclass(frozen=True, slots=True)
class Group:
    name: str
    gid: int
    members: frozenset[str] = frozenset()


class GroupDb(Protocol):
    """The users and groups of the machine."""

    def user(self, name: str) -> Account | None: ...

    def group(self, name: str) -> Group | None: ...

    def group_by_gid(self, gid: int) -> Group | None: ...


class SystemGroups:
    """This machine's ``/etc/passwd`` and ``/etc/group`` (through NSS)."""

    def user(self, name: str) -> Account | None:
        try:
            p = pwd.getpwnam(name)
        except KeyError:
            return None
        return Account(p.pw_name, p.pw_uid, p.pw_gid)

    def group(self, name: str) -> Group | None:
        try:
            g = grp.getgrnam(name)
        except KeyError:
            return None
        return Group(g.gr_name, g.gr_gid, frozenset(g.gr_mem))

    def group_by_gid(self, gid: int) -> Group | None:
        try:
            g = grp.getgrgid(gid)
        except KeyError:
            return None
        return Group(g.gr_name, g.gr_gid, frozenset(g.gr_mem))


def connect_tcp(host: str, port: int, timeout_s: float) -> None:
    """Open and close a TCP connection; ``OSError`` (``gaierror``, refused, timeout) if not."""
    with socket.create_connection((host, port), timeout=timeout_s):
        pass


def run_command(argv: Sequence[str]) -> tuple[int, str]:
    """``(exit code, stdout + stderr)``; 127 when the program does not exist."""
    try:
        done = subprocess.run(
            list(argv), capture_output=True, text=True, check=False, timeout=TIMEOUT_S * 2
        )
    except FileNotFoundError:
        return 127, f"{argv[0]}: not found"
    except subprocess.TimeoutExpired:
        return 124, f"{argv[0]}: timed out"
    return done.returncode, (done.stdout + done.stderr).strip()


def invoking_user() -> str:
    """Who runs the doctor: the user behind ``sudo``, else ourselves."""
    return os.environ.get("SUDO_USER") or getpass.getuser()


def _mqtt_probe(settings: MqttSettings, timeout_s: float) -> str | None:
    from scada.doctor_hw import mqtt_connect  # noqa: PLC0415 - paho only when a broker is set

    return mqtt_connect(settings, timeout_s)


@dataclass(slots=True)
class Probes:
    """How the checks see the machine; every part replaceable in tests."""

    buses: Buses = field(default_factory=SystemBuses)
    groups: GroupDb = field(default_factory=SystemGroups)
    connect_tcp: Callable[[str, int, float], None] = connect_tcp
    mqtt_connect: Callable[[MqttSettings, float], str | None] = _mqtt_probe
    run: Callable[[Sequence[str]], tuple[int, str]] = run_command
    stat: Callable[[Path], os.stat_result] = os.stat
    disk_free: Callable[[Path], int] = field(default=lambda p: shutil.disk_usage(p).free)
    service_user: str = "gwscada"
    console_user: str = field(default_factory=invoking_user)
    unit_path: Path = UNIT_PATH
    dev_dir: Path = Path("/dev")
    timeout_s: float = TIMEOUT_S

    def service_gids(self) -> set[int]:
        """The groups the service runs with: the user's own and member groups, plus the
        unit's ``SupplementaryGroups=``."""
        user = self.groups.user(self.service_user)
        if user is None:
            return set()
        gids = {user.gid}
        for name in unit_groups(self.unit_path):
            g = self.groups.group(name)
            if g is not None:
                gids.add(g.gid)
        return gids | {g.gid for g in self._member_groups(self.service_user)}

    def in_group(self, user: str, group: str) -> bool:
        g = self.groups.group(group)
        account = self.groups.user(user)
        if g is None or account is None:
            return False
        return account.gid == g.gid or user in g.members

    def _member_groups(self, user: str) -> list[Group]:
        names = ("i2c", "gpio", "dialout", "gwscada", "tty")
        found = (self.groups.group(n) for n in names)
        return [g for g in found if g is not None and user in g.members]

    def service_can(self, path: Path, need: int) -> tuple[bool, str]:
        """Whether the service user may ``need`` (0o6 rw, 0o7 rwx) ``path``, and the path's
        ``mode owner:group`` for the message."""
        st = self.stat(path)
        group = self.groups.group_by_gid(st.st_gid)
        shown = f"{st.st_mode & 0o777:04o} uid {st.st_uid}:{group.name if group else st.st_gid}"
        user = self.groups.user(self.service_user)
        if user is None:
            return False, shown
        if user.uid == 0:
            return True, shown
        if st.st_uid == user.uid:
            bits = st.st_mode >> 6
        elif st.st_gid in self.service_gids():
            bits = st.st_mode >> 3
        else:
            bits = st.st_mode
        return bits & need == need, shown


def unit_groups(unit_path: Path) -> list[str]:
    """``SupplementaryGroups=`` of the installed unit ([] when there is none)."""
    try:
        text = unit_path.read_text(encoding="utf-8")
    except OSError:
        return []
    values = parse_unit(text).get("Service", {}).get("SupplementaryGroups", [])
    return [g for v in values for g in v.split()]


# ------------------------------------------------------------------- the checks


def check_settings(loaded: LoadedSettings | SettingsError) -> list[Finding]:
    if isinstance(loaded, SettingsError):
        fix = "correct it; `scada config show` prints the settings and where each came from"
        return [fail("settings", str(p), fix) for p in loaded.problems]
    out = [
        ok(
            "settings",
            f"settings read ({loaded.config_file}: "
            f"{'present' if loaded.config_exists else 'absent, defaults used'})",
        )
    ]
    for note in loaded.warnings:
        level_fail = "lets every user read the secrets" in note
        if level_fail:
            fix = note.rpartition(": ")[2]
            out.append(fail("settings", note.rpartition(": ")[0], fix))
        else:
            out.append(warn("settings", note))
    return out


def check_secrets_readable(loaded: LoadedSettings, probes: Probes) -> list[Finding]:
    """The service must be able to read its secrets file (and nobody else)."""
    if not loaded.secrets_exists:
        return []
    path = loaded.secrets_file
    if secrets_file_warnings(path) or probes.groups.user(probes.service_user) is None:
        return []  # reported by check_settings, or by check_accounts
    can, shown = probes.service_can(path, 0o4)
    if not can:
        return [
            fail(
                "settings",
                f"{probes.service_user} cannot read {path} ({shown})",
                f"sudo chgrp {probes.service_user} {path} && sudo chmod 0640 {path}",
            )
        ]
    return [ok("settings", f"{path} readable by {probes.service_user} only ({shown})")]


def needed_groups(layout: Layout | None) -> dict[str, str]:
    """The device groups the layout needs, with what for."""
    out: dict[str, str] = {}
    for dev in layout.devices if layout is not None else ():
        if isinstance(dev.bus, I2cBus):
            out["i2c"] = "the I2C buses"
        elif isinstance(dev.bus, GpioBus):
            out["gpio"] = "the GPIO pins"
        elif isinstance(dev.bus, ModbusRtuBus):
            out["dialout"] = "the serial ports"
    return out


def check_accounts(layout: Layout | None, settings: ScadaSettings, probes: Probes) -> list[Finding]:
    user = probes.service_user
    out: list[Finding] = []
    install = "make install-pi (sudo scada install-service)"
    if not probes.unit_path.exists():
        out.append(warn("service", f"the service is not installed ({probes.unit_path})", install))
    else:
        out.append(ok("service", f"the service is installed ({probes.unit_path})"))
    if probes.groups.user(user) is None:
        out.append(fail("groups", f"there is no user {user}", install))
        return out
    unit = set(unit_groups(probes.unit_path))
    for group, why in needed_groups(layout).items():
        if probes.groups.group(group) is None:
            out.append(
                fail("groups", f"there is no group {group} ({why})", f"sudo groupadd -r {group}")
            )
        elif probes.in_group(user, group) or group in unit:
            out.append(ok("groups", f"{user} is in {group} ({why})"))
        else:
            out.append(
                fail(
                    "groups",
                    f"{user} is not in {group}: the service cannot use {why}",
                    f"sudo usermod -aG {group} {user} && sudo systemctl restart gwscada",
                )
            )
    console, cgroup = probes.console_user, settings.console_group
    if probes.groups.group(cgroup) is None:
        out.append(fail("groups", f"there is no group {cgroup} (console_group)", install))
    elif console == "root":
        out.append(ok("groups", "root may attach a console"))
    elif probes.in_group(console, cgroup):
        out.append(ok("groups", f"{console} is in {cgroup}: gwtui can attach"))
    else:
        out.append(
            fail(
                "groups",
                f"{console} is not in {cgroup}: gwtui and scada status cannot attach",
                f"sudo usermod -aG {cgroup} {console}, then log out and back in",
            )
        )
    return out


def check_clock(probes: Probes) -> list[Finding]:
    code, text = probes.run(["timedatectl", "show", "-p", "NTPSynchronized", "--value"])
    answer = text.strip().lower()
    if code == 0 and answer == "yes":
        return [ok("clock", "the clock is synchronised (NTP)")]
    if code == 0 and answer == "no":
        return [
            fail(
                "clock",
                "the clock is not synchronised: statuses and contract times would be wrong",
                "sudo timedatectl set-ntp true; the Pi needs the network to reach an NTP server "
                "(systemctl status systemd-timesyncd)",
            )
        ]
    why = text.splitlines()[0] if text else f"exit {code}"
    return [
        warn(
            "clock",
            f"cannot tell whether the clock is synchronised (timedatectl: {why})",
            "check `date -u` against a good clock",
        )
    ]


def check_disk(settings: ScadaSettings, probes: Probes) -> list[Finding]:
    data = settings.data_dir or STATE_DIR
    where = data
    while not where.exists() and where != where.parent:
        where = where.parent
    try:
        free = probes.disk_free(where)
    except OSError as e:
        return [warn("disk", f"cannot read the free space of {where}: {e}")]
    shown = f"{free / GB:.1f} GB free for the data in {data}"
    out: list[Finding] = []
    if free < FAIL_FREE_BYTES:
        out.append(
            fail(
                "disk", shown, "free space: sudo apt-get clean; sudo journalctl --vacuum-size=100M"
            )
        )
    elif free < WARN_FREE_BYTES:
        out.append(warn("disk", shown, "the store needs room for 28 days: free some space"))
    else:
        out.append(ok("disk", shown))
    if not data.exists():
        out.append(
            warn("disk", f"{data} does not exist yet", "systemd makes it when the service starts")
        )
    else:
        can, mode = probes.service_can(data, 0o7)
        if can:
            out.append(ok("disk", f"{data} is writable by {probes.service_user} ({mode})"))
        else:
            out.append(
                fail(
                    "disk",
                    f"{probes.service_user} cannot write {data} ({mode})",
                    f"sudo chown -R {probes.service_user}:{probes.service_user} {data}",
                )
            )
    return out


def check_socket(settings: ScadaSettings, probes: Probes) -> list[Finding]:
    path = settings.socket or RUNTIME_DIR / "scada.sock"
    folder, cgroup = path.parent, settings.console_group
    if not folder.is_dir():
        return [
            warn(
                "socket",
                f"no {folder}: the service is not running",
                "sudo systemctl start gwscada; journalctl -u gwscada -n 50",
            )
        ]
    out: list[Finding] = []
    group = probes.groups.group(cgroup)
    for target, need in ((folder, 0o5), (path, 0o6)):
        try:
            st = probes.stat(target)
        except FileNotFoundError:
            out.append(
                warn(
                    "socket",
                    f"no socket {path}: the service is not serving",
                    "systemctl status gwscada; journalctl -u gwscada -n 50",
                )
            )
            break
        mode = st.st_mode & 0o777
        owner = probes.groups.group_by_gid(st.st_gid)
        shown = f"{target} ({mode:04o}, group {owner.name if owner else st.st_gid})"
        if group is not None and st.st_gid != group.gid:
            out.append(
                fail(
                    "socket",
                    f"{shown}: not group {cgroup}, so its members cannot attach",
                    f"make {cgroup} the service's group, or console_group the socket's",
                )
            )
        elif (mode >> 3) & need != need or mode & 0o002:
            out.append(
                fail(
                    "socket",
                    f"{shown}: the group needs {'r-x' if need == 0o5 else 'rw-'}, others no write",
                    "the service sets these itself: sudo systemctl restart gwscada",
                )
            )
        else:
            out.append(ok("socket", shown))
    return out


def diagnose(
    loaded: LoadedSettings | SettingsError,
    layout: Layout | None,
    probes: Probes,
    *,
    hardware: bool = True,
    layout_findings: Sequence[Finding] = (),
) -> list[Finding]:
    """Every check, in the order an installer fixes things."""
    from scada.doctor_hw import check_hardware, check_mqtt  # noqa: PLC0415 - split for size

    settings = (
        loaded.settings if isinstance(loaded, LoadedSettings) else ScadaSettings.model_construct()
    )
    out = check_settings(loaded)
    if isinstance(loaded, LoadedSettings):
        out += check_secrets_readable(loaded, probes)
    out += layout_findings
    out += check_accounts(layout, settings, probes)
    if layout is not None and hardware:
        out += check_hardware(layout, probes)
    out += check_mqtt(settings, probes)
    out += check_clock(probes)
    out += check_disk(settings, probes)
    out += check_socket(settings, probes)
    return out


def exit_code(findings: Sequence[Finding]) -> int:
    return 1 if any(f.level is Level.FAIL for f in findings) else 0


def summary(findings: Sequence[Finding]) -> str:
    counts = {level: sum(f.level is level for f in findings) for level in Level}
    return ", ".join(
        f"{counts[level]} {level.value}" for level in (Level.FAIL, Level.WARN, Level.OK)
    )
