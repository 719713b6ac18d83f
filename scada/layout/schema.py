"""The JSON Schema of a layout file, generated from the model so the two never disagree.

``input_data/layout.schema.json`` is this schema as committed; editors use it to complete and
check house files, and a test fails when it is out of date
(refresh it with ``scada layout schema --write``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from scada.layout.houses import input_data_dir
from scada.layout.model import Layout

JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


def layout_json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a layout file."""
    schema = Layout.model_json_schema()
    return {"$schema": JSON_SCHEMA_DIALECT, **schema}


def layout_json_schema_text() -> str:
    """The schema as committed: two-space indents, sorted keys, a trailing newline."""
    return json.dumps(layout_json_schema(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def schema_path() -> Path:
    """Where the committed schema lives: ``input_data/layout.schema.json``."""
    return input_data_dir() / "layout.schema.json"
