"""The house a walkthrough runs on, and the scratch folder its emulated buses write to.

The walkthrough's ``[fidelity]`` is applied to the house file itself, before it is parsed: the
floor on the sensors' sample periods and the cap on flow-meter pulses per gallon then hold for the
drivers, the emulators and the runtime alike, so none of them sees a finer house than the others.
The ``[initial]`` temperatures go into the file's ``simulation`` section for the same reason.
Whatever goes wrong is raised as a :class:`~sim.walkthroughs.load.WalkthroughError` that names the
walkthrough's file (its ``[initial]`` or ``[fidelity]`` may be the cause) and then the house file
and the place in it, or the weather or price profile and its line: the physics and both profiles
are loaded here, so a run never starts on a house it cannot simulate.
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
from sim.house.errors import HouseModelError, ProfileError
from sim.house.model import HouseModel
from sim.house.profiles import load_prices
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
        WalkthroughError: no such house, its file does not load, or it cannot be simulated
            (its simulation settings, weather or price profile).
    """
    where = "--house" if override is not None else "house"
    path: Path | None = None
    try:
        path = find_house(alias)
        doc = json.loads(path.read_bytes())
        Coarser(fidelity.sensor_period_floor_s, fidelity.pulses_per_gallon_max).apply(doc)
        if initial is not None:
            _initial(doc, initial)
        layout = parse_layout(json.dumps(doc), str(path))
        HouseModel.from_layout(layout, file=str(path))
        if layout.simulation is not None:
            load_prices(layout.simulation.price_profile, tz=layout.house.time_zone)
    except LayoutError as e:
        raise WalkthroughError(
            [
                LayoutProblem(file, where, p.what if path is None else _in_house(p), p.suggestion)
                for p in e.problems
            ]
        ) from None
    except (HouseModelError, ProfileError) as e:
        raise WalkthroughError(
            [LayoutProblem(file, where, line) for line in str(e).splitlines()]
        ) from None
    except (OSError, ValueError) as e:
        raise WalkthroughError(
            [LayoutProblem(file, where, f"cannot read house '{alias}': {e}")]
        ) from None
    return layout


def _in_house(problem: LayoutProblem) -> str:
    """What is wrong, and where in the house file: ``dw1.json: simulation.tank_volume_l: ...``."""
    place = f"{problem.path}: " if problem.path else ""
    return f"{Path(problem.file).name}: {place}{problem.what}"


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
