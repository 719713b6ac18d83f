"""Filling a walkthrough's :class:`~sim.walkthroughs.record.Record` while the run goes.

:class:`Recorder` samples the house every :data:`~sim.walkthroughs.record.SAMPLE_S` of virtual
time and takes the runtime's events from a hub subscription (:func:`subscribe`); both write the
one record, in the order they happen on the loop. The sampler ranks as an observer, after
everything else due at the same instant, so a sample sees what that instant did; a later sample
at the same instant replaces the earlier one (the last word wins) and one earlier than the last
is dropped, so the samples' times never go back. Temperatures are the physics' true ones, not
what the sensors said.

What is worth telling (problems, mode changes, the end of a hold, freeze protection taking or
letting go of a relay) goes to ``say`` with its time in seconds into the run. Other interlock
overrides are recorded but not told: they come and go with every refused command.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from scada.clock import RANK_OBSERVERS, TIMER_RANK, LoopClock
from scada.control import Interlock
from scada.hub import Event, EventHub, Subscription
from scada.protocol import (
    ActuatorSnapshot,
    EventKind,
    HoldEnded,
    ModeChanged,
    ProblemEvent,
    ProblemKind,
    Status,
)
from scada.runtime import Runtime
from sim.atn import Entry, SimulatedAtn
from sim.physics_source import PhysicsSource
from sim.walkthroughs.record import SAMPLE_S, CommandRecord, Record, Sample

EVENT_QUEUE = 200_000
_QUIET_PROBLEMS = {ProblemKind.INTERLOCK_OVERRIDE}
"""Problems recorded but not narrated (they come and go with every refused command)."""
_NARRATED_INTERLOCKS = {Interlock.FREEZE_PIPE.value, Interlock.FREEZE_TANK.value}
"""Overrides narrated all the same: freeze protection is rare and is what an operator asks about."""


def subscribe(hub: EventHub) -> Subscription:
    """The subscription a :class:`Recorder` takes its events from: the kinds a record is made
    of, with room for a whole run's worth (:data:`EVENT_QUEUE`) so none is dropped."""
    return hub.subscribe(
        "walkthrough",
        maxsize=EVENT_QUEUE,
        kinds=frozenset({EventKind.PROBLEM, EventKind.MODE, EventKind.ACTUATOR, EventKind.HOLD}),
    )


class Recorder:
    """Writes one run's samples and events into ``record`` (see the module docstring).

    ``start`` is the run's start (``t`` = 0), ``end_s`` its length in seconds; ``price`` gives
    $/MWh at an instant; ``progress`` is told (seconds done, seconds in all) at every sample.
    """

    def __init__(
        self,
        record: Record,
        *,
        start: datetime,
        end_s: float,
        clock: LoopClock,
        physics: PhysicsSource,
        runtime: Runtime,
        atn: SimulatedAtn | None,
        price: Callable[[datetime], float],
        progress: Callable[[float, float], None] | None,
        say: Callable[[str, float], None],
    ) -> None:
        self.record = record
        self.start = start
        self.end_s = end_s
        self.clock = clock
        self.physics = physics
        self.runtime = runtime
        self.price = price
        self.progress = progress
        self.say = say
        self._results_seen: set[str] = set()
        self._atn_slots: set[datetime] = set()
        if atn is not None:
            atn.log.listeners.append(self._atn_heard)

    # ------------------------------------------------------------------ sampling
    async def sampler(self) -> None:
        """Sample now and every :data:`~sim.walkthroughs.record.SAMPLE_S`, until cancelled."""
        TIMER_RANK.set(RANK_OBSERVERS)
        while True:
            self.sample()
            await self.clock.sleep(SAMPLE_S)

    def sample(self, at_s: float | None = None) -> None:
        """Sample the house now, as if ``at_s`` seconds into the run when given."""
        now = self.clock.now()
        t = (now - self.start).total_seconds() if at_s is None else at_s
        samples = self.record.samples
        if samples and samples[-1].t > t:
            return
        if samples and samples[-1].t == t:
            samples.pop()  # the last word at an instant: what is due then has happened
        model = self.physics.model
        zones = model.zone_temps()
        temps = model.temperatures() if self.record.pipe_names else {}
        samples.append(
            Sample(
                t=t,
                zones=tuple(zones.get(z, float("nan")) for z in self.record.zone_names),
                tank=tuple(model.tank.temps),
                pipes=tuple(temps.get(p, float("nan")) for p in self.record.pipe_names),
                outdoor_c=model.outdoor_c(),
                electric_j=model.energy().electric_in_j,
                heat_pump_w=model.heat_pump_state().electric_w,
                price=self.price(now),
                statuses=self.runtime.reporter.seq,
                statuses_atn=len(self._atn_slots),
            )
        )
        self._interlocks(t)
        if self.progress is not None:
            self.progress(t, self.end_s)

    def _interlocks(self, t: float) -> None:
        """Note which interlock overrides each relay's boss now (an override's start comes with
        its problem event; its end only shows here, at the next sample)."""
        for node, relay in self.runtime.controller.relays.items():
            series = self.record.interlocks.get(node)
            was = series[-1][1] if series else None
            if self.record.interlock_seen(t, node, relay.overridden_by) and (
                was in _NARRATED_INTERLOCKS
            ):
                self.say(f"{was} interlock lets go of {node}", t)

    def _atn_heard(self, entry: Entry) -> None:
        if isinstance(entry.message, Status):
            # Distinct 5-minute slots: a status sent again after a lost ack counts once.
            self._atn_slots.add(entry.message.slot_start)

    # -------------------------------------------------------------------- events
    async def events(self, sub: Subscription) -> None:
        """Record every event of ``sub`` as it comes, until cancelled or ``sub`` closes."""
        async for ev in sub:
            self._event(ev)

    async def drain(self, sub: Subscription) -> None:
        """Take the events still queued once the runtime has stopped."""
        while sub.backlog:
            ev = await sub.get()
            if ev is None:
                return
            self._event(ev)

    def _event(self, ev: Event) -> None:
        t = (ev.at - self.start).total_seconds()
        p = ev.payload
        if isinstance(p, ProblemEvent):
            self.record.problems.append((t, p))
            if p.kind not in _QUIET_PROBLEMS:
                self.say(f"problem {p.kind.value}: {p.summary}", t)
            elif p.kind is ProblemKind.INTERLOCK_OVERRIDE:
                self._override(t, p)
        elif isinstance(p, ModeChanged):
            self.record.mode_changed(t, p.mode)
            self.say(f"mode {p.previous.value} -> {p.mode.value}: {p.reason}", t)
        elif isinstance(p, HoldEnded):
            resumed = p.resumed_mode.value
            self.say(f"hold by {p.operator} {p.reason.value}; {resumed} control resumes", t)
        elif isinstance(p, ActuatorSnapshot):
            self._actuator(t, p)

    def _override(self, t: float, problem: ProblemEvent) -> None:
        relay = self.runtime.controller.relays.get(problem.subject)
        interlock = relay.overridden_by if relay is not None else None
        if interlock is None:
            return
        self.record.interlock_seen(t, problem.subject, interlock)
        if interlock in _NARRATED_INTERLOCKS:
            self.say(f"{interlock} interlock overrides {problem.subject}: {problem.summary}", t)

    def _actuator(self, t: float, snap: ActuatorSnapshot) -> None:
        if snap.state is not None:
            self.record.relay_seen(t, snap.node, snap.state)
        result, cmd = snap.last_result, snap.last_command
        if result is None or cmd is None or result.command_id != cmd.id:
            return
        seen = self._results_seen
        if result.command_id in seen:
            return
        seen.add(result.command_id)
        if len(seen) > 10_000:
            seen.clear()
            seen.add(result.command_id)
        self.record.commands.append(
            CommandRecord(t, snap.node, cmd.source, result.outcome, snap.boss)
        )
