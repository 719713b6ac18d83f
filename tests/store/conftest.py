"""Fixtures of the store tests: a manual clock, a fresh store in a temporary data dir, and the
28-day store of the largest house, built in a child process from the start of the session."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from scada.store import Store, store_path
from tests.store.build_28_days import Build28Days
from tests.store.store_support import ManualClock

TIERS_TEST = "test_store_tiers_28_days.py"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return store_path(tmp_path / "data")


@pytest.fixture
def store(path: Path, clock: ManualClock) -> Iterator[Store]:
    s = Store.open(path, clock)
    yield s
    s.close()


@pytest.fixture(scope="session", autouse=True)
def build_28_days(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Build28Days | None]:
    """Started with the first store test when the session will run the 28-day tests (about
    20 s of work: the other store tests run meanwhile on the other core)."""
    if not any(TIERS_TEST in item.nodeid for item in request.session.items):
        yield None
        return
    build = Build28Days(tmp_path_factory.mktemp("28days"))
    yield build
    build.stop()
