"""The houses folder: one layout file per house, named ``<house alias>.json``.

The folder is ``$SCADA_HOUSES_DIR`` when that is set, else ``input_data/houses`` of the
repository this package lives in. Listing never fails on a bad file: the entry carries its
problems instead, so a house picker can show it greyed out with the reason.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

from scada.layout.errors import LayoutError, LayoutProblem, nearest
from scada.layout.load import load_layout
from scada.layout.model import Hardware

HOUSES_DIR_ENV = "SCADA_HOUSES_DIR"


def input_data_dir() -> Path:
    """``input_data/`` of the repository that holds this package; for an installed copy
    (``scada install-service``: no repository around it) ``share/gwscada/input_data`` of its
    virtual environment, where the installer puts it."""
    repo = Path(__file__).resolve().parents[2] / "input_data"
    if repo.is_dir():
        return repo
    installed = Path(sys.prefix) / "share" / "gwscada" / "input_data"
    return installed if installed.is_dir() else repo


def houses_dir() -> Path:
    """Where the house layouts live: ``$SCADA_HOUSES_DIR`` or ``input_data/houses``."""
    configured = os.environ.get(HOUSES_DIR_ENV, "").strip()
    if configured:
        return Path(configured).expanduser()
    return input_data_dir() / "houses"


@dataclass(frozen=True, slots=True)
class HouseEntry:
    """One file of the houses folder; ``problems`` is empty when it loads.

    For an invalid file ``alias`` is the file name without ``.json``, ``display_name`` is
    empty, ``hardware`` is None and the counts are 0.
    """

    alias: str
    display_name: str
    hardware: Hardware | None
    path: Path
    channels: int = 0
    actuators: int = 0
    problems: tuple[LayoutProblem, ...] = ()

    @property
    def valid(self) -> bool:
        return not self.problems

    @property
    def simulated(self) -> bool:
        """True only for a house known to be simulated; an unreadable file counts as real."""
        return self.hardware is Hardware.SIMULATED


def list_houses(directory: Path | None = None) -> list[HouseEntry]:
    """Every ``*.json`` in the houses folder, sorted by alias, each loaded and checked."""
    folder = houses_dir() if directory is None else directory
    if not folder.is_dir():
        return []
    return [_entry(p) for p in sorted(folder.glob("*.json"), key=lambda p: p.name)]


def _entry(path: Path) -> HouseEntry:
    alias = path.name.removesuffix(".json")
    try:
        layout = load_layout(path)
    except LayoutError as e:
        return HouseEntry(alias, "", None, path, problems=e.problems)
    problems: tuple[LayoutProblem, ...] = ()
    if layout.house.alias != alias:
        problems = (
            LayoutProblem(
                str(path),
                "house.alias",
                f"the house alias '{layout.house.alias}' differs from the file name; "
                f"a house file is named <alias>.json",
                alias,
            ),
        )
    return HouseEntry(
        alias=alias,
        display_name=layout.house.display_name,
        hardware=layout.house.hardware,
        path=path,
        channels=len(layout.channels),
        actuators=len(layout.actuators),
        problems=problems,
    )


def find_house(alias: str, directory: Path | None = None) -> Path:
    """The layout file of the house ``alias`` (or of the one house whose alias starts with it).

    Raises:
        LayoutError: when there is no such house, suggesting the nearest alias.
    """
    folder = houses_dir() if directory is None else directory
    known = sorted(p.name.removesuffix(".json") for p in folder.glob("*.json"))
    if alias in known:
        return folder / f"{alias}.json"
    starting = [k for k in known if k.startswith(alias)]
    if len(starting) == 1:
        return folder / f"{starting[0]}.json"
    if len(starting) > 1:
        what = f"'{alias}' could be any of {', '.join(starting)}"
        raise LayoutError([LayoutProblem(str(folder), "", what)])
    if not known:
        what = f"no house '{alias}': there are no house files (*.json) here"
        raise LayoutError([LayoutProblem(str(folder), "", what)])
    raise LayoutError(
        [LayoutProblem(str(folder), "", f"no house '{alias}'", _nearest_alias(alias, known))]
    )


def _nearest_alias(alias: str, known: list[str]) -> str | None:
    """The closest whole alias, else the one whose first words are closest (``dw2`` → ``dw1.…``)."""
    whole = nearest(alias, known)
    if whole is not None:
        return whole
    words = alias.count(".") + 1
    heads = {".".join(k.split(".")[:words]): k for k in reversed(known)}
    head = nearest(alias, heads)
    return None if head is None else heads[head]
