"""A walkthrough's :class:`Record`: what its repr says of a long run, and checks judged on it."""

from __future__ import annotations

from sim.walkthroughs.checks import CheckResult, judge
from sim.walkthroughs.record import Record, Sample
from sim.walkthroughs.spec import BossOnly, TankTemp


def _tank_record(*layers: tuple[float, ...]) -> Record:
    record = Record(zone_names=("garage",), setpoints=(20.0,), band_c=1.0, status_period_s=300)
    record.samples.extend(
        Sample(
            t=60.0 * i,
            zones=(20.0,),
            tank=tank,
            pipes=(),
            outdoor_c=-5.0,
            electric_j=0.0,
            heat_pump_w=0.0,
            price=40.0,
            statuses=0,
            statuses_atn=0,
        )
        for i, tank in enumerate(layers)
    )
    return record


def test_the_repr_of_a_long_record_counts_its_samples_instead_of_listing_them() -> None:
    record = _tank_record(*[(60.0, 55.0, 50.0, 45.0)] * 40_320)  # 28 days, a sample a minute
    text = repr(record)
    assert text == ("Record(zones=('garage',), 40320 samples, 0 problems, 0 modes, 0 commands)")


def test_the_tank_check_reads_the_top_the_hottest_and_the_coldest_layer() -> None:
    record = _tank_record((60.0, 50.0, 40.0, 30.0), (62.0, 45.0, 20.0, 1.0))
    usable = TankTemp(check="tank_temp", min_c=55, max_c=80)
    assert judge(usable, 0, record, 120.0) == CheckResult(
        label="tank top at or above 55 °C, hottest layer at or below 80 °C",
        ok=True,
        detail="top 60.0..62.0 °C; hottest layer 60.0..62.0 °C",
    )
    not_frozen = TankTemp(check="tank_temp", coldest_min_c=5)
    assert judge(not_frozen, 0, record, 120.0) == CheckResult(
        label="tank coldest layer at or above 5 °C", ok=False, detail="coldest layer 1.0..30.0 °C"
    )


def test_boss_only_fails_when_no_command_was_carried_out() -> None:
    assert judge(BossOnly(check="boss_only"), 0, _tank_record(), 60.0) == CheckResult(
        label="every relay command carried out came from the boss",
        ok=False,
        detail="no relay command was carried out: nothing to judge",
    )
