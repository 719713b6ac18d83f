"""Layout problems: each names the file, the JSON path, what is wrong and, when it can, a fix."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class LayoutProblem:
    """One thing wrong with a layout file.

    ``path`` is a JSON path such as ``channels[3].plausible_range`` ("" for the whole file).
    """

    file: str
    path: str
    what: str
    suggestion: str | None = None

    def __str__(self) -> str:
        where = f"{self.file}: {self.path}" if self.path else self.file
        hint = f" (did you mean '{self.suggestion}'?)" if self.suggestion else ""
        return f"{where}: {self.what}{hint}"


class LayoutError(Exception):
    """A layout could not be loaded; ``problems`` lists every problem found, in file order."""

    def __init__(self, problems: Iterable[LayoutProblem]) -> None:
        self.problems = tuple(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


def nearest(word: str, choices: Iterable[str]) -> str | None:
    """The closest valid spelling of ``word``, or None when nothing is close."""
    matches = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return matches[0] if matches else None


def json_path(loc: Iterable[int | str]) -> str:
    """Render a pydantic ``loc`` as a JSON path.

    ``("channels", 3, "unit")`` → ``channels[3].unit``.
    """
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else part
    return out
