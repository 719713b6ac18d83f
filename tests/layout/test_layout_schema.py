"""The committed JSON Schema of layout files matches the model."""

from __future__ import annotations

import json
from pathlib import Path

from scada.layout import layout_json_schema
from scada.layout.schema import layout_json_schema_text, schema_path

ROOT = Path(__file__).resolve().parents[2]
COMMITTED = ROOT / "input_data" / "layout.schema.json"


def test_schema_path_is_in_input_data() -> None:
    assert schema_path() == COMMITTED


def test_committed_schema_is_up_to_date() -> None:
    committed = COMMITTED.read_text("utf-8") if COMMITTED.exists() else ""
    assert committed == layout_json_schema_text(), (
        f"{COMMITTED.relative_to(ROOT)} is out of date with scada/layout/model.py; "
        "refresh it with: .venv/bin/scada layout schema --write"
    )


def test_schema_describes_a_layout() -> None:
    schema = layout_json_schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["type"] == "object"
    assert schema["additionalProperties"] is False
    assert set(schema["required"]) == {"house", "nodes", "control"}
    assert {"Channel", "Device", "ControlSettings", "I2cBus"} <= set(schema["$defs"])
    hw_id = schema["$defs"]["Channel"]["properties"]["hw_id"]
    assert "28-000000033ffe" in json.dumps(hw_id)
