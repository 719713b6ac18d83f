"""``scada serve --sim --broker URL`` and ``sim atn --broker URL`` as real processes on a real
mosquitto: the house goes to RemoteControl under the simulated ATN, over MQTT."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from scada.protocol import decode
from tests.e2e.serving import BIN, scada_serve
from tests.mqtt_support import Mosquitto, RawMqtt

pytestmark = [pytest.mark.broker, pytest.mark.e2e, pytest.mark.slow]

HOUSE = "dw1.isone.nh.orange.1"
SCADA = f"{HOUSE}.ta.scada"


@contextmanager
def sim_atn(url: str, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(BIN / "sim"), "atn", "--house", HOUSE, "--broker", url],
            stdout=out,
            stderr=subprocess.STDOUT,
            env={k: v for k, v in os.environ.items() if not k.startswith("SCADA_")},
        )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def test_serve_and_sim_atn_reach_remote_control_over_mqtt(
    broker: Mosquitto, tmp_path: Path
) -> None:
    with (
        RawMqtt(broker.port, subscribe="gw/#") as watch,
        sim_atn(broker.url, tmp_path / "atn.log") as atn,
        scada_serve("--drivers", "memory", "--broker", broker.url) as s,
    ):
        deadline = time.monotonic() + 30
        snap: dict[str, object] = {}
        while time.monotonic() < deadline:
            snap = json.loads(s.cli("status", "--json").stdout)
            if snap["mode"] == "remote":
                break
            time.sleep(0.2)
        assert snap["mode"] == "remote", (snap.get("link"), (tmp_path / "atn.log").read_text())
        link = snap["link"]
        assert isinstance(link, dict)
        assert link["broker"] == "up"
        assert link["atn"] == "alive"
        actuators = snap["actuators"]
        assert isinstance(actuators, list)
        assert all(a["boss"] == "atn" for a in actuators)
        seen = watch.take(1000, timeout=1.0)
        atn.send_signal(signal.SIGTERM)
        assert atn.wait(10) == 0
    topics = {m.topic for m in seen}
    assert {
        f"gw/{SCADA}/to/{HOUSE}/online",
        f"gw/{HOUSE}/to/{SCADA}/online",
        f"gw/{HOUSE}/to/{SCADA}/contract.heartbeat",
        f"gw/{SCADA}/to/{HOUSE}/contract.heartbeat",
    } <= topics
    for m in seen:  # every payload on the wire decodes, and its type is its topic's last level
        assert decode(m.payload).type == m.topic.rsplit("/", 1)[1]
    assert "sim atn: dw1.isone.nh.orange.1 dispatching" in (tmp_path / "atn.log").read_text()
