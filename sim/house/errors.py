"""Typed errors of the house simulator: a bad profile or an unmappable layout, never a traceback."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ProfileProblem:
    """One thing wrong with a profile file.

    ``line`` and ``column`` are 1-based (a CSV field number, ``column_name`` its header);
    0 when the problem is about the whole file or the whole line.
    """

    file: str
    line: int
    column: int
    what: str
    column_name: str | None = None

    def __str__(self) -> str:
        where = self.file
        if self.line:
            where += f": line {self.line}"
        if self.column:
            named = f" ({self.column_name})" if self.column_name else ""
            where += f", column {self.column}{named}"
        return f"{where}: {self.what}"


class ProfileError(ValueError):
    """A profile could not be loaded; ``problems`` lists what was found, in file order."""

    def __init__(self, problems: Iterable[ProfileProblem]) -> None:
        self.problems = tuple(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


class HouseModelError(ValueError):
    """A layout that loads but cannot be turned into physics (``path`` is its JSON path)."""

    def __init__(self, file: str, path: str, what: str) -> None:
        self.file = file
        self.path = path
        self.what = what
        super().__init__(f"{file}: {path}: {what}" if path else f"{file}: {what}")
