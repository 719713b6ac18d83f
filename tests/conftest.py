"""Shared fixtures: paths, house layouts, a hypothesis profile sized for a 2-core CI box, and
the shortened soak started in the background with the session."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from hypothesis import HealthCheck, Phase, settings

if TYPE_CHECKING:
    from tests.soak.background import BackgroundSoak

ROOT = Path(__file__).resolve().parent.parent
HOUSES = ROOT / "input_data" / "houses"

# No "explain" phase: on Python 3.11 it traces every line with sys.settrace, which turned one
# shrunk failure into a 120 s timeout that hid the falsifying example.
settings.register_profile(
    "ci",
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    print_blob=True,
    phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink],
)
# HYPOTHESIS_PROFILE=deep: twenty times the examples, for hunting rare cases before a release.
settings.register_profile("deep", parent=settings.get_profile("ci"), max_examples=2000)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture
def repo_root() -> Path:
    return ROOT


@pytest.fixture
def houses_dir() -> Path:
    return HOUSES


SOAK_TEST = "tests/soak/test_soak.py::"


@pytest.fixture(scope="session", autouse=True)
def background_soak(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[BackgroundSoak | None]:
    """The shortened soak, from the session's first test when the session will run it."""
    wanted = any(item.nodeid.startswith(SOAK_TEST) for item in request.session.items)
    if not wanted or shutil.which("mosquitto") is None:  # its test says why it skips
        yield None
        return
    from tests.soak.background import BackgroundSoak  # only when it runs

    soak = BackgroundSoak(tmp_path_factory.mktemp("soak"))
    yield soak
    soak.stop()
