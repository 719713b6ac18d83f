"""Failsafe relays (``control.failsafe_relays``, hw25's heat pump and distribution pump): the
SCADA holds them energised in every mode, so each load follows its own relay; the ATN may not
switch them, an installer's hold may release one, and the end of the hold takes it back."""

from __future__ import annotations

from scada.actors.pass_schedule import CONTROL_PERIOD_S
from scada.protocol import CommandOutcome, CommandResult, Mode, RelayState, ReleaseHold
from tests.runtime.harness import Rig, run_scenario
from tests.runtime.test_runtime_contract import atn_of
from tests.runtime.test_runtime_control import actuator, hold_and_set

HW25 = "hw25.isone.me.versant.keene.beech"
HP_FAILSAFE = "a.hp.failsafe"
PUMP_FAILSAFE = "a.dist.pump.failsafe"
NOT_HELD = "a.hp.pump.failsafe"  # released: the heat pump's own primary pump runs
ON, OFF = RelayState.ON, RelayState.OFF


def held(rig: Rig, node: str) -> bool:
    """Energised, with the read-back saying so: the normally-closed contact is open."""
    return rig.coil(node) and actuator(rig, node).state is OFF


def test_failsafes_are_held_in_every_mode_and_only_an_installer_may_release_one() -> None:
    async def scenario(rig: Rig) -> None:
        await rig.advance(CONTROL_PERIOD_S + 1)
        assert rig.mode() is Mode.LOCAL
        assert held(rig, HP_FAILSAFE)
        assert held(rig, PUMP_FAILSAFE)
        assert not rig.coil(NOT_HELD)
        assert actuator(rig, NOT_HELD).state is ON

        atn = atn_of(rig)
        assert atn.offer(1, digit=3)
        await rig.advance(0.1)
        assert rig.mode() is Mode.REMOTE
        cmd = atn.command(HP_FAILSAFE, ON)
        await rig.advance(0.1)
        last = atn.received(CommandResult)[-1]
        assert (last.command_id, last.outcome) == (cmd.id, CommandOutcome.REFUSED)
        assert "a.hp.failsafe is a failsafe relay" in (last.reason or "")
        assert held(rig, HP_FAILSAFE)

        # An installer hands the heat pump back to its own controls, under a hold.
        reply = await hold_and_set(rig, HP_FAILSAFE, ON)
        assert reply.ok, reply.error
        await rig.advance(1)
        assert not rig.coil(HP_FAILSAFE)
        assert held(rig, PUMP_FAILSAFE)  # the hold's other relays stay as they were
        # The hold ends: the SCADA takes the heat pump back.
        assert (await rig.request(ReleaseHold(id=3, operator="alice"))).ok
        await rig.advance(CONTROL_PERIOD_S + 1)
        assert held(rig, HP_FAILSAFE)

    run_scenario(scenario, house=HW25, uplink=True)
