"""An aggregate report refuses a channel whose last value lies outside its min and max."""

from __future__ import annotations

import pytest

from scada.protocol import ProtocolError, decode, encode
from scada.protocol.examples import example_aggregate


@pytest.mark.parametrize("last", [39.0, 45.0])
def test_a_last_value_outside_min_and_max_is_refused_naming_the_channel(last: float) -> None:
    report = example_aggregate()
    bad = report.channels[1].model_copy(update={"last": last})  # min 41, max 44 -> outside
    frame = encode(report.model_copy(update={"channels": (report.channels[0], bad)}))
    with pytest.raises(ProtocolError, match=rf"channel {bad.channel}: need min <= last <= max"):
        decode(frame)


def test_a_last_value_at_min_or_max_is_accepted() -> None:
    report = example_aggregate()
    c = report.channels[0]
    for last in (c.min, c.max):
        edge = c.model_copy(update={"last": last})
        frame = encode(report.model_copy(update={"channels": (edge,)}))
        assert decode(frame) == report.model_copy(update={"channels": (edge,)})
