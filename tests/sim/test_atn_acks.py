"""The simulated ATN acknowledges a burst of messages with one Ack (protocol: Ack version 2)."""

from __future__ import annotations

import asyncio

import pytest
from pydantic import ValidationError

from scada.clock import LoopClock, run_virtual
from scada.layout import load_layout
from scada.link import InProcessLink
from scada.protocol import MAX_ACK_IDS, Ack, Status, encode
from scada.protocol.examples import T0, example_id, example_status
from sim.atn import SimulatedAtn
from tests.sim.atn_support import DW1


def _statuses(n: int) -> list[Status]:
    base = example_status(2, 3)
    return [base.model_copy(update={"id": example_id(100 + i), "seq": i}) for i in range(n)]


def test_a_burst_is_acknowledged_by_one_ack_naming_every_message() -> None:
    async def body() -> None:
        link = InProcessLink()
        atn = SimulatedAtn(load_layout(DW1), link.atn, LoopClock(T0))
        atn.stop_offering()  # only acks on the wire
        statuses = _statuses(MAX_ACK_IDS + 20)
        for status in statuses:
            assert link.scada.send_encoded("status", encode(status))
        task = asyncio.create_task(atn.run())
        await asyncio.sleep(1)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        acks = atn.log.of_type(Ack, sent=True)
        # one full Ack of MAX_ACK_IDS, then the rest of the burst in a second one
        assert [len(a.message_ids) for a in acks] == [MAX_ACK_IDS, 20]
        assert [m for a in acks for m in a.message_ids] == [s.id for s in statuses]

    run_virtual(body)


def test_an_ack_names_one_to_max_ack_ids_messages() -> None:
    Ack(message_ids=(example_id(1),), at=T0)
    Ack(message_ids=tuple(example_id(i) for i in range(MAX_ACK_IDS)), at=T0)
    with pytest.raises(ValidationError, match="at least 1"):
        Ack(message_ids=(), at=T0)
    with pytest.raises(ValidationError, match=f"at most {MAX_ACK_IDS}"):
        Ack(message_ids=tuple(example_id(i) for i in range(MAX_ACK_IDS + 1)), at=T0)
