"""Loading a layout file: JSON → :class:`Layout`, every problem reported, never a traceback."""

from __future__ import annotations

import json
import re
import types
import typing
from enum import Enum
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from scada.layout.checks import cross_check
from scada.layout.errors import LayoutError, LayoutProblem, json_path, nearest
from scada.layout.model import Layout

MAX_LAYOUT_BYTES = 4 * 1024 * 1024


def load_layout(path: str | Path) -> Layout:
    """Read, parse, validate and cross-check one layout file.

    Raises:
        LayoutError: with one :class:`LayoutProblem` per problem found.
    """
    p = Path(path)
    name = str(path)
    try:
        raw = p.read_bytes()
    except OSError as e:
        raise LayoutError(
            [LayoutProblem(name, "", f"cannot read the file: {e.strerror or e}")]
        ) from None
    if len(raw) > MAX_LAYOUT_BYTES:
        raise LayoutError(
            [LayoutProblem(name, "", f"file is larger than {MAX_LAYOUT_BYTES} bytes")]
        )
    return parse_layout(raw, name)


def parse_layout(raw: bytes | str, name: str = "<layout>") -> Layout:
    """Validate layout JSON text; ``name`` is used in problems as the file name."""
    doc = _decode(raw, name)
    if not isinstance(doc, dict):
        raise LayoutError([LayoutProblem(name, "", "the top level must be a JSON object")])
    try:
        duplicates = _duplicate_keys(doc, name)
    except RecursionError:
        raise LayoutError([LayoutProblem(name, "", "JSON nested too deeply")]) from None
    if duplicates:
        raise LayoutError(duplicates)
    try:
        layout = Layout.model_validate(doc)
    except ValidationError as e:
        raise LayoutError(_problems(name, e)) from None
    problems = cross_check(layout, name)
    if problems:
        raise LayoutError(problems)
    return layout


class _DupDict(dict[str, Any]):
    """A JSON object that remembers the keys it was given more than once."""

    duplicates: tuple[str, ...] = ()


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out = _DupDict()
    dups: list[str] = []
    for k, v in pairs:
        if k in out and k not in dups:
            dups.append(k)
        out[k] = v
    out.duplicates = tuple(dups)
    return out


def _no_constant(token: str) -> float:
    raise ValueError(f"{token} is not allowed in a layout (numbers must be finite)")


def _decode(raw: bytes | str, name: str) -> Any:
    try:
        return json.loads(raw, object_pairs_hook=_pairs, parse_constant=_no_constant)
    except UnicodeDecodeError as e:
        raise LayoutError([LayoutProblem(name, "", f"not UTF-8 text (byte {e.start})")]) from None
    except json.JSONDecodeError as e:
        raise LayoutError(
            [
                LayoutProblem(
                    name, "", f"not valid JSON: {e.msg} at line {e.lineno} column {e.colno}"
                )
            ]
        ) from None
    except RecursionError:
        raise LayoutError([LayoutProblem(name, "", "JSON nested too deeply")]) from None
    except ValueError as e:  # NaN / Infinity
        raise LayoutError([LayoutProblem(name, "", str(e))]) from None


def _duplicate_keys(doc: Any, name: str, loc: tuple[int | str, ...] = ()) -> list[LayoutProblem]:
    """JSON keeps the last of two equal keys silently; a layout must not."""
    out: list[LayoutProblem] = []
    if isinstance(doc, dict):
        out.extend(
            LayoutProblem(name, json_path((*loc, k)), f"key '{k}' is given twice")
            for k in getattr(doc, "duplicates", ())
        )
        for k, v in doc.items():
            out.extend(_duplicate_keys(v, name, (*loc, k)))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            out.extend(_duplicate_keys(v, name, (*loc, i)))
    return out


def _problems(name: str, err: ValidationError) -> list[LayoutProblem]:
    details = err.errors(include_url=False)
    resolved = [(d, _resolve(d["loc"])[0]) for d in details]
    locs = [loc for _, loc in resolved]
    found: list[tuple[str, tuple[int | str, ...], LayoutProblem]] = []
    for d, loc in resolved:
        if d["type"] == "too_short" and any(
            len(other) > len(loc) and other[: len(loc)] == loc for other in locs
        ):
            continue  # pydantic also counts the invalid items as missing; say it once
        found.append((d["type"], loc, _problem(name, d, loc)))
    # A misspelt key also leaves the right key missing: the suggestion already says so.
    explained = {(*loc[:-1], p.suggestion) for kind, loc, p in found if kind == "extra_forbidden"}
    return [p for kind, loc, p in found if not (kind == "missing" and loc in explained)]


def _problem(name: str, d: ErrorDetails, loc: tuple[int | str, ...]) -> LayoutProblem:
    ctx: dict[str, Any] = dict(d.get("ctx") or {})
    if d["type"] == "union_tag_not_found":
        field = str(ctx.get("discriminator", "kind")).strip("'")
        return LayoutProblem(name, json_path((*loc, field)), "required key is missing")
    if d["type"] == "union_tag_invalid":
        field = str(ctx.get("discriminator", "kind")).strip("'")
        tags = _QUOTED.findall(str(ctx.get("expected_tags", "")))
        return _unknown_value(name, json_path((*loc, field)), str(ctx.get("tag", "")), tags)
    if d["type"] in {"enum", "literal_error"}:
        expected = _QUOTED.findall(str(ctx.get("expected", "")))
        return _unknown_value(name, json_path(loc), _show(d["input"]), expected)
    suggestion = None
    if d["type"] == "extra_forbidden":
        fields = _fields_of(_resolve(d["loc"][:-1])[1])
        suggestion = nearest(str(loc[-1]), fields) if fields else None
    return LayoutProblem(name, json_path(loc), _what(d, loc), suggestion)


def _unknown_value(name: str, path: str, value: str, expected: list[str]) -> LayoutProblem:
    suggestion = nearest(value, expected)
    if suggestion is not None:
        return LayoutProblem(name, path, f"unknown value '{value}'", suggestion)
    allowed = ", ".join(f"'{e}'" for e in expected)
    return LayoutProblem(name, path, f"unknown value '{value}'; expected one of {allowed}")


def _show(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


_QUOTED = re.compile(r"'([^']*)'")
_BOUNDS = {"greater_than", "greater_than_equal", "less_than", "less_than_equal"}


def _what(d: ErrorDetails, loc: tuple[int | str, ...]) -> str:
    kind = d["type"]
    ctx: dict[str, Any] = dict(d.get("ctx") or {})
    if kind == "extra_forbidden":
        return f"unknown key '{loc[-1]}'"
    if kind == "missing":
        at_index = bool(loc) and isinstance(loc[-1], int)
        return "required item is missing" if at_index else "required key is missing"
    if kind in {"too_short", "too_long"}:
        least = "at least" if kind == "too_short" else "at most"
        bound = ctx.get("min_length" if kind == "too_short" else "max_length")
        items = "item" if bound == 1 else "items"
        return f"needs {least} {bound} {items}, not {ctx.get('actual_length')}"
    if kind in {"tuple_type", "list_type"}:
        return "must be a JSON array"
    if kind in {"model_type", "dict_type", "model_attributes_type"}:
        return "must be a JSON object"
    msg = d["msg"].removeprefix("Value error, ")
    msg = msg.replace("Input should be", "must be")
    if kind in _BOUNDS and isinstance(d["input"], int | float):
        msg += f", not {d['input']:g}"
    return msg


def _resolve(loc: tuple[int | str, ...]) -> tuple[tuple[int | str, ...], Any]:
    """The user's JSON path for a pydantic ``loc``, and the type found at its end.

    At a union, pydantic adds the member it tried to the loc: the tag of a discriminated union
    (``bus.i2c.address``), or a type or validator name. A user's file has none of these, so
    they are dropped here; anywhere else every part is the user's own key or index.
    """
    current: Any = Layout
    out: list[int | str] = []
    for part in loc:
        members = _members(current) if current is not None else []
        if len(members) > 1 and isinstance(part, str):
            tagged = _tagged_member(current, part)
            named = next((m for m in members if getattr(m, "__name__", None) == part), None)
            if tagged is not None or named is not None:
                current = tagged or named
                continue
            if "[" in part or part.startswith("function-"):
                current = None  # some member of the union; its fields are unknown
                continue
        out.append(part)
        current = _unwrap(current, part) if current is not None else None
    return tuple(out), current


def _members(tp: Any) -> list[Any]:
    """The alternatives of a (possibly Annotated or Optional) type, without None."""
    origin = typing.get_origin(tp)
    if origin is typing.Annotated:
        return _members(typing.get_args(tp)[0])
    if origin in (typing.Union, types.UnionType):
        return [a for a in typing.get_args(tp) if a is not type(None)]
    return [tp]


def _tagged_member(tp: Any, part: int | str) -> type[BaseModel] | None:
    """The model of a tagged union whose tag is ``part`` (None when ``tp`` is no such union)."""
    members = _members(tp)
    if len(members) < 2 or not isinstance(part, str):
        return None
    for m in members:
        if isinstance(m, type) and issubclass(m, BaseModel):
            for f in m.model_fields.values():
                if typing.get_origin(f.annotation) is typing.Literal and part in typing.get_args(
                    f.annotation
                ):
                    return m
    return None


def _fields_of(tp: Any) -> list[str]:
    for m in _members(tp):
        if isinstance(m, type) and issubclass(m, BaseModel):
            return list(m.model_fields)
    return []


def _unwrap(tp: Any, part: int | str) -> Any:
    """The type found one step (``part``) inside ``tp``, or None when lost."""
    for m in _members(tp):
        origin = typing.get_origin(m)
        if isinstance(part, int):
            if origin in (tuple, list):
                args = typing.get_args(m)
                if len(args) == 2 and args[1] is Ellipsis:
                    return args[0]
                return args[part] if part < len(args) else None
            continue
        if isinstance(m, type) and issubclass(m, BaseModel):
            field = m.model_fields.get(part)
            if field is not None:
                return field.annotation
        if isinstance(m, type) and issubclass(m, Enum):
            continue
    return None
