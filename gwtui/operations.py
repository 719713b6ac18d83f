"""The console's changing requests, with every failure turned into a sentence for the operator.

Plain asyncio (no Textual): each method returns an :class:`Outcome` instead of raising, so the
screens only decide where to show it, and nothing the SCADA refuses is ever dropped silently.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from gwtui.connection import ScadaClient
from gwtui.format import MODE_LABELS
from scada.api.client import (
    ApiBadRequest,
    ApiClientError,
    ApiConnectionLost,
    ApiRefused,
    ApiTimeout,
)
from scada.protocol import CommandOutcome, CommandResult, HouseList, Mode, RelayState

T = TypeVar("T")


@dataclass(frozen=True, slots=True, kw_only=True)
class Outcome:
    """What became of one request: ``ok`` and a sentence; ``refused`` when the SCADA said no
    (as opposed to the request never getting an answer)."""

    ok: bool
    message: str
    refused: bool = False
    result: Any = None


def done(message: str, result: Any = None) -> Outcome:
    return Outcome(ok=True, message=message, result=result)


def failed(message: str, *, refused: bool = False, result: Any = None) -> Outcome:
    return Outcome(ok=False, message=message, refused=refused, result=result)


def explain(exc: ApiClientError) -> tuple[str, bool]:
    """A sentence for an error, and whether it is a refusal by the SCADA."""
    if isinstance(exc, ApiRefused):
        return exc.message, True
    if isinstance(exc, ApiTimeout):
        return f"no answer from the SCADA ({exc}); it may still happen", False
    if isinstance(exc, ApiConnectionLost):
        return f"connection lost before the answer: {exc}", False
    if isinstance(exc, ApiBadRequest):
        return f"not sent: {exc}", False
    return str(exc), False


async def _attempt(what: str, call: Callable[[], Awaitable[T]]) -> Outcome:
    try:
        result = await call()
    except ApiClientError as exc:
        text, refused = explain(exc)
        return failed(f"{what} {'refused' if refused else 'failed'}: {text}", refused=refused)
    return done(f"{what}: done", result=result)


class Operations:
    """Requests that change the house, on behalf of ``operator``."""

    def __init__(self, client: ScadaClient | None) -> None:
        self.client = client

    def _client(self) -> ScadaClient:
        if self.client is None:
            raise ApiConnectionLost("not attached to a SCADA")
        return self.client

    async def take_hold(self, operator: str, minutes: float) -> Outcome:
        out = await _attempt("take hold", lambda: self._client().take_hold(operator, minutes))
        if out.ok:
            return done(f"admin hold taken by {operator} for {minutes:g} min", result=out.result)
        return out

    async def keep_alive(self, operator: str) -> Outcome:
        return await _attempt("keep-alive", lambda: self._client().keep_alive(operator))

    async def release_hold(self, operator: str) -> Outcome:
        out = await _attempt("release hold", lambda: self._client().release_hold(operator))
        return done("admin hold released", result=out.result) if out.ok else out

    async def set_relay(self, node: str, state: RelayState, operator: str) -> Outcome:
        out = await _attempt(
            f"set {node} {state.value}",
            lambda: self._client().set_relay(node, state, operator),
        )
        result = out.result
        if out.ok and isinstance(result, CommandResult):
            if result.outcome in (CommandOutcome.REFUSED, CommandOutcome.FAILED):
                what = f"set {node} {state.value} {result.outcome.value}: {result.reason}"
                return failed(what, refused=result.outcome is CommandOutcome.REFUSED, result=result)
            return done(f"{node} -> {state.value}: {result.outcome.value}", result=result)
        if out.ok:
            return done(f"{node} -> {state.value}: sent", result=result)
        return out

    async def set_mode(self, mode: Mode, operator: str) -> Outcome:
        label = MODE_LABELS[mode]
        out = await _attempt(f"switch to {label}", lambda: self._client().set_mode(mode, operator))
        return done(f"{label} requested", result=out.result) if out.ok else out

    async def list_houses(self) -> Outcome:
        out = await _attempt("list houses", lambda: self._client().list_houses())
        if out.ok and not isinstance(out.result, HouseList):
            return failed("list houses failed: unexpected answer")
        return out

    async def switch_house(
        self, alias: str, simulated: bool, operator: str, confirm: str | None
    ) -> Outcome:
        what = f"switch to {'simulated' if simulated else 'REAL'} house {alias}"
        out = await _attempt(
            what, lambda: self._client().switch_house(alias, simulated, operator, confirm)
        )
        return done(f"{what}: requested", result=out.result) if out.ok else out
