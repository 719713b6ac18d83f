"""No probe test may see a SCADA that happens to run on this machine, nor a $SCADA_HOUSE."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def no_running_scada(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SCADA_SOCKET", str(tmp_path / "nobody.sock"))
    monkeypatch.delenv("SCADA_HOUSE", raising=False)
