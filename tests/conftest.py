"""Shared fixtures: paths, house layouts, and a hypothesis profile sized for a 2-core CI box."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

ROOT = Path(__file__).resolve().parent.parent
HOUSES = ROOT / "input_data" / "houses"

settings.register_profile(
    "ci", deadline=None, suppress_health_check=[HealthCheck.too_slow], print_blob=True
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture
def repo_root() -> Path:
    return ROOT


@pytest.fixture
def houses_dir() -> Path:
    return HOUSES
