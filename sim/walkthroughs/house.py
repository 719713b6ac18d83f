"""The house a walkthrough runs on, and the scratch folder its emulated buses write to.

The walkthrough's ``[fidelity]`` is applied to the house file itself, before it is parsed: the
floor on the sensors' sample periods and the cap on flow-meter pulses per gallon then hold for the
drivers, the emulators and the runtime alike, so none of them sees a finer house than the others.
The ``[initial]`` temperatures go into the file's ``simulation`` section for the same reason.
Whatever goes wrong is raised as a :class:`~sim.walkthroughs.load.WalkthroughError` that names the
walkthrough's file, as that is where its author has to look.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from scada.layout import Layout, LayoutError
from scada.layout.errors import LayoutProblem
from scada.layout.houses import find_house
from scada.layout.load import parse_layout
from sim.fidelity import Coarser
from sim.walkthroughs.load import WalkthroughError
from sim.walkthroughs.spec import Fidelity, Initial


def house_layout(
    alias: str,
    fidelity: Fidelity,
    *,
    file: str,
    override: str | None,
    initial: Initial | None = None,
) -> Layout:
    """The layout of house ``alias`` at the walkthrough's fidelity, starting from ``initial``.

    Raises:
        WalkthroughError: no such house, or its file does not load.
    """
    try:
        path = find_house(alias)
        doc = json.loads(path.read_bytes())
        Coarser(fidelity.sensor_period_floor_s, fidelity.pulses_per_gallon_max).apply(doc)
        if initial is not None:
            _initial(doc, initial)
        return parse_layout(json.dumps(doc), str(path))
    except LayoutError as e:
        where = "--house" if override is not None else "house"
        raise WalkthroughError(
            [LayoutProblem(file, where, p.what, p.suggestion) for p in e.problems]
        ) from None
    except (OSError, ValueError) as e:
        raise WalkthroughError(
            [LayoutProblem(file, "house", f"cannot read house '{alias}': {e}")]
        ) from None


def _initial(doc: dict[str, object], initial: Initial) -> None:
    sim = doc.setdefault("simulation", {})
    if not isinstance(sim, dict):
        return  # parse_layout reports the malformed section
    if initial.space_c is not None:
        sim["initial_space_c"] = initial.space_c
    if initial.tank_c is not None:
        sim["initial_tank_c"] = initial.tank_c


def scratch_dir() -> Path:
    """A fresh folder for the emulated 1-Wire tree: in memory (``/dev/shm``) when there is one,
    as a simulated month rewrites probe files tens of thousands of times."""
    shm = Path("/dev/shm")  # noqa: S108 - a private mkdtemp inside it
    base = shm if shm.is_dir() and _writable(shm) else None
    return Path(tempfile.mkdtemp(prefix="gwwalk-", dir=base))


def _writable(folder: Path) -> bool:
    try:
        with tempfile.TemporaryFile(dir=folder):
            return True
    except OSError:
        return False
