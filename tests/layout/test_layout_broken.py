"""Broken layouts give exactly the problems listed in ``broken/expected.json``.

Each fixture is ``minimal.json`` with one fault (``multiple-*`` have several). The lines are
exactly what ``scada layout check`` prints, with file names as given on the command line.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scada.layout import LayoutError, LayoutProblem, load_layout, parse_layout

BROKEN = Path(__file__).parent / "broken"
EXPECTED: dict[str, list[str]] = json.loads((BROKEN / "expected.json").read_text("utf-8"))
FIXTURES = sorted(p.name for p in BROKEN.glob("*.json") if p.name != "expected.json")

# What the issue asks the fixtures to cover.
REQUIRED = {
    "misspelt-key.json",
    "misspelt-enum.json",
    "misspelt-node-ref.json",
    "duplicate-alias.json",
    "missing-parent.json",
    "unknown-device.json",
    "two-actuators-one-channel.json",
    "i2c-address-clash.json",
    "modbus-unit-clash.json",
    "threshold-outside-range.json",
    "empty-plausible-range.json",
    "wrong-unit.json",
    "tank-limits-out-of-order.json",
    "not-json.json",
    "top-level-array.json",
    "wrong-bus-for-make-model.json",
    "missing-required-key.json",
    "relay-beyond-board.json",
}


def problems_of(name: str) -> list[str]:
    with pytest.raises(LayoutError) as caught:
        load_layout(name)
    return [str(p) for p in caught.value.problems]


def test_every_fixture_has_its_expected_problems() -> None:
    assert sorted(EXPECTED) == FIXTURES
    assert len(FIXTURES) >= 15
    assert set(FIXTURES) >= REQUIRED
    for name, lines in EXPECTED.items():
        assert lines, f"{name} lists no problem"
        assert all(line.startswith(f"{name}: ") for line in lines)


@pytest.mark.parametrize("name", FIXTURES)
def test_broken_fixture(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(BROKEN)
    assert problems_of(name) == EXPECTED[name]


def test_suggestions_are_structured() -> None:
    with pytest.raises(LayoutError) as caught:
        load_layout(BROKEN / "misspelt-enum.json")
    (problem,) = caught.value.problems
    assert problem == LayoutProblem(
        str(BROKEN / "misspelt-enum.json"),
        "nodes[7].role",
        "unknown value 'circulator_pmp'",
        "circulator_pump",
    )
    assert str(caught.value) == str(problem)


def test_parse_layout_names_the_source() -> None:
    with pytest.raises(LayoutError) as caught:
        parse_layout(b"[]", "from-the-console")
    assert [str(p) for p in caught.value.problems] == [
        "from-the-console: the top level must be a JSON object"
    ]


def test_unknown_value_without_a_close_match_lists_the_choices() -> None:
    doc = json.loads((BROKEN.parent / "minimal.json").read_text("utf-8"))
    doc["channels"][0]["quantity"] = "zzz"
    with pytest.raises(LayoutError) as caught:
        parse_layout(json.dumps(doc), "m.json")
    assert [str(p) for p in caught.value.problems] == [
        (
            "m.json: channels[0].quantity: unknown value 'zzz'; expected one of 'water_temp', "
            "'air_temp', 'power', 'flow', 'relay_state'"
        )
    ]


@pytest.mark.parametrize(
    ("mutation", "line"),
    [
        (
            {"tank_min_c": 9, "freeze_tank_c": 10},
            "m.json: control: freeze_tank_c (10) must be below tank_min_c (9)",
        ),
        (
            {"heat_pump": "a.elt1.relay"},
            (
                "m.json: control.heat_pump: 'a.elt1.relay' drives 'a.elt1', a boost_element, "
                "not a heat_pump"
            ),
        ),
        (
            {"outdoor_channel": "tank-top"},
            "m.json: control.outdoor_channel: 'tank-top' measures water_temp, not air_temp",
        ),
        (
            {"tank_layers": ["tank-bottom", "tank-top"]},
            "m.json: control.tank_layers[0]: 'tank-bottom' is tank layer 1, listed here as layer 0",
        ),
    ],
)
def test_control_cross_checks(mutation: dict[str, object], line: str) -> None:
    doc = json.loads((BROKEN.parent / "minimal.json").read_text("utf-8"))
    doc["control"].update(mutation)
    with pytest.raises(LayoutError) as caught:
        parse_layout(json.dumps(doc), "m.json")
    assert line in [str(p) for p in caught.value.problems]


def test_krida_relays_must_be_active_low() -> None:
    doc = json.loads((BROKEN.parent / "minimal.json").read_text("utf-8"))
    doc["devices"][0]["make_model"] = "krida__emr16_i2c_v3"
    with pytest.raises(LayoutError) as caught:
        parse_layout(json.dumps(doc), "m.json")
    assert [str(p) for p in caught.value.problems] == [
        f"m.json: actuators[{i}].active_low: a krida__emr16_i2c_v3 energises a relay with a low "
        "pin (did you mean 'true'?)"
        for i in (0, 1)
    ]


def test_gpio_pins_are_not_shared() -> None:
    doc = json.loads((BROKEN.parent / "minimal.json").read_text("utf-8"))
    doc["nodes"].append({"alias": "a.flow", "role": "pipe_flow_meter", "display_name": "Flow"})
    doc["nodes"].append({"alias": "a.flow2", "role": "pipe_flow_meter", "display_name": "Flow 2"})
    for name in ("flow-a", "flow-b"):
        doc["devices"].append(
            {
                "name": name,
                "make_model": "pulse__flow_meter",
                "bus": {"kind": "gpio"},
                "pulses_per_gallon": 13.37,
            }
        )
    for name, node, dev in (("flow1", "a.flow", "flow-a"), ("flow2", "a.flow2", "flow-b")):
        doc["channels"].append(
            {
                "name": name,
                "node": node,
                "device": dev,
                "quantity": "flow",
                "unit": "gpm",
                "device_channel": 17,
                "plausible_range": [0, 15],
            }
        )
    with pytest.raises(LayoutError) as caught:
        parse_layout(json.dumps(doc), "m.json")
    assert [str(p) for p in caught.value.problems] == [
        "m.json: channels[6].device_channel: GPIO pin 17 is already used by 'flow1'"
    ]


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)
MINIMAL: dict[str, Any] = json.loads((BROKEN.parent / "minimal.json").read_text("utf-8"))


@given(doc=JSON)
def test_any_json_is_a_layout_error_never_a_crash(doc: object) -> None:
    with pytest.raises(LayoutError):
        parse_layout(json.dumps(doc), "x.json")


def _json_paths(doc: object, prefix: tuple[int | str, ...] = ()) -> list[tuple[int | str, ...]]:
    out = [prefix] if prefix else []
    if isinstance(doc, dict):
        for k, v in doc.items():
            out += _json_paths(v, (*prefix, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            out += _json_paths(v, (*prefix, i))
    return out


@given(where=st.sampled_from(_json_paths(MINIMAL)), value=JSON)
def test_any_value_anywhere_is_a_layout_error_never_a_crash(
    where: tuple[int | str, ...], value: object
) -> None:
    doc = json.loads(json.dumps(MINIMAL))
    holder: Any = doc
    for part in where[:-1]:
        holder = holder[part]
    holder[where[-1]] = value
    problems: tuple[LayoutProblem, ...] = ()
    try:
        parse_layout(json.dumps(doc), "x.json")
    except LayoutError as e:
        problems = e.problems
    else:
        return
    assert problems
    assert all(str(p).startswith("x.json") for p in problems)


def test_deep_nesting_is_reported() -> None:
    deep = '{"house": ' + "[" * 100_000 + "]" * 100_000 + "}"
    with pytest.raises(LayoutError) as caught:
        parse_layout(deep, "deep.json")
    assert [str(p) for p in caught.value.problems] == ["deep.json: JSON nested too deeply"]
