"""Talking to systemd without a dependency: sd_notify, the watchdog, and journal-friendly logs.

* :class:`Notifier` sends ``READY=1``, ``WATCHDOG=1``, ``STOPPING=1`` and ``STATUS=…`` as one
  datagram each to ``$NOTIFY_SOCKET`` (a path, or ``@name`` in the abstract namespace), as
  ``sd_notify(3)`` does. A send that fails is logged once and never raises.
* :meth:`Notifier.run` is an actor of the runtime: it says ``READY=1`` once the runtime serves,
  then ``WATCHDOG=1`` every half ``WatchdogSec`` from the event loop itself — so a stuck loop
  stops the pings and systemd restarts the service.
* :func:`journal_formatter` formats log records for journald: no timestamp (the journal has its
  own) and a ``<N>`` syslog priority in front of every line, so ``journalctl -p warning`` works.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import Callable, Mapping
from typing import Final

log = logging.getLogger("scada.systemd")

#: syslog priorities (``<N>`` prefixes journald understands) by logging level.
PRIORITY: Final = {
    logging.CRITICAL: 2,
    logging.ERROR: 3,
    logging.WARNING: 4,
    logging.INFO: 6,
    logging.DEBUG: 7,
}


def watchdog_period_s(env: Mapping[str, str] | None = None, pid: int | None = None) -> float | None:
    """Half of systemd's ``WatchdogSec`` (from ``$WATCHDOG_USEC``), or None when no watchdog
    is asked of this process (``$WATCHDOG_PID`` names another one, or the value is bad)."""
    environ = os.environ if env is None else env
    usec = environ.get("WATCHDOG_USEC", "")
    owner = environ.get("WATCHDOG_PID", "")
    if owner and owner != str(os.getpid() if pid is None else pid):
        return None
    try:
        value = int(usec)
    except ValueError:
        return None
    return value / 1e6 / 2 if value > 0 else None


class Notifier:
    """``sd_notify`` to ``address`` (``$NOTIFY_SOCKET``)."""

    def __init__(self, address: str, *, watchdog_s: float | None = None) -> None:
        self.address = address
        self.watchdog_s = watchdog_s
        self.sent = 0
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
        self._failed = False
        self._stopping = False

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Notifier | None:
        """A notifier when systemd gave us a ``$NOTIFY_SOCKET``, else None."""
        environ = os.environ if env is None else env
        address = environ.get("NOTIFY_SOCKET", "")
        if not address or not (address.startswith(("/", "@"))):
            return None
        return cls(address, watchdog_s=watchdog_period_s(environ))

    def send(self, *fields: str) -> bool:
        """Send ``KEY=value`` lines as one datagram; False (logged once) when it fails."""
        target = "\0" + self.address[1:] if self.address.startswith("@") else self.address
        data = "\n".join(f.replace("\n", " ") for f in fields).encode()
        try:
            self._sock.sendto(data, socket.MSG_DONTWAIT, target)
        except OSError as e:
            if not self._failed:
                log.warning("cannot notify systemd on %s: %s", self.address, e)
                self._failed = True
            return False
        self._failed = False
        self.sent += 1
        return True

    def ready(self, status: str) -> bool:
        return self.send("READY=1", f"STATUS={status}")

    def status(self, status: str) -> bool:
        return self.send(f"STATUS={status}")

    def watchdog(self) -> bool:
        return self.send("WATCHDOG=1")

    def stopping(self, status: str = "stopping") -> bool:
        """``STOPPING=1`` (once: a second call does nothing)."""
        if self._stopping:
            return False
        self._stopping = True
        return self.send("STOPPING=1", f"STATUS={status}")

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._sock.close()

    async def run(self, status: Callable[[], str]) -> None:
        """The runtime's ``systemd`` actor: ``READY=1`` with ``status()``, then a watchdog ping
        every half ``WatchdogSec`` until cancelled. Pings come from this event loop, so a loop
        that stops turning stops them."""
        self.ready(status())
        if self.watchdog_s is None:
            await asyncio.Event().wait()  # nothing more to say; stay until cancelled
        period = self.watchdog_s
        assert period is not None
        while True:
            self.watchdog()
            await asyncio.sleep(period)


class JournalFormatter(logging.Formatter):
    """``<N>name: message`` for every line of a record (a traceback's lines included)."""

    def __init__(self) -> None:
        super().__init__("%(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        prefix = f"<{priority(record.levelno)}>"
        return "\n".join(prefix + line for line in text.splitlines() or [""])


def priority(levelno: int) -> int:
    """The syslog priority of a logging level (custom levels round down to the next one)."""
    for level in sorted(PRIORITY, reverse=True):
        if levelno >= level:
            return PRIORITY[level]
    return PRIORITY[logging.DEBUG]


def under_journal(env: Mapping[str, str] | None = None, fd: int = 2) -> bool:
    """True when ``fd`` (stderr) is the journal stream systemd connected (``$JOURNAL_STREAM``
    names its device and inode, so a redirected stderr does not count)."""
    environ = os.environ if env is None else env
    value = environ.get("JOURNAL_STREAM", "")
    dev, sep, ino = value.partition(":")
    if not sep:
        return False
    try:
        st = os.fstat(fd)
        return (st.st_dev, st.st_ino) == (int(dev), int(ino))
    except (OSError, ValueError):
        return False
