"""Fault that must lose nothing: ``scada serve`` killed with SIGKILL in the middle of a
re-upload, and restarted on the same data dir.

The data dir holds a day of statuses (written with the store, as a runtime outside
RemoteControl would have); a real ``scada serve --broker`` process uploads them to a simulated
ATN in this process, over a real mosquitto. The ATN acks slowly (a few ms per status) so that
the kill lands mid-upload. After the kill, the outbox on disk says what was acknowledged (what
is no longer there): none of that may arrive again; everything else must.
"""

from __future__ import annotations

import asyncio
import signal
import sqlite3
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from scada.clock import SystemClock
from scada.layout import find_house, load_layout
from scada.link import MqttLink
from scada.link.base import UplinkHandler
from scada.protocol import LinkState, Status, WireMessage
from scada.store import Store, store_path
from sim.atn.actor import SimulatedAtn
from tests.e2e.serving import BIN
from tests.mqtt_support import Mosquitto
from tests.store.store_support import House, status
from tests.uplink.uplink_support import HOUSE, settings

pytestmark = [pytest.mark.broker, pytest.mark.e2e, pytest.mark.slow]

BACKLOG = 276  # 23 hours of 5-minute statuses: all still in tier 1
ACK_DELAY_S = 0.004


class SlowAcks:
    """The ATN's link, with each incoming status held a little before the ATN sees it."""

    def __init__(self, link: MqttLink) -> None:
        self.link = link

    @property
    def broker_state(self) -> LinkState:
        return self.link.broker_state

    def send(self, message: WireMessage) -> bool:
        return self.link.send(message)

    def send_encoded(self, message_type: str, payload: bytes) -> bool:
        return self.link.send_encoded(message_type, payload)

    async def run(self, handler: UplinkHandler) -> None:
        async def slow(msg: WireMessage) -> None:
            if isinstance(msg, Status):
                await asyncio.sleep(ACK_DELAY_S)
            await handler(msg)

        await self.link.run(slow)


def backlog(data_dir: Path) -> list[str]:
    layout = load_layout(find_house(HOUSE))
    house = House(
        alias=layout.house.alias,
        scada=layout.house.scada,
        channels=tuple((c.name, c.unit.value) for c in layout.channels),
    )
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    first = now - timedelta(minutes=now.minute % 5) - timedelta(seconds=300 * (BACKLOG + 1))
    ids = []
    with Store.open(store_path(data_dir), SystemClock(), durable=False) as store:
        for n in range(BACKLOG):
            s = status(house, first + timedelta(seconds=300 * n), seq=n + 1, fast=True)
            assert store.put(s)
            ids.append(s.id)
    return ids


def outbox_ids(data_dir: Path) -> set[str]:
    db = sqlite3.connect(f"file:{store_path(data_dir)}?mode=ro", uri=True)
    try:
        return {str(r[0]) for r in db.execute("SELECT id FROM outbox WHERE kind = 'status'")}
    finally:
        db.close()


@contextmanager
def serve(url: str, data_dir: Path, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    cmd = [
        str(BIN / "scada"),
        "serve",
        "--sim",
        "--drivers",
        "memory",
        "--data-dir",
        str(data_dir),
        "--broker",
        url,
    ]
    with log.open("ab") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
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


async def test_sigkill_mid_reupload_loses_nothing_and_resends_no_acked(
    broker: Mosquitto, tmp_path: Path
) -> None:
    data_dir, log = tmp_path / "data", tmp_path / "serve.log"
    ids = backlog(data_dir)
    layout = load_layout(find_house(HOUSE))
    clock = SystemClock()
    link = MqttLink(settings(broker.url), layout.house.alias, layout.house.scada, clock)
    atn = SimulatedAtn(layout, SlowAcks(link), clock, heartbeat_s=5, reply_timeout_s=3, seed=2)
    task = asyncio.create_task(atn.run())
    mine = set(ids)

    def got() -> list[str]:
        return [s.id for s in atn.log.of_type(Status) if s.id in mine]

    try:
        with serve(broker.url, data_dir, log) as proc:
            try:
                async with asyncio.timeout(60):
                    while len(got()) < BACKLOG // 3:
                        assert proc.poll() is None, log.read_text()
                        await asyncio.sleep(0.005)
            except TimeoutError:
                raise AssertionError(f"no re-upload:\n{log.read_text()}") from None
            proc.kill()  # SIGKILL, mid-upload
            proc.wait()
        n_before = len(got())
        remaining = outbox_ids(data_dir)
        acked = mine - remaining
        assert acked, "nothing acknowledged before the kill"
        assert remaining, "the kill came after the upload ended: nothing to check"
        with serve(broker.url, data_dir, log):
            try:
                async with asyncio.timeout(90):
                    while not mine <= set(got()):  # noqa: ASYNC110 - another process
                        await asyncio.sleep(0.05)
            except TimeoutError:
                raise AssertionError(
                    f"{len(mine - set(got()))} statuses never arrived:\n{log.read_text()}"
                ) from None
            async with asyncio.timeout(30):
                while outbox_ids(data_dir) & mine:  # noqa: ASYNC110 - another process
                    await asyncio.sleep(0.1)
        after = got()[n_before:]
        again = acked & set(after)
        assert not again, f"{len(again)} acknowledged statuses were sent again"
        assert mine <= set(got())
        firsts = list(dict.fromkeys(got()))
        assert firsts == ids, "the backlog did not arrive oldest first"
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
