"""A walkthrough's :class:`Record`: what its repr says of a long run."""

from __future__ import annotations

from sim.walkthroughs.record import Record, Sample


def test_the_repr_of_a_long_record_counts_its_samples_instead_of_listing_them() -> None:
    record = Record(zone_names=("garage",), setpoints=(20.0,), band_c=1.0, status_period_s=300)
    sample = Sample(
        t=0.0,
        zones=(20.0,),
        tank=(60.0, 55.0, 50.0, 45.0),
        pipes=(),
        outdoor_c=-5.0,
        electric_j=0.0,
        heat_pump_w=0.0,
        price=40.0,
        statuses=0,
        statuses_atn=0,
    )
    record.samples.extend([sample] * 40_320)  # 28 days, a sample a minute
    text = repr(record)
    assert text == ("Record(zones=('garage',), 40320 samples, 0 problems, 0 modes, 0 commands)")
