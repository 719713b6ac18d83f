"""Stale and broken data: out of range, a failing device, a dead probe, a silent channel."""

from __future__ import annotations

import itertools
from datetime import timedelta

from scada.actors.channels import STALE_AFTER_PERIODS
from scada.actors.sensors import MAX_RETRY_S
from scada.drivers import DriverError
from scada.protocol import (
    ChannelHealth,
    DeviceHealth,
    DeviceHealthState,
    EventKind,
    ProblemEvent,
    ProblemKind,
    Reading,
    Severity,
)
from scada.protocol.snapshot import ChannelSnapshot
from tests.runtime.harness import GARAGE, TANK_LAYERS, Rig, house_layout, run_scenario

ADC1 = "tank-adc-1"
ADC1_CHANNELS = TANK_LAYERS[:4]


def channel(rig: Rig, name: str) -> ChannelSnapshot:
    return next(c for c in rig.snapshot().channels if c.channel == name)


def device(rig: Rig, name: str) -> DeviceHealth:
    return next(d for d in rig.snapshot().devices if d.device == name)


# ------------------------------------------------------------------------ out of range


def test_out_of_range_value_is_flagged_reported_once_and_never_published() -> None:
    async def scenario(rig: Rig) -> None:
        await rig.advance(40)
        good = rig.bench.values[GARAGE]
        mark = rig.rec.mark()
        rig.bench.values[GARAGE] = 99.0  # plausible range is -40..50 °C
        await rig.advance(120)
        cs = channel(rig, GARAGE)
        assert cs.health is ChannelHealth.OUT_OF_RANGE
        assert cs.reason is not None
        assert "99" in cs.reason
        assert cs.value == good  # the last good value stays for display, flagged
        after = rig.rec.events[mark:]
        problems = [
            e.payload
            for e in after
            if isinstance(e.payload, ProblemEvent) and e.payload.subject == GARAGE
        ]
        assert [p.kind for p in problems] == [ProblemKind.SENSOR_OUT_OF_RANGE]
        assert not [
            e for e in after if isinstance(e.payload, Reading) and e.payload.channel == GARAGE
        ]
        # Another implausible value is the same fault, not a new report.
        rig.bench.values[GARAGE] = 120.0
        await rig.advance(60)
        assert len(rig.rec.problems(ProblemKind.SENSOR_OUT_OF_RANGE, GARAGE)) == 1
        # Back in range: one recovery, readings again.
        mark = rig.rec.mark()
        rig.bench.values[GARAGE] = 17.5
        await rig.advance(31)
        assert channel(rig, GARAGE).health is ChannelHealth.OK
        assert channel(rig, GARAGE).value == 17.5
        assert [p.kind for p in rig.rec.problems(subject=GARAGE)] == [
            ProblemKind.SENSOR_OUT_OF_RANGE,
            ProblemKind.SENSOR_RECOVERED,
        ]
        assert [r.value for r in rig.rec.readings(GARAGE)[-1:]] == [17.5]

    run_scenario(scenario)


def test_out_of_range_from_the_first_reading_has_no_value() -> None:
    async def scenario(rig: Rig) -> None:
        await rig.advance(10)
        cs = channel(rig, GARAGE)
        assert cs.health is ChannelHealth.OUT_OF_RANGE
        assert cs.value is None
        assert cs.age_s is None
        assert not rig.rec.readings(GARAGE)
        assert len(rig.rec.problems(ProblemKind.SENSOR_OUT_OF_RANGE, GARAGE)) == 1

    run_scenario(scenario, values={GARAGE: -80.0})


def test_nan_and_infinity_are_out_of_range() -> None:
    async def scenario(rig: Rig) -> None:
        await rig.advance(10)
        for name in ("tank-temp0", "tank-temp1"):
            assert channel(rig, name).health is ChannelHealth.OUT_OF_RANGE
            assert not rig.rec.readings(name)
        assert not rig.restarts()

    run_scenario(scenario, values={"tank-temp0": float("nan"), "tank-temp1": float("inf")})


# ----------------------------------------------------------------------- failing device


def test_failing_device_is_reported_once_retried_with_backoff_and_recovers_once() -> None:
    async def scenario(rig: Rig) -> None:
        await rig.advance(20)
        mark = rig.rec.mark()
        failed_at = rig.clock.monotonic()
        rig.fail_device(ADC1, "bus timeout")
        await rig.advance(300)

        dev = device(rig, ADC1)
        assert dev.state is DeviceHealthState.FAILING
        assert dev.failing_since is not None
        assert (dev.failing_since - rig.start).total_seconds() >= 20
        assert dev.last_error is not None
        assert "bus timeout" in dev.last_error
        for name in ADC1_CHANNELS:
            assert channel(rig, name).health is ChannelHealth.DEVICE_FAILING
        others = [c for c in rig.snapshot().channels if c.channel not in ADC1_CHANNELS]
        assert {c.health for c in others} == {ChannelHealth.OK}

        after = rig.rec.events[mark:]
        failing = rig.rec.problems(ProblemKind.DEVICE_FAILING)
        assert [(p.subject, p.severity) for p in failing] == [(ADC1, Severity.ERROR)]
        health_events = [
            e.payload
            for e in after
            if e.kind is EventKind.DEVICE
            and isinstance(e.payload, DeviceHealth)
            and e.payload.device == ADC1
        ]
        assert [h.state for h in health_events] == [DeviceHealthState.FAILING]
        # One report per fault, not one per channel.
        assert not [p for p in rig.rec.problems() if p.subject in ADC1_CHANNELS]
        for name in ADC1_CHANNELS:
            assert not [
                r for r in rig.rec.readings(name) if r.read_at > rig.start + timedelta(seconds=20)
            ]

        # Retries back off: 1, 2, 4 ... seconds, capped at MAX_RETRY_S.
        tries = [t for t in rig.probes[ADC1].times() if t >= failed_at]
        gaps = [round(b - a, 6) for a, b in itertools.pairwise(tries[1:])]
        assert gaps[:6] == [1.0, 2.0, 4.0, 8.0, 16.0, 32.0]
        assert set(gaps[6:]) == {MAX_RETRY_S}

        rig.bench.heal(ADC1)
        mark = rig.rec.mark()
        await rig.advance(MAX_RETRY_S + 30)
        assert device(rig, ADC1).state is DeviceHealthState.OK
        assert device(rig, ADC1).failing_since is None
        for name in ADC1_CHANNELS:
            assert channel(rig, name).health is ChannelHealth.OK
            assert rig.rec.readings(name)[-1].read_at > rig.now() - timedelta(seconds=5.01)
        after = rig.rec.events[mark:]
        recovered = rig.rec.problems(ProblemKind.DEVICE_RECOVERED)
        assert [p.subject for p in recovered] == [ADC1]
        assert [
            e.payload.state
            for e in after
            if isinstance(e.payload, DeviceHealth) and e.payload.device == ADC1
        ] == [DeviceHealthState.OK]
        # The device's recovery says it for its channels too.
        assert not [p for p in rig.rec.problems() if p.subject in ADC1_CHANNELS]
        # Readings are back on the 5 s schedule.
        times = [r.read_at for r in rig.rec.readings(ADC1_CHANNELS[0])][-4:]
        gaps_s = {(b - a).total_seconds() for a, b in itertools.pairwise(times)}
        assert gaps_s == {5.0}

    run_scenario(scenario)


def test_device_missing_at_boot_does_not_stop_the_scada() -> None:
    async def scenario(rig: Rig) -> None:
        await rig.advance(30)
        assert device(rig, ADC1).state is DeviceHealthState.FAILING
        for name in ADC1_CHANNELS:
            assert channel(rig, name).health is ChannelHealth.DEVICE_FAILING
        assert rig.rec.readings("tank-temp4")
        assert len(rig.rec.problems(ProblemKind.DEVICE_FAILING, ADC1)) == 1
        rig.bench.heal(ADC1)
        await rig.advance(MAX_RETRY_S + 5)
        assert device(rig, ADC1).state is DeviceHealthState.OK
        for name in ADC1_CHANNELS:
            assert channel(rig, name).health is ChannelHealth.OK
        assert len(rig.rec.problems(ProblemKind.DEVICE_RECOVERED, ADC1)) == 1

    run_scenario(scenario, prepare=lambda d: d.bench.fail(ADC1) if d.bench else None)


def test_dead_probe_is_reported_and_the_rest_of_its_device_keeps_reading() -> None:
    from scada.drivers import DeviceGarbageError

    async def scenario(rig: Rig) -> None:
        await rig.advance(20)
        rig.bench.channel_faults["tank-temp2"] = DeviceGarbageError(ADC1, "85 °C power-on value")
        await rig.advance(30)
        cs = channel(rig, "tank-temp2")
        assert cs.health is not ChannelHealth.OK
        assert cs.reason is not None
        assert "85" in cs.reason
        assert device(rig, ADC1).state is DeviceHealthState.OK
        for name in ("tank-temp0", "tank-temp1", "tank-temp3"):
            assert channel(rig, name).health is ChannelHealth.OK
        # A broken sensor is reported (DESIGN: problem reports when sensors break), once.
        broken = rig.rec.problems(subject="tank-temp2")
        assert len(broken) == 1
        assert broken[0].kind is not ProblemKind.SENSOR_RECOVERED
        rig.bench.channel_faults.pop("tank-temp2")
        await rig.advance(10)
        assert channel(rig, "tank-temp2").health is ChannelHealth.OK
        assert [p.kind for p in rig.rec.problems(subject="tank-temp2")][-1] is (
            ProblemKind.SENSOR_RECOVERED
        )

    run_scenario(scenario)


def test_a_device_leaving_out_a_channel_marks_only_that_channel() -> None:
    async def scenario(rig: Rig) -> None:
        await rig.advance(20)
        rig.sensors[ADC1].omit = {"tank-temp1"}
        await rig.advance(20)
        assert channel(rig, "tank-temp1").health is ChannelHealth.DEVICE_FAILING
        assert channel(rig, "tank-temp0").health is ChannelHealth.OK
        assert len(rig.rec.problems(subject="tank-temp1")) == 1

    run_scenario(scenario)


# ------------------------------------------------------------------------------ stale


def test_channel_silent_for_more_than_two_periods_goes_stale() -> None:
    """air-adc hangs (no error, no answer): garage-temp (30 s) is stale after 2.1 periods,
    well before the device's guard timeout calls the device failing."""
    period_s = house_layout("dw1.isone.nh.orange.1").channel(GARAGE).sample_period_s
    limit_s = STALE_AFTER_PERIODS * period_s

    async def scenario(rig: Rig) -> None:
        await rig.advance(45)
        rig.sensors["air-adc"].hang = True
        last = rig.rec.readings(GARAGE)[-1].read_at
        await rig.advance_to(last + timedelta(seconds=limit_s - 0.5))
        assert channel(rig, GARAGE).health is ChannelHealth.OK
        assert not rig.rec.problems(subject=GARAGE)
        await rig.advance(2.0)
        cs = channel(rig, GARAGE)
        assert cs.health is ChannelHealth.STALE
        assert cs.value is not None  # last value kept for display, flagged stale
        assert cs.age_s is not None
        assert cs.age_s > limit_s
        stale = rig.rec.problems(subject=GARAGE)
        assert [p.kind for p in stale] == [ProblemKind.SENSOR_STALE]
        assert rig.controller.house.book.fresh(GARAGE) is None
        # Then the guard timeout: the device is failing (one report), the channel with it.
        await rig.advance(60)
        assert device(rig, "air-adc").state is DeviceHealthState.FAILING
        assert len(rig.rec.problems(ProblemKind.DEVICE_FAILING, "air-adc")) == 1
        rig.sensors["air-adc"].hang = False
        await rig.advance(MAX_RETRY_S + 35)
        assert channel(rig, GARAGE).health is ChannelHealth.OK
        assert device(rig, "air-adc").state is DeviceHealthState.OK

    run_scenario(scenario)


def test_driver_errors_become_failing_devices_not_crashes() -> None:
    async def scenario(rig: Rig) -> None:
        rig.bench.device_faults["egauge"] = DriverError("egauge", "modbus exception 4")
        await rig.advance(10)
        assert device(rig, "egauge").state is DeviceHealthState.FAILING
        assert not rig.restarts()

    run_scenario(scenario)
