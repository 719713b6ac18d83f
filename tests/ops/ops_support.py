"""Helpers for the ops tests: a fake user/group database, settings files, doctor probes."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from scada.doctor import Account, Finding, Group, Probes
from scada.layout import Layout, load_layout
from scada.service_unit import render_unit
from sim.buses.machine import EmulatedBuses
from tests.conftest import HOUSES

REAL_HOUSE = HOUSES / "w.isone.nh.orange.1.json"  # I2C 0x20 + 0x48, 1-Wire, an RS-485 meter
BIG_HOUSE = HOUSES / "hw25.isone.me.versant.keene.beech.json"  # two I2C buses, Modbus TCP


@dataclass
class FakeGroups:
    """A user and group database in memory. Groups are ``name -> (gid, members)``."""

    users: dict[str, Account] = field(default_factory=dict)
    groups: dict[str, Group] = field(default_factory=dict)

    def add_group(self, name: str, gid: int, *members: str) -> None:
        self.groups[name] = Group(name, gid, frozenset(members))

    def add_user(self, name: str, uid: int, gid: int) -> None:
        self.users[name] = Account(name, uid, gid)

    def join(self, user: str, group: str) -> None:
        g = self.groups[group]
        self.groups[group] = Group(g.name, g.gid, g.members | {user})

    def user(self, name: str) -> Account | None:
        return self.users.get(name)

    def group(self, name: str) -> Group | None:
        return self.groups.get(name)

    def group_by_gid(self, gid: int) -> Group | None:
        return next((g for g in self.groups.values() if g.gid == gid), None)


def pi_groups(*, dialout_gid: int = 20, console: str = "pi") -> FakeGroups:
    """A Raspberry Pi after ``make install-pi``: gwscada in the device groups, ``pi`` in
    gwscada. ``dialout_gid`` lets a test make its temp files count as the dialout group."""
    db = FakeGroups()
    db.add_group("i2c", 998, "gwscada")
    db.add_group("gpio", 997, "gwscada")
    db.add_group("dialout", dialout_gid, "gwscada")
    db.add_group("gwscada", 990, console)
    db.add_group(console, 1000)
    db.add_user("gwscada", 990, 990)
    db.add_user(console, 1000, 1000)
    return db


def write(path: Path, text: str, mode: int = 0o644) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(mode)
    return path


def settings_env(tmp: Path, config: str = "", secrets: str = "") -> dict[str, str]:
    """The process environment without any ``SCADA_*`` variable, its settings files
    ``tmp/scada.toml`` and ``tmp/secrets.toml`` (0640) holding ``config`` and ``secrets``."""
    write(tmp / "scada.toml", config)
    write(tmp / "secrets.toml", secrets, 0o640)
    return env_without_scada(
        {"SCADA_CONFIG": str(tmp / "scada.toml"), "SCADA_SECRETS": str(tmp / "secrets.toml")}
    )


def emulated_machine(layout: Layout, tmp: Path) -> EmulatedBuses:
    """Emulated buses with a chip at every I2C address of ``layout``, every DS18B20 probe in a
    1-Wire tree, and every serial port of the layout as a plain file (mode 0660)."""
    buses = EmulatedBuses(one_wire_root=tmp / "w1")
    buses.populate(layout, tmp / "w1")
    for dev in layout.devices:
        port = getattr(dev.bus, "port", None)
        if isinstance(port, str):
            node = write(tmp / "dev" / Path(port).name, "", 0o660)
            buses.serial[port] = str(node)
    return buses


def doctor_probes(
    buses: EmulatedBuses,
    tmp: Path,
    *,
    groups: FakeGroups | None = None,
    clock_answer: tuple[int, str] = (0, "yes"),
    free_bytes: int = 50 * 1024**3,
    mqtt_answer: str | None = None,
) -> Probes:
    """Probes for the doctor: the emulated buses, a Pi's group database in which the temp
    files' group is ``dialout``, an installed unit, a synchronised clock, plenty of disk."""
    unit = write(tmp / "gwscada.service", render_unit())
    gid = tmp.stat().st_gid
    db = groups or pi_groups(dialout_gid=gid)
    commands: list[Sequence[str]] = []

    def run(argv: Sequence[str]) -> tuple[int, str]:
        commands.append(argv)
        return clock_answer

    return Probes(
        buses=buses,
        groups=db,
        run=run,
        disk_free=lambda _p: free_bytes,
        mqtt_connect=lambda _s, _t: mqtt_answer,
        console_user="pi",
        unit_path=unit,
        dev_dir=tmp / "dev",
        timeout_s=1.0,
    )


def load(path: Path) -> Layout:
    return load_layout(path)


@contextmanager
def tcp_listener() -> Iterator[int]:
    """A TCP socket listening on 127.0.0.1; yields its port."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        s.listen(8)
        yield int(s.getsockname()[1])


def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def lines(findings: Sequence[Finding]) -> str:
    return "\n".join(f.line() for f in findings)


def levels(findings: Sequence[Finding], check: str) -> list[str]:
    return [f.level.value for f in findings if f.check == check]


def env_without_scada(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCADA_")}
    env.update(extra or {})
    return env
