"""``scada install-service`` / ``uninstall-service``: the SCADA as a systemd service on a Pi.

What is done is computed first, as data — a list of :data:`Step` values (run a command, make a
folder, write a file, copy a tree, link, remove) — and then carried out by a runner
(:mod:`scada.install_steps`):

* :class:`SystemRunner` does it to this machine (as root);
* :class:`RootRunner` does it under a folder (``--root DIR``): files and folders land under
  ``DIR`` with their modes, and what cannot be done there — the commands (``useradd``,
  ``pip install``, ``systemctl``) and the owners — is written down in
  ``DIR/.gwscada-install/`` instead of touching the system. The tests install this way.
* :func:`describe` prints the steps (``--dry-run``).

Install: the ``gwscada`` system user and group (plus the device groups ``i2c``, ``gpio`` and
``dialout`` if missing), a copy of the source under ``/opt/gwscada/src`` (the service cannot
see a clone in a home folder: ``ProtectHome=yes``), a virtual environment ``/opt/gwscada/venv``
with the project installed in it, the house layouts under the venv's ``share/gwscada``, the
``scada`` and ``gwtui`` commands linked into ``/usr/local/bin``, ``/etc/gwscada/scada.toml``
and ``secrets.toml`` (each written once, never overwritten; the secrets file's mode is set to
0640 root:gwscada every time), ``/var/lib/gwscada``, the unit, ``systemctl daemon-reload``, and
a restart if the service is running. Uninstall removes the unit, the venv, the source copy and
the links, and keeps ``/var/lib/gwscada`` (the data), ``/etc/gwscada`` and the user.

Standard library only, so ``sudo python3 -m scada.install install`` (what ``make
install-pi`` runs) works on a fresh Pi before any virtual environment exists.
"""

from __future__ import annotations

import argparse
import grp
import os
import pwd
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Protocol

from scada.install_steps import (
    CopyTree,
    InstallError,
    MakeDir,
    Remove,
    RootRunner,
    Run,
    Runner,
    Step,
    Symlink,
    SystemRunner,
    WriteFile,
    describe,
    perform,
)
from scada.service_unit import (
    CONFIG_DIR,
    DEFAULT_CONFIG,
    DEFAULT_PREFIX,
    DEFAULT_SECRETS,
    DEFAULT_USER,
    DEVICE_GROUPS,
    SERVICE,
    STATE_DIR,
    UNIT_PATH,
    UnitOptions,
    render_unit,
)

BIN_DIR: Final = Path("/usr/local/bin")
COMMANDS: Final = ("scada", "gwtui")
#: What of the repository the installed copy needs (pip builds from it; README is its readme).
SOURCE_ITEMS: Final = ("pyproject.toml", "README.md", "scada", "gwtui", "sim", "input_data")


# ---------------------------------------------------------------------- facts


class Facts(Protocol):
    """What the plan needs to know about the target system."""

    def group_exists(self, name: str) -> bool: ...

    def user_exists(self, name: str) -> bool: ...


class HostFacts:
    """This machine's user and group databases."""

    def group_exists(self, name: str) -> bool:
        try:
            grp.getgrnam(name)
        except KeyError:
            return False
        return True

    def user_exists(self, name: str) -> bool:
        try:
            pwd.getpwnam(name)
        except KeyError:
            return False
        return True


class RootFacts:
    """The user and group databases under a root folder (``etc/passwd``, ``etc/group``);
    missing files mean no users or groups yet."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _names(self, file: str) -> set[str]:
        path = self.root / "etc" / file
        if not path.exists():
            return set()
        return {line.split(":", 1)[0] for line in path.read_text().splitlines() if line.strip()}

    def group_exists(self, name: str) -> bool:
        return name in self._names("group")

    def user_exists(self, name: str) -> bool:
        return name in self._names("passwd")


# ----------------------------------------------------------------------- plans


@dataclass(frozen=True, slots=True)
class InstallOptions:
    prefix: Path = DEFAULT_PREFIX
    user: str = DEFAULT_USER
    source: Path | None = None
    python: Path | None = None

    @property
    def venv(self) -> Path:
        return self.prefix / "venv"

    @property
    def group(self) -> str:
        return self.user


def source_dir() -> Path:
    """The repository this package was loaded from (it must have a ``pyproject.toml``)."""
    repo = Path(__file__).resolve().parents[1]
    if not (repo / "pyproject.toml").is_file():
        raise InstallError(
            f"{repo} is not a clone of the repository (no pyproject.toml): run the installer "
            "from the clone (make install-pi), or give --source DIR"
        )
    return repo


def base_python() -> Path:
    """The system's Python (not a virtual environment's), to make the service's venv from."""
    for name in (f"python{sys.version_info.major}.{sys.version_info.minor}", "python3"):
        candidate = Path(sys.base_prefix) / "bin" / name
        if candidate.exists():
            return candidate
    return Path(sys.executable)


def install_plan(opts: InstallOptions, facts: Facts) -> list[Step]:
    """Every step of an installation, in order."""
    src = opts.source or source_dir()
    user, group = opts.user, opts.group
    steps: list[Step] = [
        Run(("groupadd", "--system", g), f"the device group {g}")
        for g in DEVICE_GROUPS
        if not facts.group_exists(g)
    ]
    if not facts.group_exists(group):
        steps.append(Run(("groupadd", "--system", group), "the service's group"))
    if not facts.user_exists(user):
        steps.append(
            Run(
                (
                    "useradd",
                    "--system",
                    "--gid",
                    group,
                    "--home-dir",
                    str(STATE_DIR),
                    "--no-create-home",
                    "--shell",
                    "/usr/sbin/nologin",
                    "--comment",
                    "GridWorks SpaceHeat SCADA",
                    user,
                ),
                "the service's user",
            )
        )
    steps.append(
        Run(
            ("usermod", "--append", "--groups", ",".join(DEVICE_GROUPS), user),
            "the device groups, for I2C, GPIO and the serial ports",
        )
    )
    steps.append(MakeDir(opts.prefix, 0o755))
    steps.extend(CopyTree(src / item, opts.prefix / "src" / item) for item in SOURCE_ITEMS)
    python = opts.python or base_python()
    vpy = str(opts.venv / "bin" / "python")
    steps += [
        Run((str(python), "-m", "venv", str(opts.venv)), "the virtual environment (kept if there)"),
        Run(
            (vpy, "-m", "pip", "install", "--quiet", "--upgrade", "pip"),
            "a current pip",
        ),
        Run(
            (vpy, "-m", "pip", "install", "--quiet", str(opts.prefix / "src")),
            "the SCADA and its dependencies",
        ),
        CopyTree(src / "input_data", opts.venv / "share" / "gwscada" / "input_data"),
    ]
    steps.extend(Symlink(BIN_DIR / c, opts.venv / "bin" / c) for c in COMMANDS)
    steps += [
        MakeDir(CONFIG_DIR, 0o755, "root", group),
        WriteFile(CONFIG_DIR / "scada.toml", DEFAULT_CONFIG, 0o644, "root", group, replace=False),
        WriteFile(
            CONFIG_DIR / "secrets.toml", DEFAULT_SECRETS, 0o640, "root", group, replace=False
        ),
        MakeDir(STATE_DIR, 0o750, user, group),
        WriteFile(
            UNIT_PATH,
            render_unit(UnitOptions(prefix=opts.prefix, user=user, group=group)),
            0o644,
        ),
        Run(("systemctl", "daemon-reload"), "systemd reads the new unit"),
        Run(
            ("systemctl", "try-restart", SERVICE),
            "a running service picks up the new version",
            may_fail=True,
        ),
    ]
    return steps


def uninstall_plan(opts: InstallOptions) -> list[Step]:
    """Every step of an uninstallation: the data, the settings and the user stay."""
    steps: list[Step] = [
        Run(("systemctl", "disable", "--now", SERVICE), "stop the service", may_fail=True),
        Remove(UNIT_PATH),
        Run(("systemctl", "daemon-reload"), "systemd forgets the unit", may_fail=True),
    ]
    steps.extend(Remove(BIN_DIR / c, only_link_into=opts.venv) for c in COMMANDS)
    steps += [
        Remove(opts.venv),
        Remove(opts.prefix / "src"),
        Remove(opts.prefix, only_if_empty=True),
    ]
    return steps


KEPT_NOTE: Final = (
    f"kept: {STATE_DIR} (the data), {CONFIG_DIR} (the settings) and the user; to remove them "
    f"too: sudo userdel {DEFAULT_USER}; sudo rm -r {STATE_DIR} {CONFIG_DIR}"
)
NEXT_NOTE: Final = (
    f"next: edit {CONFIG_DIR / 'scada.toml'} (house, mqtt), put secrets in "
    f"{CONFIG_DIR / 'secrets.toml'}, then: sudo systemctl enable --now {SERVICE}; "
    "scada doctor; journalctl -u gwscada -f"
)


# ------------------------------------------------------------------------ main


def main(argv: Sequence[str] | None = None, out: Callable[[str], None] = print) -> int:
    """``python3 -m scada.install install|uninstall [--root DIR] [--prefix P] [--user U]
    [--dry-run] [--source DIR]``; returns the exit code."""
    p = argparse.ArgumentParser(prog="scada-install", description=__doc__.split("\n\n")[0])
    p.add_argument("action", choices=("install", "uninstall"))
    p.add_argument("--root", type=Path, help="install under this folder, not into the system")
    p.add_argument("--prefix", type=Path, default=DEFAULT_PREFIX)
    p.add_argument("--user", default=DEFAULT_USER)
    p.add_argument("--source", type=Path, help="the repository to install (default: this one)")
    p.add_argument("--python", type=Path, help="the Python to make the venv with")
    p.add_argument("--dry-run", action="store_true", help="print the steps, change nothing")
    args = p.parse_args(argv)
    try:
        return run(
            args.action,
            InstallOptions(args.prefix, args.user, args.source, args.python),
            root=args.root,
            dry_run=args.dry_run,
            out=out,
        )
    except InstallError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1


def run(
    action: str,
    opts: InstallOptions,
    *,
    root: Path | None = None,
    dry_run: bool = False,
    out: Callable[[str], None] = print,
    runner: Runner | None = None,
    facts: Facts | None = None,
) -> int:
    """Install or uninstall: into the system, under ``root``, or only describe (``dry_run``)."""
    if not opts.prefix.is_absolute():
        raise InstallError(f"--prefix {opts.prefix} must be an absolute path")
    if root is not None:
        root = root.resolve()
    known: Facts = facts or (RootFacts(root) if root is not None else HostFacts())
    steps = install_plan(opts, known) if action == "install" else uninstall_plan(opts)
    if dry_run:
        for step in steps:
            out(describe(step))
        return 0
    if runner is None:
        if root is not None:
            runner = RootRunner(root, action)
        elif os.geteuid() != 0:
            raise InstallError(
                f"{action} changes the system: run it with sudo "
                "(or --root DIR to install under a folder, --dry-run to see the steps)"
            )
        else:
            runner = SystemRunner()
    perform(steps, runner, out)
    out(NEXT_NOTE if action == "install" else KEPT_NOTE)
    return 0


if __name__ == "__main__":
    sys.exit(main())
