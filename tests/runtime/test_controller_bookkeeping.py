"""Which changes of the mode state a control pass may ignore: the contract's heartbeat
bookkeeping alone (``heartbeat_only`` in :mod:`scada.actors.pass_schedule`).

The controller skips the pass an ATN heartbeat would otherwise cost, trusting that nothing else
changed. It compares field by field, so a field added to ``Contract`` or ``ModeState`` later
must be seen here: every field is changed in turn, and only the bookkeeping may pass unseen.
"""

from __future__ import annotations

import dataclasses
import enum
from datetime import UTC, datetime, timedelta
from typing import Any

from scada.actors.pass_schedule import decision_view, heartbeat_only
from scada.control.contract import Contract
from scada.control.hold import Hold
from scada.control.modes import ModeState, Phase
from scada.protocol.enums import ContractStatus, Side

T = datetime(2024, 1, 8, 5, 0, tzinfo=UTC)
BOOKKEEPING = {"last_heard", "atn_digit", "my_digit", "echo_misses"}

CONTRACT = Contract(
    contract_id="c-1",
    start=T,
    duration_s=3600.0,
    status=ContractStatus.ACTIVE,
    status_since=T,
    last_heard=T,
    cause="accepted",
    atn_digit=3,
    my_digit=4,
    echo_misses=0,
    terminated_by=None,
)
STATE = ModeState(
    phase=Phase.REMOTE, since=T, hold=None, contract=CONTRACT, link_up=True, link_since=T
)
HOLD = Hold(
    operator="alice",
    taken_at=T,
    until=T + timedelta(hours=1),
    duration_s=3600.0,
    requested_s=3600.0,
)


def _other(value: object) -> object:
    """A value of the same kind as ``value`` but different."""
    if isinstance(value, bool):
        return not value
    if isinstance(value, enum.Enum):
        return next(m for m in type(value) if m is not value)
    if isinstance(value, datetime):
        return value + timedelta(seconds=1)
    if isinstance(value, int | float):
        return value + 1
    if isinstance(value, str):
        return value + "x"
    raise AssertionError(f"no other value for {value!r}")


def _change(name: str, value: object) -> dict[str, Any]:
    return {name: value}


def test_only_the_heartbeat_bookkeeping_of_the_contract_goes_unseen() -> None:
    for f in dataclasses.fields(Contract):
        value = getattr(CONTRACT, f.name)
        changed = Side.ATN if value is None else _other(value)
        after = dataclasses.replace(
            STATE, contract=dataclasses.replace(CONTRACT, **_change(f.name, changed))
        )
        assert heartbeat_only(STATE, after) is (f.name in BOOKKEEPING), f.name


def test_every_change_of_the_mode_state_itself_is_seen() -> None:
    for f in dataclasses.fields(ModeState):
        if f.name == "contract":
            continue
        value = getattr(STATE, f.name)
        changed = HOLD if value is None else _other(value)
        after = dataclasses.replace(STATE, **_change(f.name, changed))
        assert not heartbeat_only(STATE, after), f.name


def test_a_new_or_lost_contract_is_seen() -> None:
    other = dataclasses.replace(CONTRACT, contract_id="c-2")
    assert not heartbeat_only(STATE, dataclasses.replace(STATE, contract=other))
    assert not heartbeat_only(STATE, dataclasses.replace(STATE, contract=None))
    assert not heartbeat_only(dataclasses.replace(STATE, contract=None), STATE)


def test_states_differing_in_heartbeat_bookkeeping_alone_decide_the_same() -> None:
    heard = dataclasses.replace(
        CONTRACT, last_heard=T + timedelta(seconds=30), atn_digit=7, my_digit=1
    )
    assert decision_view(STATE) == decision_view(dataclasses.replace(STATE, contract=heard))
    assert decision_view(STATE) != decision_view(
        dataclasses.replace(STATE, phase=Phase.REMOTE_GRACE)
    )
    ended = dataclasses.replace(CONTRACT, status=ContractStatus.ENDED)
    assert decision_view(STATE) != decision_view(dataclasses.replace(STATE, contract=ended))
