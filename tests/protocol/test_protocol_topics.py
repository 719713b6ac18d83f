"""Uplink topics: exact round trips (dashes and dots intact) and strict parsing."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scada.protocol import ProtocolError, TopicParts, parse_topic, topic, topic_filter
from scada.protocol.base import NAME_PATTERN

SCADA = "hw1.isone.me.versant.keene.beech.scada"


def test_topic_keeps_dots_and_dashes() -> None:
    # The original turned every '.' into '-' and back, corrupting names with a '-' (defect 20).
    t = topic("dw1.isone.nh.orange-1.scada", "dw1.atn", "contract.heartbeat")
    assert t == "gw/dw1.isone.nh.orange-1.scada/to/dw1.atn/contract.heartbeat"
    assert parse_topic(t) == ("dw1.isone.nh.orange-1.scada", "dw1.atn", "contract.heartbeat")
    parts = parse_topic(t)
    assert isinstance(parts, TopicParts)
    assert parts.message_type == "contract.heartbeat"


def test_topic_filter() -> None:
    assert topic_filter(dst=SCADA) == f"gw/+/to/{SCADA}/#"
    assert topic_filter(dst=SCADA, src="admin") == f"gw/admin/to/{SCADA}/#"
    with pytest.raises(ProtocolError):
        topic_filter(dst="#")


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "gw",
        "gw/a/to/b",
        "gw/a/to/b/status/extra",
        "gw/a/from/b/status",
        "xx/a/to/b/status",
        "gw//to/b/status",
        "gw/a/to/b/",
        "gw/+/to/b/status",
        "gw/a/to/#",
        "gw/a/to/b/#",
        "gw/A/to/b/status",
        "gw/a b/to/b/status",
        "gw/a/to/b/st\x00atus",
        "gw/a./to/b/status",
        "gw/-a/to/b/status",
        "gw-a-to-b-status",
        "/gw/a/to/b/status",
        "gw/" + "a" * 129 + "/to/b/status",
    ],
)
def test_parse_topic_refuses_bad_shapes(bad: str) -> None:
    with pytest.raises(ProtocolError) as info:
        parse_topic(bad)
    assert info.value.where.startswith("topic ")


def test_parse_topic_error_message() -> None:
    with pytest.raises(ProtocolError) as info:
        parse_topic("gw/+/to/b/status")
    assert str(info.value) == (
        "topic gw/+/to/b/status: source alias '+' is not a wire name "
        "(lowercase letters and digits joined by '.', '-' or '_')"
    )
    with pytest.raises(ProtocolError, match="expected gw/<src>/to/<dst>/<message-type>"):
        parse_topic("a/b")
    with pytest.raises(ProtocolError, match="must be a string"):
        parse_topic(b"gw/a/to/b/c")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "args", [("a/b", "c", "d"), ("a", "+", "d"), ("a", "b", "#"), ("", "b", "c"), ("a", "b", "C")]
)
def test_topic_refuses_bad_levels(args: tuple[str, str, str]) -> None:
    with pytest.raises(ProtocolError):
        topic(*args)


# st.from_regex is far too slow here; words joined by one separator cover the same ground.
names = st.tuples(
    st.lists(st.text("abz019", min_size=1, max_size=5), min_size=1, max_size=4),
    st.sampled_from(".-_"),
).map(lambda case: case[1].join(case[0]))


@settings(max_examples=300, deadline=None)
@given(names, names, names)
def test_topic_round_trips(src: str, dst: str, message_type: str) -> None:
    assert re.fullmatch(NAME_PATTERN, src)
    assert parse_topic(topic(src, dst, message_type)) == (src, dst, message_type)


@settings(max_examples=1_500, deadline=None)
@given(
    st.text(max_size=30)
    | st.lists(st.sampled_from(["gw", "to", "a.b", "x-y", "+", "#", "", "A", "é"]), max_size=7).map(
        "/".join
    )
)
def test_fuzz_parse_topic(text: str) -> None:
    try:
        src, dst, message_type = parse_topic(text)
    except ProtocolError:
        return
    assert topic(src, dst, message_type) == text
