"""Finding and loading walkthrough files, every problem reported like a layout's.

Each problem names the file, the path in it (``steps[2].channel``), what is wrong and, when it
can, the nearest valid spelling. A walkthrough is checked twice: on its own (keys, types,
durations) and against the house it runs on (channels, relays, zones, times inside the run).
"""

from __future__ import annotations

import json
import os
import tomllib
from collections.abc import Iterable, Sequence
from datetime import UTC, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from scada.layout import Layout, MakeModel
from scada.layout.errors import LayoutProblem, json_path, nearest
from scada.layout.houses import input_data_dir
from scada.protocol import ProblemKind
from sim.walkthroughs.spec import (
    CHECK_KINDS,
    STEP_KINDS,
    AtnStep,
    ColdSnap,
    Comfort,
    Commands,
    Fidelity,
    Initial,
    InterlockSeen,
    PipeTemp,
    ProblemSeen,
    RelayAt,
    RelaySet,
    RelayThroughout,
    RoomTemp,
    SensorFail,
    SensorHeal,
    Statuses,
    Walkthrough,
    format_duration,
)

WALKTHROUGHS_ENV = "SCADA_WALKTHROUGHS_DIR"
SUFFIXES = (".toml", ".json")
MAX_BYTES = 1024 * 1024
FAULTY = {MakeModel.NCD_ADS1115: "thermistor", MakeModel.ADAFRUIT_642: "DS18B20"}
"""Devices whose channels fail one by one (``sensor.fail``), and what they are."""


class WalkthroughError(Exception):
    """A walkthrough could not be loaded; ``problems`` lists every problem found."""

    def __init__(self, problems: Iterable[LayoutProblem]) -> None:
        self.problems = tuple(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


class UnknownWalkthroughError(LookupError):
    """No walkthrough of that name; the message lists the ones there are."""

    def __init__(self, name: str, known: Sequence[str]) -> None:
        self.name = name
        self.known = tuple(known)
        self.suggestion = nearest(name, known)
        hint = f" (did you mean '{self.suggestion}'?)" if self.suggestion else ""
        listing = ", ".join(known) if known else "none"
        super().__init__(f"no walkthrough '{name}'{hint}; available: {listing}")


def walkthroughs_dir() -> Path:
    """``$SCADA_WALKTHROUGHS_DIR`` when set, else ``input_data/walkthroughs``."""
    configured = os.environ.get(WALKTHROUGHS_ENV, "").strip()
    if configured:
        return Path(configured).expanduser()
    return input_data_dir() / "walkthroughs"


def available(directory: Path | None = None) -> list[str]:
    """The names of the walkthroughs in ``directory`` (default :func:`walkthroughs_dir`)."""
    folder = walkthroughs_dir() if directory is None else directory
    if not folder.is_dir():
        return []
    return sorted({p.stem for p in folder.iterdir() if p.suffix in SUFFIXES and p.is_file()})


def find_walkthrough(name: str, directory: Path | None = None) -> Path:
    """The file of walkthrough ``name``: one of the walkthroughs in ``directory`` (default
    :func:`walkthroughs_dir`) by name, or, when ``name`` ends in ``.toml`` or ``.json`` or holds
    a ``/``, a file of one's own at that path (checked when loaded, like any other).

    Raises:
        UnknownWalkthroughError: listing the available names.
    """
    if "/" in name or name.endswith(SUFFIXES):
        return Path(name).expanduser()
    folder = walkthroughs_dir() if directory is None else directory
    for suffix in SUFFIXES:
        path = folder / f"{name}{suffix}"
        if path.is_file():
            return path
    raise UnknownWalkthroughError(name, available(folder))


def load_walkthrough(path: Path) -> Walkthrough:
    """Read and validate one walkthrough file (TOML, or JSON by its suffix).

    Raises:
        WalkthroughError: with every problem found.
    """
    shown = str(path)
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise WalkthroughError(
            [LayoutProblem(shown, "", f"cannot read the file: {e.strerror or e}")]
        ) from None
    if len(raw) > MAX_BYTES:
        raise WalkthroughError([LayoutProblem(shown, "", f"file is larger than {MAX_BYTES} bytes")])
    return parse_walkthrough(raw, shown, kind="json" if path.suffix == ".json" else "toml")


def parse_walkthrough(
    raw: bytes | str, name: str = "<walkthrough>", *, kind: str = "toml"
) -> Walkthrough:
    """Validate walkthrough text; ``name`` is the file name used in problems."""
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
    except UnicodeDecodeError as e:
        raise WalkthroughError(
            [LayoutProblem(name, "", f"not UTF-8 text (byte {e.start})")]
        ) from None
    doc = _decode(text, name, kind)
    if not isinstance(doc, dict):
        raise WalkthroughError([LayoutProblem(name, "", "the top level must be a table (object)")])
    try:
        return Walkthrough.model_validate(doc)
    except ValidationError as e:
        raise WalkthroughError(_problems(name, e)) from None


def _decode(text: str, name: str, kind: str) -> Any:
    if kind == "json":
        try:
            return json.loads(text)
        except json.JSONDecodeError as e:
            what = f"not valid JSON: {e.msg} at line {e.lineno} column {e.colno}"
            raise WalkthroughError([LayoutProblem(name, "", what)]) from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise WalkthroughError([LayoutProblem(name, "", f"not valid TOML: {e}")]) from None


# ------------------------------------------------------------------------ pydantic problems


def _problems(name: str, err: ValidationError) -> list[LayoutProblem]:
    details = err.errors(include_url=False)
    resolved = [(d, *_resolve(d["loc"])) for d in details]
    locs = [loc for _, loc, _ in resolved]
    found: list[tuple[str, tuple[int | str, ...], LayoutProblem]] = []
    for d, loc, model in resolved:
        if d["type"] == "too_short" and any(
            len(other) > len(loc) and other[: len(loc)] == loc for other in locs
        ):
            continue  # pydantic also counts the invalid items as missing; say it once
        found.append((d["type"], loc, _problem(name, d, loc, model)))
    # A misspelt key also leaves the right key missing: the suggestion already says so.
    explained = {(*loc[:-1], p.suggestion) for kind, loc, p in found if kind == "extra_forbidden"}
    return [p for kind, loc, p in found if not (kind == "missing" and loc in explained)]


def _resolve(loc: tuple[int | str, ...]) -> tuple[tuple[int | str, ...], type[BaseModel] | None]:
    """The file's own path for a pydantic ``loc`` (without the union tag pydantic adds after
    a step's or a check's index), and the model that holds its last key."""
    if len(loc) >= 3 and loc[0] in ("steps", "expect") and isinstance(loc[1], int):
        kinds: dict[str, Any] = STEP_KINDS if loc[0] == "steps" else CHECK_KINDS
        tag = loc[2]
        if isinstance(tag, str) and tag in kinds:
            return (*loc[:2], *loc[3:]), _holder_of(loc)
    return loc, _holder_of(loc)


def _holder_of(loc: tuple[int | str, ...]) -> type[BaseModel] | None:
    """The model whose field the last string part of ``loc`` is."""
    if len(loc) >= 3 and loc[0] in ("steps", "expect") and isinstance(loc[1], int):
        kinds: dict[str, Any] = STEP_KINDS if loc[0] == "steps" else CHECK_KINDS
        tag = loc[2]
        if isinstance(tag, str) and tag in kinds and len(loc) >= 4:
            found: type[BaseModel] = kinds[tag]
            return found
        return None
    if len(loc) == 2 and loc[0] == "fidelity":
        return Fidelity
    if len(loc) == 2 and loc[0] == "initial":
        return Initial
    if len(loc) == 1:
        return Walkthrough
    return None


def _problem(
    name: str, d: ErrorDetails, loc: tuple[int | str, ...], model: type[BaseModel] | None
) -> LayoutProblem:
    ctx: dict[str, Any] = dict(d.get("ctx") or {})
    kind = d["type"]
    if kind == "union_tag_not_found":
        field = str(ctx.get("discriminator", "kind")).strip("'")
        return LayoutProblem(name, json_path((*loc, field)), "required key is missing")
    if kind == "union_tag_invalid":
        field = str(ctx.get("discriminator", "kind")).strip("'")
        tags = list(STEP_KINDS if field == "do" else CHECK_KINDS)
        return _unknown_value(name, json_path((*loc, field)), str(ctx.get("tag", "")), tags)
    if kind in {"enum", "literal_error"}:
        expected = [
            e.strip().strip("'")
            for e in str(ctx.get("expected", "")).replace(" or ", ", ").split(",")
        ]
        return _unknown_value(name, json_path(loc), _show(d["input"]), [e for e in expected if e])
    if kind == "extra_forbidden":
        fields = list(model.model_fields) if model is not None else []
        return LayoutProblem(
            name, json_path(loc), f"unknown key '{loc[-1]}'", nearest(str(loc[-1]), fields)
        )
    if kind == "missing":
        return LayoutProblem(name, json_path(loc), "required key is missing")
    msg = d["msg"].removeprefix("Value error, ").replace("Input should be", "must be")
    bounds = {"greater_than", "greater_than_equal", "less_than", "less_than_equal"}
    if kind in bounds and isinstance(d["input"], int | float):
        msg += f", not {d['input']:g}"
    return LayoutProblem(name, json_path(loc), msg)


def _unknown_value(name: str, path: str, value: str, expected: list[str]) -> LayoutProblem:
    suggestion = nearest(value, expected)
    if suggestion is not None:
        return LayoutProblem(name, path, f"unknown value '{value}'", suggestion)
    allowed = ", ".join(f"'{e}'" for e in expected)
    return LayoutProblem(name, path, f"unknown value '{value}'; expected one of {allowed}")


def _show(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, default=str)


# -------------------------------------------------------------------- against the house


def check_against(wt: Walkthrough, layout: Layout, name: str) -> list[LayoutProblem]:
    """What in ``wt`` does not fit ``layout`` (the house it runs on) or its own duration."""
    out: list[LayoutProblem] = []
    end = wt.duration
    channels = {c.name: c for c in layout.channels}
    devices = {d.name: d for d in layout.devices}
    nodes = [a.node for a in layout.actuators]
    zones = [z.name for z in layout.control.zones]
    alias = layout.house.alias

    def within(path: str, what: str, t: timedelta | None) -> None:
        if t is not None and t > end:
            out.append(
                LayoutProblem(
                    name,
                    path,
                    f"{what} {format_duration(t)} is after the end of the walkthrough "
                    f"({format_duration(end)})",
                )
            )

    start = _start_problem(wt, layout, name)
    if start is not None:
        out.append(start)
    for i, step in enumerate(wt.steps):
        at = f"steps[{i}]"
        within(f"{at}.at", "at", step.at)
        if isinstance(step, ColdSnap) and step.lasting is not None:
            within(f"{at}.lasting", "at + lasting", step.at + step.lasting)
        if isinstance(step, SensorFail | SensorHeal):
            ch = channels.get(step.channel)
            if ch is None:
                out.append(
                    _unknown(
                        name, f"{at}.channel", "channel", step.channel, alias=alias, known=channels
                    )
                )
            elif devices[ch.device].make_model not in FAULTY:
                dev = devices[ch.device]
                out.append(
                    LayoutProblem(
                        name,
                        f"{at}.channel",
                        f"{step.channel} is on {dev.name} ({dev.make_model.value}); only "
                        "thermistor (ncd__ads1115) and DS18B20 (adafruit__642) channels "
                        "fail one by one",
                    )
                )
        if isinstance(step, RelaySet) and step.node not in nodes:
            out.append(_unknown(name, f"{at}.node", "relay", step.node, alias=alias, known=nodes))
        if isinstance(step, AtnStep) and not wt.atn:
            out.append(
                LayoutProblem(
                    name, f"{at}.do", f"{step.do} needs the simulated ATN, but atn = false"
                )
            )
    for i, check in enumerate(wt.expect):
        at = f"expect[{i}]"
        for key in ("at", "after", "before"):
            value = getattr(check, key, None)
            if isinstance(value, timedelta):
                within(f"{at}.{key}", key, value)
        after, before = getattr(check, "after", None), getattr(check, "before", None)
        if isinstance(after, timedelta) and isinstance(before, timedelta) and before <= after:
            out.append(LayoutProblem(name, f"{at}.before", "before must come after after"))
        if isinstance(check, ProblemSeen):
            out.extend(_subject_problems(check, f"{at}.subject", layout, name))
        if isinstance(check, Statuses):
            out.extend(_status_window_problems(check, f"{at}.check", end, layout, name))
        if isinstance(check, RelayAt | RelayThroughout | InterlockSeen) and check.node not in nodes:
            out.append(_unknown(name, f"{at}.node", "relay", check.node, alias=alias, known=nodes))
        if isinstance(check, PipeTemp) and not layout.control.freeze_channels:
            out.append(
                LayoutProblem(
                    name, f"{at}.check", f"{alias} watches no pipes (control.freeze_channels)"
                )
            )
        zone = check.zone if isinstance(check, Comfort | RoomTemp) else None
        if zone is not None and zone not in zones:
            out.append(_unknown(name, f"{at}.zone", "zone", zone, alias=alias, known=zones))
        needs_atn = (isinstance(check, Statuses) and check.seen_by == "atn") or (
            isinstance(check, Commands) and check.source == "atn"
        )
        if needs_atn and not wt.atn:
            out.append(
                LayoutProblem(
                    name, f"{at}.check", "this check needs the simulated ATN, but atn = false"
                )
            )
    return out


def _start_problem(wt: Walkthrough, layout: Layout, name: str) -> LayoutProblem | None:
    """A local start the house's clock skips (spring forward) or shows twice (fall back)."""
    if wt.start.tzinfo is not None:
        return None
    tz = ZoneInfo(layout.house.time_zone)
    first, second = wt.start.replace(tzinfo=tz, fold=0), wt.start.replace(tzinfo=tz, fold=1)
    if first.utcoffset() == second.utcoffset():
        return None
    shown = f"{wt.start:%Y-%m-%d %H:%M}"
    if first.astimezone(UTC).astimezone(tz).replace(tzinfo=None) != wt.start:
        what = f"{shown} does not happen in {tz.key}: the clocks go forward over it"
    else:
        what = (
            f"{shown} happens twice in {tz.key} (the clocks go back over it): give the start "
            "with its UTC offset"
        )
    return LayoutProblem(name, "start", what)


#: The names a problem of each kind is about, by what they are.
_SUBJECTS = {
    ProblemKind.SENSOR_STALE: "channel",
    ProblemKind.SENSOR_OUT_OF_RANGE: "channel",
    ProblemKind.SENSOR_RECOVERED: "channel",
    ProblemKind.DEVICE_FAILING: "device",
    ProblemKind.DEVICE_RECOVERED: "device",
    ProblemKind.INTERLOCK_OVERRIDE: "relay",
}


def _subject_problems(
    check: ProblemSeen, path: str, layout: Layout, name: str
) -> list[LayoutProblem]:
    """A subject the house has no such thing of: the check could never see it reported."""
    what = _SUBJECTS.get(check.kind)
    if what is None or check.subject is None:
        return []
    known = {
        "channel": [c.name for c in layout.channels],
        "device": [d.name for d in layout.devices],
        "relay": [a.node for a in layout.actuators],
    }[what]
    if check.subject in known:
        return []
    return [_unknown(name, path, what, check.subject, alias=layout.house.alias, known=known)]


def _status_window_problems(
    check: Statuses, path: str, end: timedelta, layout: Layout, name: str
) -> list[LayoutProblem]:
    """A window too short to hold a status period: the check could never count one."""
    length = (check.before or end) - check.after
    period_s = layout.control.status_period_s
    if length.total_seconds() >= period_s:
        return []
    what = (
        f"the window ({format_duration(length)}) is shorter than one status period "
        f"({period_s:g} s): no status can be counted"
    )
    return [LayoutProblem(name, path, what)]


def _unknown(
    name: str, path: str, what: str, value: str, *, alias: str, known: Iterable[str]
) -> LayoutProblem:
    return LayoutProblem(name, path, f"no {what} '{value}' in {alias}", nearest(value, known))
