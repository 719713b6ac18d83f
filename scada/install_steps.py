"""The steps of an installation as data, and the runners that carry them out.

:mod:`scada.install` decides *what* to do (a list of :data:`Step` values); a :class:`Runner`
does it: :class:`SystemRunner` to this machine, :class:`RootRunner` under a folder (files for
real, commands and owners written down), :func:`describe` only says it (``--dry-run``).
Standard library only, like :mod:`scada.install`.
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Protocol

IGNORED: Final = ("__pycache__", "*.pyc", "*.egg-info", ".mypy_cache", ".ruff_cache")
RECORD_DIR: Final = ".gwscada-install"


class InstallError(Exception):
    """The installation cannot go on; the message says why and what to do."""


# ---------------------------------------------------------------------- steps


@dataclass(frozen=True, slots=True)
class Run:
    argv: tuple[str, ...]
    why: str
    #: Failure is fine (``systemctl disable`` of a service that was never enabled).
    may_fail: bool = False


@dataclass(frozen=True, slots=True)
class MakeDir:
    path: Path
    mode: int
    owner: str = "root"
    group: str = "root"


@dataclass(frozen=True, slots=True)
class WriteFile:
    path: Path
    text: str
    mode: int
    owner: str = "root"
    group: str = "root"
    #: False: an existing file keeps its content; only its mode and owner are set.
    replace: bool = True


@dataclass(frozen=True, slots=True)
class CopyTree:
    src: Path
    dest: Path
    """Replaced as a whole (nothing stale survives a reinstall)."""


@dataclass(frozen=True, slots=True)
class Symlink:
    path: Path
    target: Path


@dataclass(frozen=True, slots=True)
class Remove:
    path: Path
    #: Only a symlink pointing into this folder is removed (never someone else's command).
    only_link_into: Path | None = None
    #: Only an empty folder is removed.
    only_if_empty: bool = False


Step = Run | MakeDir | WriteFile | CopyTree | Symlink | Remove


# --------------------------------------------------------------------- runners


class Runner(Protocol):
    def apply(self, step: Step) -> str:
        """Carry out ``step``; return one line saying what was done."""
        ...


def describe(step: Step) -> str:
    """One line per step, for ``--dry-run`` and the log of a run."""
    match step:
        case Run(argv, why):
            return f"run    {shlex.join(argv)}    # {why}"
        case MakeDir(path, mode, owner, group):
            return f"mkdir  {path} ({mode:04o} {owner}:{group})"
        case WriteFile(path, _, mode, owner, group, replace):
            return f"write  {path} ({mode:04o} {owner}:{group}){'' if replace else ' if absent'}"
        case CopyTree(src, dest):
            return f"copy   {src} -> {dest}"
        case Symlink(path, target):
            return f"link   {path} -> {target}"
        case Remove(path, into, empty):
            cond = " if it links there" if into else " if empty" if empty else ""
            return f"remove {path}{cond}"
    raise AssertionError(step)


class _FileRunner(ABC):
    """Carries out the file steps under ``root`` (``/`` for the real system)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def at(self, path: Path) -> Path:
        return self.root / path.relative_to("/")

    @abstractmethod
    def chown(self, path: Path, owner: str, group: str) -> None: ...

    @abstractmethod
    def run(self, step: Run) -> str: ...

    def apply(self, step: Step) -> str:
        if isinstance(step, Run):
            return self.run(step)
        if isinstance(step, MakeDir):
            target = self.at(step.path)
            target.mkdir(parents=True, exist_ok=True)
            target.chmod(step.mode)
            self.chown(step.path, step.owner, step.group)
            return describe(step)
        if isinstance(step, WriteFile):
            target = self.at(step.path)
            kept = target.exists() and not step.replace
            if not kept:
                target.parent.mkdir(parents=True, exist_ok=True)
                tmp = target.with_name(f".{target.name}.new")
                tmp.write_text(step.text, encoding="utf-8")
                tmp.chmod(step.mode)
                tmp.replace(target)
            target.chmod(step.mode)
            self.chown(step.path, step.owner, step.group)
            if kept:
                return f"keep   {step.path} (exists; set {step.mode:04o} {step.owner}:{step.group})"
            return describe(step)
        if isinstance(step, CopyTree):
            if not step.src.exists():
                raise InstallError(f"{step.src} does not exist: is --source a clone?")
            dest = self.at(step.dest)
            _remove(dest)
            dest.parent.mkdir(parents=True, exist_ok=True)
            if step.src.is_dir():
                shutil.copytree(step.src, dest, ignore=shutil.ignore_patterns(*IGNORED))
            else:
                shutil.copy2(step.src, dest)
            return describe(step)
        if isinstance(step, Symlink):
            link = self.at(step.path)
            if link.exists() and not link.is_symlink():
                return f"skip   {step.path}: a file that is not ours is there"
            link.parent.mkdir(parents=True, exist_ok=True)
            if link.is_symlink():
                link.unlink()
            link.symlink_to(step.target)
            return describe(step)
        return self._remove(step)

    def _remove(self, step: Remove) -> str:
        target = self.at(step.path)
        if not target.exists() and not target.is_symlink():
            return f"absent {step.path}"
        into = step.only_link_into
        if into is not None and not (
            target.is_symlink() and target.readlink().is_relative_to(into)
        ):
            return f"keep   {step.path} (not a link into {into})"
        if step.only_if_empty and target.is_dir() and any(target.iterdir()):
            return f"keep   {step.path} (not empty)"
        _remove(target)
        return describe(step)


def _remove(path: Path) -> None:
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.is_dir():
        shutil.rmtree(path)


class SystemRunner(_FileRunner):
    """Does it to this machine. ``execute`` runs a command (replaceable in tests)."""

    def __init__(
        self, execute: Callable[[Sequence[str]], subprocess.CompletedProcess[str]] | None = None
    ) -> None:
        super().__init__(Path("/"))
        self._execute = execute or _execute

    def chown(self, path: Path, owner: str, group: str) -> None:
        shutil.chown(path, owner, group)

    def run(self, step: Run) -> str:
        done = self._execute(step.argv)
        if done.returncode != 0 and not step.may_fail:
            detail = (done.stderr or done.stdout or "").strip().splitlines()
            raise InstallError(
                f"{shlex.join(step.argv)} failed (exit {done.returncode})"
                + (f": {detail[-1]}" if detail else "")
            )
        return describe(step) + ("" if done.returncode == 0 else f" (exit {done.returncode})")


def _execute(argv: Sequence[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(argv), capture_output=True, text=True, check=False)


class RootRunner(_FileRunner):
    """Does the file steps under ``root`` and writes down the rest in ``root/.gwscada-install``:
    ``<action>.sh`` (the commands, in order, each with why) and ``owners`` (``owner:group
    mode path`` for every path whose owner it could not set)."""

    def __init__(self, root: Path, action: str) -> None:
        super().__init__(root)
        record = root / RECORD_DIR
        record.mkdir(parents=True, exist_ok=True)
        self.commands = record / f"{action}.sh"
        self.owners = record / "owners"
        self.commands.write_text("#!/bin/sh\n# what `scada install-service` would run\nset -e\n")
        self._owners: dict[str, str] = {}
        if self.owners.exists():
            for line in self.owners.read_text().splitlines():
                self._owners[line.rsplit(" ", 1)[-1]] = line

    def chown(self, path: Path, owner: str, group: str) -> None:
        mode = self.at(path).stat().st_mode & 0o7777
        self._owners[str(path)] = f"{owner}:{group} {mode:04o} {path}"
        self.owners.write_text("".join(f"{v}\n" for _, v in sorted(self._owners.items())))

    def run(self, step: Run) -> str:
        with self.commands.open("a") as f:
            tail = " || true" if step.may_fail else ""
            f.write(f"# {step.why}\n{shlex.join(step.argv)}{tail}\n")
        return "record " + describe(step).removeprefix("run    ")


def perform(steps: Sequence[Step], runner: Runner, out: Callable[[str], None]) -> None:
    for step in steps:
        out(runner.apply(step))
