"""The boss rule: an actuator obeys only its current boss; everything else is refused.

:func:`authorize` answers one command: ``None`` when it may be carried out, else a
:class:`~scada.control.outcome.Refusal` whose reason goes back to whoever asked and to the
audit log, e.g. ``a.elt1.relay obeys admin (hold by alice until 14:05 UTC); atn may not
command it``.

Checks, in order (the first that fails answers):

1. the target is a known actuator (``no actuator 'x'``);
2. the command has not expired (commands carry an expiry and are never obeyed late);
3. a failsafe relay (``control.failsafe_relays``) is switched only by an installer's hold: the
   SCADA holds it energised whatever the mode, and the ATN or the home-alone strategy has no say;
4. the source is the boss (:func:`scada.control.modes.boss` at ``now``). ``interlock`` is
   always allowed: safety interlocks hold in every mode, admin included. An ``admin`` command
   must also come from the operator who holds the hold.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from scada.control import hold as holds
from scada.control.modes import ModeState, Phase, boss
from scada.control.outcome import Refusal, check_now, hhmmss
from scada.protocol import CommandSource


def describe_boss(state: ModeState, now: datetime) -> str:
    """The boss at ``now`` and why, e.g. ``admin (hold by alice until 14:05 UTC)``."""
    who = boss(state, now)
    held = holds.active(state.hold, now)
    if who is CommandSource.ADMIN and held is not None:
        return f"admin ({held.describe()})"
    if who is CommandSource.ATN:
        c = state.contract
        grace = ", in its grace period" if state.phase is Phase.REMOTE_GRACE else ""
        name = f"contract {c.contract_id}" if c is not None else "no contract"
        return f"atn (RemoteControl, {name}{grace})"
    if state.phase is Phase.LOCAL_PINNED:
        return "home_alone (LocalControl, set by the installer)"
    return "home_alone (LocalControl)"


def authorize(
    state: ModeState,
    source: CommandSource,
    target_node: str,
    known_nodes: Collection[str],
    now: datetime,
    *,
    expires_at: datetime | None = None,
    operator: str | None = None,
    failsafes: Collection[str] = (),
) -> Refusal | None:
    """May ``source`` move ``target_node`` at ``now``? ``None`` if so, else the refusal.

    ``known_nodes`` are the actuator node aliases of the layout; ``expires_at`` is the
    command's expiry (``None``: none); ``operator`` names the console user of an admin command;
    ``failsafes`` are the layout's failsafe relays.
    """
    check_now(now)
    if target_node not in known_nodes:
        return Refusal(f"no actuator '{target_node}'")
    if expires_at is not None and now >= expires_at:
        return Refusal(
            f"command for {target_node} expired at {hhmmss(expires_at)} "
            f"(now {hhmmss(now)}); not carried out"
        )
    if source is CommandSource.INTERLOCK:
        return None
    if target_node in failsafes and source is not CommandSource.ADMIN:
        return Refusal(
            f"{target_node} is a failsafe relay: the SCADA holds it energised while it runs, "
            f"and only an installer's admin hold may switch it; {source.value} may not"
        )
    if source is not boss(state, now):
        return Refusal(
            f"{target_node} obeys {describe_boss(state, now)}; {source.value} may not command it"
        )
    held = holds.active(state.hold, now)
    if source is CommandSource.ADMIN and held is not None and operator != held.operator:
        who = operator or "an unnamed operator"
        return Refusal(f"{target_node} obeys admin ({held.describe()}); {who} does not hold it")
    return None
