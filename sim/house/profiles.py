"""Time profiles of the simulated world: outdoor temperature and electricity price.

A profile is a CSV file in ``input_data/profiles/``::

    # comment lines start with '#'; blank lines are skipped
    local_time,outdoor_c
    2024-01-08T00:00,-9.4
    2024-01-08T01:00,-9.9

The first column is the house's local wall-clock time (ISO 8601, no offset), strictly
increasing; the second is the value, named by the kind of profile (``outdoor_c`` in °C,
``lmp_usd_per_mwh`` in $/MWh). A profile repeats: it covers its first row up to its last row
plus one more interval, and any instant maps into it by local wall time modulo that span, so a
profile of whole weeks starting on a Monday keeps weekdays and hours of the day aligned for any
date the simulator runs on. Temperatures are interpolated linearly (wrapping from the last row
back to the first); prices are held over their interval, as real-time prices are settled.

A bad file raises :class:`ProfileError` naming the file, the line, the column and what is
wrong — never a traceback.
"""

from __future__ import annotations

import bisect
import math
import os
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo

from scada.layout.errors import nearest
from scada.layout.houses import input_data_dir
from sim.house.errors import ProfileError, ProfileProblem

PROFILES_DIR_ENV = "SCADA_PROFILES_DIR"
MAX_PROFILE_BYTES = 16 * 1024 * 1024
MAX_PROBLEMS = 20
TIME_COLUMN = "local_time"


class Interpolation(StrEnum):
    LINEAR = "linear"
    STEP = "step"


@dataclass(frozen=True, slots=True)
class ProfileKind:
    """What a profile holds: its value column, the plausible range and how to interpolate."""

    column: str
    unit: str
    low: float
    high: float
    interpolation: Interpolation


WEATHER = ProfileKind("outdoor_c", "°C", -60.0, 50.0, Interpolation.LINEAR)
PRICES = ProfileKind("lmp_usd_per_mwh", "$/MWh", -1_000.0, 10_000.0, Interpolation.STEP)


def profiles_dir() -> Path:
    """``$SCADA_PROFILES_DIR`` when set, else ``input_data/profiles`` of this repository."""
    configured = os.environ.get(PROFILES_DIR_ENV, "").strip()
    if configured:
        return Path(configured).expanduser()
    return input_data_dir() / "profiles"


@dataclass(frozen=True, slots=True)
class Profile:
    """A loaded profile; :meth:`at` gives its value at any aware instant."""

    file: str
    kind: ProfileKind
    start: datetime  # local wall time of the first row (naive)
    offsets_s: tuple[float, ...]  # of each row from ``start``
    values: tuple[float, ...]
    period_s: float  # the span the profile repeats over
    tz: tzinfo
    # The segment last read, as (from, to) POSIX seconds, value at ``from`` and slope per second:
    # a simulator reads the same hour thousands of times.
    _last: list[float] = field(default_factory=list, compare=False, repr=False)

    def at(self, t: datetime) -> float:
        """The value at ``t`` (an aware datetime; naive ones are taken as local wall time)."""
        if t.tzinfo is None:
            return self._at_local(t)[0]
        ts = t.timestamp()
        last = self._last
        if last and last[0] <= ts < last[1]:
            return last[2] + last[3] * (ts - last[0])
        local = t.astimezone(self.tz).replace(tzinfo=None)
        value, into, length, v0, slope = self._at_local(local)
        start_ts = ts - into
        end_ts = (local + _seconds(length - into)).replace(tzinfo=self.tz).timestamp()
        if abs(end_ts - start_ts - length) < 1e-6:
            self._last[:] = (start_ts, end_ts, v0, slope)
        else:  # a clock change cuts the segment: its wall-clock length is not its real one
            self._last.clear()
        return value

    def _at_local(self, local: datetime) -> tuple[float, float, float, float, float]:
        """Value, seconds into its segment, segment length, value at its start, slope."""
        pos = (local - self.start).total_seconds() % self.period_s
        offsets = self.offsets_s
        i = bisect.bisect_right(offsets, pos) - 1
        t0, v0 = offsets[i], self.values[i]
        t1 = offsets[i + 1] if i + 1 < len(offsets) else self.period_s
        if self.kind.interpolation is Interpolation.STEP:
            return v0, pos - t0, t1 - t0, v0, 0.0
        v1 = self.values[i + 1] if i + 1 < len(offsets) else self.values[0]
        slope = (v1 - v0) / (t1 - t0)
        return v0 + slope * (pos - t0), pos - t0, t1 - t0, v0, slope

    def with_zone(self, tz: tzinfo | str) -> Profile:
        """The same profile read in another time zone."""
        zone = ZoneInfo(tz) if isinstance(tz, str) else tz
        return Profile(
            self.file, self.kind, self.start, self.offsets_s, self.values, self.period_s, zone
        )

    def lowest(self) -> tuple[datetime, float]:
        """The local wall time (naive) and value of the lowest row, e.g. the cold snap's depth."""
        i = min(range(len(self.values)), key=self.values.__getitem__)
        return self.start + _seconds(self.offsets_s[i]), self.values[i]

    @property
    def end(self) -> datetime:
        """Local wall time where the profile starts over."""
        return self.start + _seconds(self.period_s)


def load_profile(
    name: str | Path,
    kind: ProfileKind,
    *,
    directory: Path | None = None,
    tz: tzinfo | str = "America/New_York",
) -> Profile:
    """Load a profile: a path relative to ``directory`` (default :func:`profiles_dir`) or absolute.

    Raises:
        ProfileError: naming the file, line and column of each problem found.
    """
    path = Path(name)
    if not path.is_absolute():
        path = (directory if directory is not None else profiles_dir()) / path
    shown = str(path)
    try:
        stat = path.stat()
    except OSError as e:
        raise ProfileError(
            [ProfileProblem(shown, 0, 0, f"cannot read the file: {e.strerror or e}")]
        ) from None
    start, offsets, values, period = _parsed(shown, stat.st_mtime_ns, stat.st_size, kind)
    zone = ZoneInfo(tz) if isinstance(tz, str) else tz
    return Profile(shown, kind, start, offsets, values, period, zone)


def load_weather(
    name: str | Path, *, directory: Path | None = None, tz: tzinfo | str = "America/New_York"
) -> Profile:
    """An outdoor temperature profile (``local_time,outdoor_c``)."""
    return load_profile(name, WEATHER, directory=directory, tz=tz)


def load_prices(
    name: str | Path, *, directory: Path | None = None, tz: tzinfo | str = "America/New_York"
) -> Profile:
    """A real-time electricity price profile (``local_time,lmp_usd_per_mwh``)."""
    return load_profile(name, PRICES, directory=directory, tz=tz)


_Parsed = tuple[datetime, tuple[float, ...], tuple[float, ...], float]


@lru_cache(maxsize=16)
def _parsed(file: str, mtime_ns: int, size: int, kind: ProfileKind) -> _Parsed:
    """Parse once per file version (``mtime_ns`` and ``size`` key the cache)."""
    del mtime_ns
    if size > MAX_PROFILE_BYTES:
        raise ProfileError(
            [ProfileProblem(file, 0, 0, f"file is larger than {MAX_PROFILE_BYTES} bytes")]
        )
    try:
        raw = Path(file).read_bytes()
    except OSError as e:
        raise ProfileError(
            [ProfileProblem(file, 0, 0, f"cannot read the file: {e.strerror or e}")]
        ) from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise ProfileError(
            [ProfileProblem(file, _line_of(raw, e.start), 0, f"not UTF-8 text (byte {e.start})")]
        ) from None
    return parse_profile(text, kind, file)


def parse_profile(text: str, kind: ProfileKind, file: str = "<profile>") -> _Parsed:
    """Validate profile CSV text: (start, offsets, values, period). ``file`` names it in problems.

    Raises:
        ProfileError: with every problem found (at most :data:`MAX_PROBLEMS`).
    """
    problems: list[ProfileProblem] = []
    header_seen = False
    times: list[datetime] = []
    values: list[float] = []
    lines: list[int] = []
    columns = (TIME_COLUMN, kind.column)
    for lineno, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        fields = [f.strip() for f in stripped.split(",")]
        if not header_seen:
            header_seen = True
            problems.extend(_header(file, lineno, fields, columns))
            if problems:
                raise ProfileError(problems)
            continue
        if len(fields) != len(columns):
            what = f"expected {len(columns)} fields ({', '.join(columns)}), found {len(fields)}"
            problems.append(ProfileProblem(file, lineno, 0, what))
        else:
            row = _row(
                file,
                lineno,
                fields,
                kind=kind,
                previous=times[-1] if times else None,
                problems=problems,
            )
            if row is not None:
                times.append(row[0])
                values.append(row[1])
                lines.append(lineno)
        if len(problems) >= MAX_PROBLEMS:
            break
    if not header_seen:
        what = f"no header: the first line must be '{','.join(columns)}'"
        raise ProfileError([ProfileProblem(file, 0, 0, what)])
    if problems:
        raise ProfileError(problems)
    if len(times) < 2:
        what = f"needs at least 2 rows of data, found {len(times)}"
        raise ProfileError([ProfileProblem(file, 0, 0, what)])
    start = times[0]
    offsets = tuple((t - start).total_seconds() for t in times)
    period = offsets[-1] + (offsets[-1] - offsets[-2])
    return start, offsets, tuple(values), period


def _header(
    file: str, lineno: int, fields: list[str], columns: tuple[str, ...]
) -> list[ProfileProblem]:
    out: list[ProfileProblem] = []
    for i, want in enumerate(columns):
        got = fields[i] if i < len(fields) else None
        if got == want:
            continue
        if got is None:
            out.append(ProfileProblem(file, lineno, i + 1, f"header is missing column '{want}'"))
            continue
        hint = nearest(got, [want])
        what = f"header column '{got}' should be '{want}'"
        if hint is None and i == 1:
            what += " (is this the right kind of profile?)"
        out.append(ProfileProblem(file, lineno, i + 1, what, want))
    for i in range(len(columns), len(fields)):
        what = f"unknown column '{fields[i]}'; a profile has only {', '.join(columns)}"
        out.append(ProfileProblem(file, lineno, i + 1, what))
    return out


def _row(
    file: str,
    lineno: int,
    fields: list[str],
    *,
    kind: ProfileKind,
    previous: datetime | None,
    problems: list[ProfileProblem],
) -> tuple[datetime, float] | None:
    raw_time, raw_value = fields
    when: datetime | None = None
    try:
        when = datetime.fromisoformat(raw_time)
    except ValueError:
        what = f"'{raw_time}' is not a local time like 2024-01-08T00:00"
        problems.append(ProfileProblem(file, lineno, 1, what, TIME_COLUMN))
    if when is not None and when.tzinfo is not None:
        what = f"'{raw_time}' has a UTC offset; give the house's local wall time without one"
        problems.append(ProfileProblem(file, lineno, 1, what, TIME_COLUMN))
        when = None
    if when is not None and previous is not None and when <= previous:
        what = f"{raw_time} does not come after the row before ({previous.isoformat()})"
        problems.append(ProfileProblem(file, lineno, 1, what, TIME_COLUMN))
        when = None
    value: float | None = None
    try:
        value = float(raw_value)
    except ValueError:
        what = f"'{raw_value}' is not a number"
        problems.append(ProfileProblem(file, lineno, 2, what, kind.column))
    if value is not None and not math.isfinite(value):
        problems.append(
            ProfileProblem(file, lineno, 2, f"'{raw_value}' is not finite", kind.column)
        )
        value = None
    if value is not None and not kind.low <= value <= kind.high:
        what = (
            f"{value:g} {kind.unit} is outside the plausible range "
            f"[{kind.low:g}, {kind.high:g}] {kind.unit}"
        )
        problems.append(ProfileProblem(file, lineno, 2, what, kind.column))
        value = None
    if when is None or value is None:
        return None
    return when, value


def _line_of(raw: bytes, offset: int) -> int:
    return raw.count(b"\n", 0, offset) + 1


def _seconds(s: float) -> timedelta:
    return timedelta(seconds=s)
