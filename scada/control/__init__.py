"""The pure control core: who is boss, what the home-alone strategy wants, what safety allows.

No asyncio, no I/O, no clock: every function takes ``now`` (aware UTC) and returns new
immutable state. Requests that cannot be carried out come back as a
:class:`~scada.control.outcome.Refusal` with a reason, never as an exception.

* :mod:`.hold`        the installer's admin hold (a capped, kept-alive lease)
* :mod:`.contract`    the DispatchContract state machine with heartbeats
* :mod:`.modes`       LocalControl / RemoteControl, the hold above them, and :func:`boss`
* :mod:`.boss`        :func:`authorize`: an actuator obeys only its boss
* :mod:`.home_alone`  the local strategy: zones at setpoint, the tank as the store
* :mod:`.interlocks`  freeze protection, minimum on/off times, tank over-temperature
"""

from scada.control.boss import authorize, describe_boss
from scada.control.contract import (
    Accept,
    Contract,
    ContractEvent,
    ContractMessage,
    End,
    Heartbeat,
    Offer,
    Terminate,
)
from scada.control.hold import Hold
from scada.control.home_alone import ActuatorDecision, Decision, HomeAloneInputs, decide
from scada.control.interlocks import Interlock, Interlocked, Override, RelayRecord
from scada.control.interlocks import apply as apply_interlocks
from scada.control.modes import (
    ModeEvent,
    ModeState,
    Phase,
    boss,
    contract_message,
    heartbeat_sent,
    initial,
    keep_hold_alive,
    lease_problem,
    link_down,
    link_up,
    release_hold,
    set_mode,
    take_hold,
    tick,
)
from scada.control.outcome import Refusal, Step

__all__ = [
    "Accept",
    "ActuatorDecision",
    "Contract",
    "ContractEvent",
    "ContractMessage",
    "Decision",
    "End",
    "Heartbeat",
    "Hold",
    "HomeAloneInputs",
    "Interlock",
    "Interlocked",
    "ModeEvent",
    "ModeState",
    "Offer",
    "Override",
    "Phase",
    "Refusal",
    "RelayRecord",
    "Step",
    "Terminate",
    "apply_interlocks",
    "authorize",
    "boss",
    "contract_message",
    "decide",
    "describe_boss",
    "heartbeat_sent",
    "initial",
    "keep_hold_alive",
    "lease_problem",
    "link_down",
    "link_up",
    "release_hold",
    "set_mode",
    "take_hold",
    "tick",
]
