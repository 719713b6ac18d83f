"""Sentences for the event log, one per kind of news."""

from __future__ import annotations

from gwtui.format import BOSS_LABELS, MODE_LABELS, relay_label
from scada.protocol import (
    ActuatorCommand,
    AuditEntry,
    CommandOutcome,
    CommandResult,
    DispatchContract,
    ModeChanged,
)


def payload_type(raw: dict[str, object]) -> str:
    payload = raw.get("payload")
    if isinstance(payload, dict):
        return str(payload.get("type", "?"))
    return str(raw.get("type", "?"))


def mode_text(p: ModeChanged) -> str:
    before, after = MODE_LABELS.get(p.previous, p.previous), MODE_LABELS.get(p.mode, p.mode)
    return f"mode {before} -> {after}: {p.reason}"


def contract_text(c: DispatchContract) -> str:
    return f"contract {c.contract_id[:8]} with {c.atn_alias} {c.status.value}, ends {c.end:%H:%M}"


def command_text(c: ActuatorCommand, name: str) -> str:
    who = c.operator or BOSS_LABELS.get(c.source, c.source.value)
    return f"{who} ({BOSS_LABELS.get(c.source, c.source.value)}) set {name} {relay_label(c.state)}"


def result_text(r: CommandResult, name: str) -> str:
    text = f"{name}: {r.outcome.value}"
    if r.reason:
        text += f": {r.reason}"
    if r.interlock:
        text += f" (interlock {r.interlock} overrode it)"
    return text


def result_level(r: CommandResult) -> str:
    if r.outcome in (CommandOutcome.REFUSED, CommandOutcome.FAILED):
        return "error"
    return "warning" if r.interlock else "info"


def audit_text(a: AuditEntry) -> str:
    text = f"{a.who} {a.action}"
    if a.target:
        text += f" {a.target}"
    text += f": {a.outcome}"
    if a.reason:
        text += f" ({a.reason})"
    return text


def audit_level(a: AuditEntry) -> str:
    return "info" if a.outcome in ("accepted", "ok", "confirmed", "done") else "warning"
