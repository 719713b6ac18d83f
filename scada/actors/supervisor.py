"""Runs the runtime's actors as named tasks in one TaskGroup and restarts any that crash.

A crashed actor is logged with its traceback, reported through ``on_restart`` (which the
runtime turns into an ``actor_restarted`` problem event) and restarted after a back-off that
doubles from :data:`FIRST_BACKOFF_S` up to :data:`MAX_BACKOFF_S`; an actor that then runs
cleanly for :data:`STABLE_S` has its back-off reset. Cancellation is never treated as a crash.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from scada.clock import Clock

log = logging.getLogger(__name__)

FIRST_BACKOFF_S = 0.5
MAX_BACKOFF_S = 60.0
STABLE_S = 300.0

ActorFn = Callable[[], Awaitable[None]]


@dataclass(slots=True)
class ActorRecord:
    name: str
    restarts: int = 0
    last_error: str | None = None


class Supervisor:
    """Owns the actors. ``run()`` returns when every actor has returned or on cancellation."""

    def __init__(
        self, clock: Clock, on_restart: Callable[[str, BaseException, float], None]
    ) -> None:
        self._clock = clock
        self._on_restart = on_restart
        self._actors: dict[str, ActorFn] = {}
        self.records: dict[str, ActorRecord] = {}
        self._tg: asyncio.TaskGroup | None = None

    def add(self, name: str, fn: ActorFn) -> None:
        """Register an actor; if the supervisor is already running, start it now."""
        if name in self._actors:
            raise ValueError(f"actor {name!r} already exists")
        self._actors[name] = fn
        self.records[name] = ActorRecord(name)
        if self._tg is not None:
            self._tg.create_task(self._keep(name, fn), name=name)

    async def run(self) -> None:
        async with asyncio.TaskGroup() as tg:
            self._tg = tg
            for name, fn in self._actors.items():
                tg.create_task(self._keep(name, fn), name=name)
        self._tg = None

    async def _keep(self, name: str, fn: ActorFn) -> None:
        backoff = FIRST_BACKOFF_S
        rec = self.records[name]
        while True:
            started = self._clock.monotonic()
            crash: BaseException
            try:
                await fn()
            except asyncio.CancelledError as exc:
                task = asyncio.current_task()
                if task is None or task.cancelling():
                    raise  # we are being stopped: not a crash
                # Nobody cancelled us: a CancelledError leaking out of the actor (a cancelled
                # future it awaited). Letting it through would end the actor silently forever.
                crash = exc
                backoff = self._after_crash(started, backoff)
                log.exception("actor %s crashed; restarting in %.1f s", name, backoff)
            except Exception as exc:
                crash = exc
                backoff = self._after_crash(started, backoff)
                log.exception("actor %s crashed; restarting in %.1f s", name, backoff)
            else:
                return
            rec.restarts += 1
            rec.last_error = f"{type(crash).__name__}: {crash}"
            try:
                self._on_restart(name, crash, backoff)
            except Exception:
                log.exception("reporting the crash of actor %s failed", name)
            await self._clock.sleep(backoff)
            backoff = min(backoff * 2, MAX_BACKOFF_S)

    def _after_crash(self, started: float, backoff_s: float) -> float:
        """The back-off before a restart: reset to the first after a stable run."""
        return FIRST_BACKOFF_S if self._clock.monotonic() - started > STABLE_S else backoff_s
