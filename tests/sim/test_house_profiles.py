"""Weather and price profiles: their shape, interpolation, regeneration and bad files."""

from __future__ import annotations

import statistics
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from sim.house import PRICES, WEATHER, ProfileError, load_prices, load_profile, load_weather
from sim.house.make_profiles import write
from sim.house.profiles import Profile, ProfileKind, parse_profile
from tests.sim.house_support import NY, PROFILES, T0

DAY = timedelta(days=1)


def hourly(profile_at: object, start: datetime, hours: int) -> list[float]:
    assert callable(profile_at)
    return [float(profile_at(start + timedelta(hours=h))) for h in range(hours)]


def test_the_maine_winter_has_daily_swings_and_a_cold_snap() -> None:
    weather = load_weather("maine-winter.csv")
    assert weather.period_s >= 28 * 86_400
    assert weather.start.weekday() == 0  # a Monday: weekdays stay aligned when it repeats
    assert -27.0 <= min(weather.values) <= -23.0
    assert max(weather.values) > 0.0
    days = [weather.values[d * 24 : (d + 1) * 24] for d in range(28)]
    swings = [max(d) - min(d) for d in days]
    assert 5.0 <= statistics.mean(swings) <= 15.0
    means = [statistics.mean(d) for d in days]
    cold = [m < -14.0 for m in means]
    assert any(all(cold[i : i + 3]) for i in range(26))  # a cold snap of several days
    when, lowest = weather.lowest()
    assert lowest == min(weather.values)
    assert weather.start <= when < weather.end


def test_prices_have_morning_and_evening_peaks_and_cheaper_weekends() -> None:
    prices = load_prices("isone-prices.csv")
    monday = hourly(prices.at, T0, 24)
    night = statistics.mean(monday[0:5])
    assert max(monday[7:10]) > 1.5 * night
    assert max(monday[17:20]) > max(monday[7:10])
    week = hourly(prices.at, T0, 7 * 24)
    weekday = statistics.mean(week[: 5 * 24])
    weekend = statistics.mean(week[5 * 24 :])
    assert weekend < weekday


def test_temperatures_are_linear_between_rows_and_prices_are_held() -> None:
    weather = load_weather("maine-winter.csv")
    prices = load_prices("isone-prices.csv")
    a, b = weather.values[5], weather.values[6]
    assert weather.at(T0 + timedelta(hours=5, minutes=30)) == pytest.approx((a + b) / 2)
    assert weather.at(T0 + timedelta(hours=5, minutes=45)) == pytest.approx(a + 0.75 * (b - a))
    assert prices.at(T0 + timedelta(hours=5, minutes=59)) == prices.values[5]
    # Reading the same hour again (the cached segment) gives the same answers.
    assert weather.at(T0 + timedelta(hours=5, minutes=30)) == pytest.approx((a + b) / 2)


def test_a_profile_repeats_and_maps_any_date_by_local_wall_time() -> None:
    weather = load_weather("maine-winter.csv")
    t = T0 + timedelta(days=3, hours=7, minutes=20)
    assert weather.at(t + 4 * 7 * DAY) == pytest.approx(weather.at(t))
    # Any date maps by local wall time: 7:20 on a summer Monday (daylight saving time) reads
    # 7:20 on a Monday of the profile.
    summer = datetime(2024, 7, 1, 7, 20, tzinfo=NY)
    weeks = (summer.date() - T0.date()).days // 7
    same = T0 + timedelta(days=7 * (weeks % 4), hours=7, minutes=20)
    assert weather.at(summer) == pytest.approx(weather.at(same))
    # Between the last row and the end it heads back to the first row.
    end = weather.start + timedelta(seconds=weather.period_s)
    assert weather.at((end - timedelta(minutes=30)).replace(tzinfo=NY)) == pytest.approx(
        (weather.values[-1] + weather.values[0]) / 2
    )


def test_the_committed_profiles_are_what_the_generator_writes(tmp_path: Path) -> None:
    for path in write(tmp_path):
        assert path.read_bytes() == (PROFILES / path.name).read_bytes(), path.name


GOOD_HEAD = "local_time,outdoor_c\n"


@pytest.mark.parametrize(
    ("text", "where", "what"),
    [
        ("", "", "no header"),
        ("# only a comment\n", "", "no header"),
        (
            "time,outdoor_c\n2024-01-01T00:00,1\n",
            "line 1, column 1 (local_time)",
            "should be 'local_time'",
        ),
        ("local_time,lmp_usd_per_mwh\n", "line 1, column 2 (outdoor_c)", "right kind of profile"),
        ("local_time,outdoor_c,wind\n", "line 1, column 3", "unknown column 'wind'"),
        ("local_time\n", "line 1, column 2", "missing column 'outdoor_c'"),
        (
            GOOD_HEAD + "2024-01-01T00:00,1\n2024-01-01T01:00,x\n",
            "line 3, column 2 (outdoor_c)",
            "'x' is not a number",
        ),
        (GOOD_HEAD + "2024-01-01T00:00,nan\n", "line 2, column 2", "not finite"),
        (GOOD_HEAD + "2024-01-01T00:00,80\n", "line 2, column 2", "outside the plausible range"),
        (GOOD_HEAD + "yesterday,1\n", "line 2, column 1 (local_time)", "not a local time"),
        (GOOD_HEAD + "2024-01-01T00:00-05:00,1\n", "line 2, column 1", "UTC offset"),
        (
            GOOD_HEAD + "2024-01-01T01:00,1\n2024-01-01T01:00,2\n",
            "line 3, column 1",
            "does not come after",
        ),
        (GOOD_HEAD + "2024-01-01T00:00,1,2\n", "line 2", "expected 2 fields"),
        (GOOD_HEAD + "2024-01-01T00:00,1\n", "", "at least 2 rows"),
    ],
)
def test_a_bad_profile_names_file_line_and_column(
    tmp_path: Path, text: str, where: str, what: str
) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(text, "utf-8")
    with pytest.raises(ProfileError) as caught:
        load_profile(path, WEATHER)
    message = str(caught.value)
    assert message.startswith(str(path))
    assert where in message
    assert what in message
    assert caught.value.problems


def test_every_bad_row_is_reported_at_once(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(GOOD_HEAD + "2024-01-01T00:00,a\n2024-01-01T01:00,1\n2024-01-01T02:00,b\n")
    with pytest.raises(ProfileError) as caught:
        load_profile(path, WEATHER)
    assert [p.line for p in caught.value.problems] == [2, 4]


def test_a_missing_or_binary_file_is_a_profile_error(tmp_path: Path) -> None:
    with pytest.raises(ProfileError, match="cannot read the file"):
        load_weather("no-such-profile.csv", directory=tmp_path)
    binary = tmp_path / "binary.csv"
    binary.write_bytes(b"local_time,outdoor_c\n\xff\xfe\n")
    with pytest.raises(ProfileError, match=r"line 2: not UTF-8"):
        load_profile(binary, PRICES)


@pytest.mark.parametrize("kind", [PRICES, WEATHER], ids=["prices", "weather"])
def test_reading_on_across_the_clock_changes_gives_what_a_fresh_lookup_gives(
    kind: ProfileKind,
) -> None:
    """A profile keeps the segment it last read; one that a clock change cuts (3-hourly rows
    over 02:00 in spring and 01:00 in autumn) must not be reused past the change."""
    rows = [f"local_time,{kind.column}"]
    first = datetime(2024, 3, 4)  # noqa: DTZ001 - local wall time, as in the files
    rows += [f"{first + timedelta(hours=3 * i):%Y-%m-%dT%H:%M},{(i % 8) * 5.0}" for i in range(56)]
    start, offsets, values, period = parse_profile("\n".join(rows), kind, "p.csv")

    def fresh() -> Profile:
        return Profile("p.csv", kind, start, offsets, values, period, NY)

    read_on = fresh()
    for day in (datetime(2024, 3, 10, 4, tzinfo=UTC), datetime(2024, 11, 3, 3, tzinfo=UTC)):
        for minute in range(0, 8 * 60, 7):
            t = day + timedelta(minutes=minute)
            assert read_on.at(t) == pytest.approx(fresh().at(t), abs=1e-9), t
