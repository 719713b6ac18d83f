"""sd_notify to a fake NOTIFY_SOCKET, the watchdog from the event loop, journal-style logs."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from scada.serve import configure_logging
from scada.systemd import JournalFormatter, Notifier, priority, under_journal, watchdog_period_s
from tests.conftest import HOUSES
from tests.ops.ops_support import env_without_scada, write

BIN = Path(sys.executable).parent


class FakeSystemd:
    """A datagram socket standing in for systemd's ``$NOTIFY_SOCKET``; records what arrives
    (with the monotonic time) from a thread."""

    def __init__(self, address: str) -> None:
        self.address = address
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind("\0" + address[1:] if address.startswith("@") else address)
        self.sock.settimeout(0.05)
        self.messages: list[tuple[float, str]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._receive, daemon=True)
        self._thread.start()

    def _receive(self) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(TimeoutError):
                self.messages.append((time.monotonic(), self.sock.recv(4096).decode()))

    def texts(self) -> list[str]:
        return [m for _, m in self.messages]

    def wait_for(self, text: str, timeout_s: float = 30.0) -> None:
        deadline = time.monotonic() + timeout_s
        while not any(text in m for m in self.texts()):
            assert time.monotonic() < deadline, f"no {text!r} in {self.texts()}"
            time.sleep(0.01)

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self.sock.close()


@contextlib.contextmanager
def fake_systemd(address: str | None = None) -> Iterator[FakeSystemd]:
    with tempfile.TemporaryDirectory(prefix="gwsd") as d:
        fake = FakeSystemd(address or str(Path(d) / "notify"))
        try:
            yield fake
        finally:
            fake.close()


# ------------------------------------------------------------------ sd_notify


def test_notifier_only_under_systemd() -> None:
    assert Notifier.from_env({}) is None
    assert Notifier.from_env({"NOTIFY_SOCKET": "relative/path"}) is None
    n = Notifier.from_env({"NOTIFY_SOCKET": "/run/x", "WATCHDOG_USEC": "30000000"})
    assert n is not None
    assert n.watchdog_s == 15.0
    n.close()


def test_watchdog_period_is_half_of_watchdog_sec_for_this_process_only() -> None:
    assert watchdog_period_s({"WATCHDOG_USEC": "30000000"}) == 15.0
    assert watchdog_period_s({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "1"}, pid=2) is None
    assert watchdog_period_s({"WATCHDOG_USEC": "2000000", "WATCHDOG_PID": "7"}, pid=7) == 1.0
    assert watchdog_period_s({"WATCHDOG_USEC": "nope"}) is None
    assert watchdog_period_s({}) is None


@pytest.mark.parametrize("abstract", [False, True])
def test_ready_status_watchdog_stopping_reach_the_socket(abstract: bool) -> None:
    address = f"@gwscada-test-{os.getpid()}" if abstract else None
    with fake_systemd(address) as sd:
        n = Notifier(sd.address)
        assert n.ready("serving x")
        assert n.watchdog()
        assert n.status("line one\nline two")
        assert n.stopping()
        assert not n.stopping()  # once
        n.close()
        sd.wait_for("STOPPING=1")
        assert sd.texts() == [
            "READY=1\nSTATUS=serving x",
            "WATCHDOG=1",
            "STATUS=line one line two",
            "STOPPING=1\nSTATUS=stopping",
        ]


def test_a_missing_socket_is_logged_once_and_never_raises(caplog: pytest.LogCaptureFixture) -> None:
    n = Notifier("/nonexistent/notify")
    with caplog.at_level(logging.WARNING, logger="scada.systemd"):
        assert not n.ready("x")
        assert not n.watchdog()
    n.close()
    assert len(caplog.records) == 1
    assert "cannot notify systemd" in caplog.records[0].getMessage()


def _drain(sock: socket.socket) -> list[str]:
    """Every datagram queued on ``sock`` now, without waiting."""
    got = []
    while True:
        try:
            got.append(sock.recv(4096, socket.MSG_DONTWAIT).decode())
        except BlockingIOError:
            return got


async def test_the_actor_says_ready_then_pings_and_a_stuck_loop_stops_the_pings(
    tmp_path: Path,
) -> None:
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sd:
        sd.bind(str(tmp_path / "notify"))
        n = Notifier(str(tmp_path / "notify"), watchdog_s=0.02)
        task = asyncio.create_task(n.run(lambda: "serving test"))
        await asyncio.sleep(0.1)
        first = _drain(sd)
        assert first[0] == "READY=1\nSTATUS=serving test"
        assert first[1:].count("WATCHDOG=1") >= 3
        # The event loop stops turning (no await between the drains): nothing pings, however
        # long it lasts; the kernel queues whatever is sent, so nothing can be missed.
        time.sleep(0.3)  # noqa: ASYNC251 - blocking the loop on purpose
        assert _drain(sd) == []
        await asyncio.sleep(0.1)  # the loop turns again: pings resume
        assert "WATCHDOG=1" in _drain(sd)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        n.close()


async def test_without_a_watchdog_the_actor_says_ready_and_waits() -> None:
    with fake_systemd() as sd:
        n = Notifier(sd.address)
        task = asyncio.create_task(n.run(lambda: "serving"))
        await asyncio.to_thread(sd.wait_for, "READY=1")
        await asyncio.sleep(0.05)
        assert not task.done()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        n.close()
        assert sd.texts() == ["READY=1\nSTATUS=serving"]


# ------------------------------------------------------------------------- logs


def test_journal_lines_carry_a_priority_and_no_timestamp() -> None:
    fmt = JournalFormatter()
    record = logging.LogRecord("scada.devices", logging.WARNING, __file__, 1, "x %s", ("y",), None)
    assert fmt.format(record) == "<4>scada.devices: x y"
    try:
        raise ValueError("boom")
    except ValueError:
        err = logging.LogRecord(
            "scada.runtime", logging.ERROR, __file__, 1, "failed", (), sys.exc_info()
        )
    text = fmt.format(err).splitlines()
    assert text[0] == "<3>scada.runtime: failed"
    assert len(text) > 2
    assert all(line.startswith("<3>") for line in text)  # the traceback keeps its level too
    assert [priority(lv) for lv in (10, 20, 25, 30, 40, 50, 5)] == [7, 6, 6, 4, 3, 2, 7]


def test_under_journal_only_when_stderr_is_the_named_stream(tmp_path: Path) -> None:
    with (tmp_path / "log").open("w") as f:
        st = os.fstat(f.fileno())
        assert under_journal({"JOURNAL_STREAM": f"{st.st_dev}:{st.st_ino}"}, fd=f.fileno())
        assert not under_journal({"JOURNAL_STREAM": f"{st.st_dev}:{st.st_ino + 1}"}, f.fileno())
        assert not under_journal({}, fd=f.fileno())
        assert not under_journal({"JOURNAL_STREAM": "junk"}, fd=f.fileno())


def test_configure_logging_quiets_pymodbus() -> None:
    pymodbus = logging.getLogger("pymodbus")
    before = pymodbus.level
    try:
        configure_logging("debug")
        assert not logging.getLogger("pymodbus.logging").isEnabledFor(logging.WARNING)
        assert logging.getLogger("pymodbus.logging").isEnabledFor(logging.ERROR)
    finally:
        pymodbus.setLevel(before)
        logging.captureWarnings(capture=False)


# --------------------------------------------------------- scada serve, for real


def _real_house_on_a_bare_machine(tmp: Path, meter_port: int) -> Path:
    """The simulated demo house declared real: on this machine its I2C and GPIO devices are
    missing and its meter's port is closed, so every device fails, continuously."""
    data = json.loads((HOUSES / "dw1.isone.nh.orange.1.json").read_text())
    data["house"]["hardware"] = "real"
    for dev in data["devices"]:
        if dev["name"] == "egauge":
            dev["bus"].update(port=meter_port, timeout_s=0.3)
    return write(tmp / "house.json", json.dumps(data))


@pytest.mark.e2e
def test_serve_under_systemd_notifies_pings_logs_for_the_journal_and_does_not_flood() -> None:
    with tempfile.TemporaryDirectory(prefix="gwsd") as d, fake_systemd() as sd:
        tmp = Path(d)
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            closed = int(s.getsockname()[1])
        house = _real_house_on_a_bare_machine(tmp, closed)
        config = write(tmp / "scada.toml", 'log_level = "info"\n')
        before = (config.read_bytes(), config.stat().st_mtime_ns)
        log = tmp / "journal"
        with log.open("w") as out:
            st = os.fstat(out.fileno())
            env = env_without_scada(
                {
                    "NOTIFY_SOCKET": sd.address,
                    "WATCHDOG_USEC": "200000",
                    "JOURNAL_STREAM": f"{st.st_dev}:{st.st_ino}",
                    "SCADA_CONFIG": str(config),
                    "SCADA_SECRETS": str(write(tmp / "secrets.toml", "", 0o640)),
                    "SCADA_SOCKET": str(tmp / "s.sock"),
                    "SCADA_DATA_DIR": str(tmp / "data"),
                }
            )
            proc = subprocess.Popen(
                [str(BIN / "scada"), "serve", "--layout", str(house)],
                stdout=out,
                stderr=out,
                env=env,
            )
            try:
                sd.wait_for("READY=1")
                ready_at = next(t for t, m in sd.messages if m.startswith("READY=1"))
                time.sleep(2.0)  # the devices keep failing and being retried
            finally:
                proc.send_signal(signal.SIGTERM)
                assert proc.wait(20) == 0
        sd.wait_for("STOPPING=1")
        texts = sd.texts()
        assert texts[0] == "READY=1\nSTATUS=serving dw1.isone.nh.orange.1 (REAL hardware)"
        pings = [t for t, m in sd.messages if m == "WATCHDOG=1" and t > ready_at]
        assert len(pings) >= 10  # every 0.1 s
        assert texts.count("STOPPING=1\nSTATUS=stopping") == 1
        lines = log.read_text().splitlines()
        assert lines, "the service logged nothing"
        assert all(line[:3] in {"<2>", "<3>", "<4>", "<6>", "<7>"} for line in lines), lines
        assert not any("pymodbus" in line for line in lines)
        failing = [line for line in lines if " failing: " in line]
        devices = [line.split(" failing: ")[0] for line in failing]
        assert len(devices) == len(set(devices)), "a device's failure was logged more than once"
        assert "<4>scada.devices: device egauge" in devices
        assert len(lines) < 40, "\n".join(lines)
        assert (config.read_bytes(), config.stat().st_mtime_ns) == before
