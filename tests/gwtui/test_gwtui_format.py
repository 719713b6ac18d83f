"""Cell text: values, ages, countdowns, sparklines, plots, and channel grouping."""

from __future__ import annotations

import pytest

from gwtui.format import (
    SPARK_BLOCKS,
    bar_chart,
    format_age,
    format_bytes,
    format_countdown,
    format_value,
    resample,
    sparkline,
    unit_label,
)
from gwtui.grouping import ChannelGroup, classify, group_key


@pytest.mark.parametrize(
    ("value", "unit", "text"),
    [
        (61.25, "degC", "61.25"),
        (2450.4, "W", "2450"),
        (12345.0, "W", "12,345"),
        (2.951, "gpm", "2.95"),
        (None, "degC", "-"),
        (float("nan"), "W", "-"),
        (1.23456, "furlong", "1.23"),
    ],
)
def test_values_get_the_precision_of_their_unit(value: float | None, unit: str, text: str) -> None:
    assert format_value(value, unit) == text


def test_units_read_like_a_person_writes_them() -> None:
    assert unit_label("degC") == "°C"
    assert unit_label("gpm") == "gpm"


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (None, "-"),
        (0, "0s"),
        (59.9, "59s"),
        (65, "1m05s"),
        (3725, "1h02m"),
        (200_000, "2d"),
        (-3, "0s"),
    ],
)
def test_ages_are_compact(seconds: float | None, text: str) -> None:
    assert format_age(seconds) == text


def test_countdowns_round_up_and_never_go_negative() -> None:
    assert format_countdown(1781.2) == "29:42"
    assert format_countdown(3723) == "1:02:03"
    assert format_countdown(-5) == "00:00"


def test_sizes_use_decimal_units() -> None:
    assert format_bytes(999) == "999 B"
    assert format_bytes(1_250_000) == "1.2 MB"
    assert format_bytes(3_000_000_000_000) == "3000.0 GB"


def test_sparkline_scales_to_its_own_range_and_right_aligns() -> None:
    line = sparkline([0.0, 5.0, 10.0], 5)
    assert line == "  " + SPARK_BLOCKS[0] + SPARK_BLOCKS[4] + SPARK_BLOCKS[-1]
    assert sparkline(list(range(100)), 8) == "".join(SPARK_BLOCKS)  # the last 8 only
    assert sparkline([], 4) == "    "
    assert sparkline([1.0], 0) == ""


def test_a_flat_sparkline_sits_in_the_middle_not_at_the_bottom() -> None:
    assert set(sparkline([20.0, 20.0, 20.0], 3)) == {SPARK_BLOCKS[3]}


def test_resample_averages_buckets_and_keeps_short_series() -> None:
    assert resample([1.0, 2.0], 5) == [1.0, 2.0]
    assert resample([1.0, 3.0, 5.0, 7.0], 2) == [2.0, 6.0]


def test_bar_chart_has_the_asked_size_with_max_full_and_min_visible() -> None:
    lines = bar_chart([0.0, 1.0, 2.0, 3.0], width=6, height=3)
    assert len(lines) == 3
    assert all(len(line) == 6 for line in lines)
    assert lines[0][-1] == SPARK_BLOCKS[-1]  # the maximum reaches the top
    assert lines[-1][2] != " "  # the minimum still shows a sliver
    assert bar_chart([], 4, 2) == ["    ", "    "]
    assert bar_chart([1.0], 0, 2) == []


@pytest.mark.parametrize(
    ("node", "quantity", "group"),
    [
        ("a.tank.temp0", "water_temp", ChannelGroup.TANK),
        ("a.buffer.temp3", "water_temp", ChannelGroup.TANK),
        ("a.tank.out.temp1", "water_temp", ChannelGroup.PIPES),
        ("a.tank.hot.temp", "water_temp", ChannelGroup.PIPES),
        ("a.zone1.temp", "air_temp", ChannelGroup.ZONES),
        ("a.outdoors.temp1", "air_temp", ChannelGroup.OUTDOOR),
        ("a.outdoor", "air_temp", ChannelGroup.OUTDOOR),
        ("a.outdoorshed.temp", "air_temp", ChannelGroup.ZONES),
        ("a.mast", "outdoor_temp", ChannelGroup.OUTDOOR),
        ("a.tank.out.flowmeter1", "flow", ChannelGroup.FLOW),
        ("a.hp", "power", ChannelGroup.POWER),
        ("a.tank.level", "level_pct", ChannelGroup.OTHER),
    ],
)
def test_channels_group_by_the_house_structure(
    node: str, quantity: str, group: ChannelGroup
) -> None:
    assert classify(node, quantity) is group


def test_tank_layers_sort_top_to_bottom_by_layer_not_by_name() -> None:
    keys = [
        group_key("a.tank.temp10", "water_temp", 0),
        group_key("a.tank.temp2", "water_temp", 1),
        group_key("a.hp", "power", 2),
        group_key("a.tank.out.temp1", "water_temp", 3),
    ]
    ordered = sorted(keys)
    assert [(k.group, k.layer) for k in ordered] == [
        (ChannelGroup.TANK, 2),
        (ChannelGroup.TANK, 10),
        (ChannelGroup.PIPES, 0),
        (ChannelGroup.POWER, 0),
    ]
