"""The command line and the reconnect back-off."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from gwtui.connection import Backoff
from gwtui.main import default_operator, parse_args


def test_defaults_find_the_socket_and_name_the_operator(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GWTUI_OPERATOR", "Jane Installer")
    settings = parse_args([])
    assert settings.socket is None
    assert settings.readonly is False
    assert settings.operator == "Jane Installer"
    assert settings.offer_simulation is True


def test_every_option(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GWTUI_OPERATOR", raising=False)
    settings = parse_args(
        ["--socket", "/tmp/x.sock", "--readonly", "--operator", "  Bob  ", "--no-sim-offer"]
    )
    assert settings.socket == Path("/tmp/x.sock")
    assert settings.readonly is True
    assert settings.operator == "Bob"
    assert settings.offer_simulation is False


def test_a_blank_operator_falls_back_to_the_login(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GWTUI_OPERATOR", raising=False)
    assert parse_args(["--operator", "   "]).operator == default_operator()
    assert default_operator()


def test_backoff_grows_to_its_cap_with_jitter_and_resets() -> None:
    rng = random.Random(7)
    backoff = Backoff(first_s=0.25, cap_s=5.0, jitter=0.2)
    delays = [backoff.next_delay(rng) for _ in range(10)]
    assert 0.2 <= delays[0] <= 0.3
    assert all(d <= 6.0 for d in delays)
    assert delays[-1] >= 4.0
    backoff.reset()
    assert backoff.next_delay(rng) <= 0.3
    assert Backoff(jitter=0.0).next_delay() == 0.25
