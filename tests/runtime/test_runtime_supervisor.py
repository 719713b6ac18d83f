"""The supervisor: crashed actors restart with back-off and are reported; cancellation is not a
crash; a runtime whose actors fail does not pass that off as a clean stop."""

from __future__ import annotations

import asyncio
import itertools
from datetime import UTC, datetime

import pytest

from scada.actors.supervisor import FIRST_BACKOFF_S, MAX_BACKOFF_S, STABLE_S, Supervisor
from scada.clock import LoopClock, run_virtual
from scada.protocol import ChannelHealth, ProblemKind, Severity
from tests.runtime.harness import GARAGE, Rig, run_scenario

START = datetime(2025, 1, 15, 13, 0, tzinfo=UTC)


class Flaky:
    """An actor that crashes ``crashes`` times (after running ``run_s`` each time), then runs
    until cancelled or returns."""

    def __init__(
        self,
        clock: LoopClock,
        crashes: int,
        *,
        run_s: float = 0.0,
        error: BaseException | None = None,
        then_return: bool = False,
    ) -> None:
        self.clock = clock
        self.crashes = crashes
        self.run_s = run_s
        self.error = error
        self.then_return = then_return
        self.starts: list[float] = []

    async def __call__(self) -> None:
        self.starts.append(self.clock.monotonic())
        if self.crashes > 0:
            self.crashes -= 1
            await asyncio.sleep(self.run_s)
            raise self.error if self.error is not None else ValueError("boom")
        if self.then_return:
            return
        await asyncio.Event().wait()


Restart = tuple[str, str, float]


def supervise(
    build: dict[str, tuple[int, float, BaseException | None, bool]], run_for_s: float
) -> tuple[dict[str, list[float]], list[Restart], Supervisor]:
    """Run actors built from ``build`` (name -> crashes, run_s, error, then_return)."""

    async def main() -> tuple[dict[str, list[float]], list[Restart], Supervisor]:
        clock = LoopClock(START)
        restarts: list[Restart] = []
        sup = Supervisor(clock, lambda n, e, b: restarts.append((n, type(e).__name__, b)))
        actors = {}
        for name, (crashes, run_s, error, then_return) in build.items():
            actors[name] = Flaky(clock, crashes, run_s=run_s, error=error, then_return=then_return)
            sup.add(name, actors[name])
        task = asyncio.create_task(sup.run())
        await asyncio.sleep(run_for_s)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        return {n: a.starts for n, a in actors.items()}, restarts, sup

    return run_virtual(main)


def test_crashing_actor_restarts_with_doubling_backoff_up_to_the_cap() -> None:
    starts, restarts, sup = supervise({"a": (10, 0.0, None, False)}, 600)
    gaps = [round(b - a, 6) for a, b in zip(starts["a"], starts["a"][1:], strict=False)]
    expected = [min(FIRST_BACKOFF_S * 2**i, MAX_BACKOFF_S) for i in range(10)]
    assert gaps == expected
    assert [b for _, _, b in restarts] == expected
    assert {(n, e) for n, e, _ in restarts} == {("a", "ValueError")}
    assert sup.records["a"].restarts == 10
    assert sup.records["a"].last_error == "ValueError: boom"


def test_backoff_resets_after_a_stable_run() -> None:
    starts, restarts, _ = supervise({"a": (3, STABLE_S + 1, None, False)}, 4 * STABLE_S)
    assert [b for _, _, b in restarts] == [FIRST_BACKOFF_S] * 3
    assert len(starts["a"]) == 4


def test_one_crashing_actor_leaves_the_others_alone() -> None:
    starts, restarts, _ = supervise(
        {"bad": (5, 0.0, None, False), "good": (0, 0.0, None, False)}, 120
    )
    assert len(starts["good"]) == 1
    assert len(starts["bad"]) == 6
    assert {n for n, _, _ in restarts} == {"bad"}


def test_an_actor_that_returns_is_not_restarted() -> None:
    starts, restarts, _ = supervise({"once": (0, 0.0, None, True)}, 60)
    assert len(starts["once"]) == 1
    assert restarts == []


def test_cancellation_is_not_a_crash() -> None:
    starts, restarts, sup = supervise({"a": (0, 0.0, None, False), "b": (0, 0.0, None, False)}, 30)
    assert restarts == []
    assert all(r.restarts == 0 for r in sup.records.values())
    assert [len(s) for s in starts.values()] == [1, 1]


def test_a_stray_cancelled_error_from_inside_an_actor_is_a_crash() -> None:
    """Nobody cancelled the actor: a CancelledError leaking out of it must not end it silently."""
    starts, restarts, _ = supervise({"a": (1, 1.0, asyncio.CancelledError(), False)}, 30)
    assert len(starts["a"]) == 2
    assert [(n, e) for n, e, _ in restarts] == [("a", "CancelledError")]


def test_a_failing_restart_report_does_not_take_the_supervisor_down() -> None:
    async def main() -> int:
        clock = LoopClock(START)

        def bad_report(name: str, exc: BaseException, backoff: float) -> None:
            raise RuntimeError("report failed")

        sup = Supervisor(clock, bad_report)
        actor = Flaky(clock, 3)
        sup.add("a", actor)
        task = asyncio.create_task(sup.run())
        await asyncio.sleep(30)
        assert not task.done()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        return len(actor.starts)

    assert run_virtual(main) == 4


def test_adding_an_actor_while_running_starts_it() -> None:
    async def main() -> int:
        clock = LoopClock(START)
        sup = Supervisor(clock, lambda *_: None)
        sup.add("first", Flaky(clock, 0))
        task = asyncio.create_task(sup.run())
        await asyncio.sleep(1)
        late = Flaky(clock, 0)
        sup.add("late", late)
        await asyncio.sleep(1)
        with pytest.raises(ValueError, match="already exists"):
            sup.add("late", late)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        return len(late.starts)

    assert run_virtual(main) == 1


# ------------------------------------------------------------------------- in the runtime


def test_crashed_sensor_actor_is_restarted_and_reported() -> None:
    async def scenario(rig: Rig) -> Rig:
        await rig.advance(45)
        rig.sensors["air-adc"].crash = 3
        await rig.advance(90)
        restarted = rig.rec.problems(ProblemKind.ACTOR_RESTARTED)
        assert [p.subject for p in restarted] == ["sensor:air-adc"] * 3
        assert {p.severity for p in restarted} == {Severity.ERROR}
        assert "RuntimeError" in restarted[0].summary
        assert "restarting in 0.5 s" in restarted[0].summary
        assert "restarting in 2.0 s" in restarted[2].summary
        assert rig.restarts() == {"sensor:air-adc": 3}
        # Back at work: the garage is read again and fresh.
        garage = next(c for c in rig.snapshot().channels if c.channel == GARAGE)
        assert garage.health is ChannelHealth.OK
        assert garage.age_s is not None
        assert garage.age_s <= 30
        # The other devices never noticed.
        egauge = rig.probes["egauge"].times()
        gaps = {round(b - a, 6) for a, b in itertools.pairwise(egauge[1:])}
        assert gaps == {1.0}
        return rig

    rig = run_scenario(scenario, allow_restarts=True)
    # Stopping the runtime cancelled every actor: none of that counted as a crash.
    assert rig.restarts() == {"sensor:air-adc": 3}
    assert len(rig.rec.problems(ProblemKind.ACTOR_RESTARTED)) == 3


class Fatal(BaseException):
    """Not an Exception: the supervisor does not catch it (as with SystemExit)."""


def test_runtime_whose_actors_fail_raises_instead_of_stopping_quietly() -> None:
    async def scenario(rig: Rig) -> None:
        await rig.advance(10)

        async def fatal() -> None:
            raise Fatal("unrecoverable")

        rig.runtime.supervisor.add("fatal", fatal)
        await rig.advance(1)
        assert rig.task.done()
        with pytest.raises(BaseExceptionGroup) as info:
            rig.task.result()
        assert info.group_contains(Fatal)

    with pytest.raises(BaseExceptionGroup):
        run_scenario(scenario)
