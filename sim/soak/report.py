"""The soak's final table: one block per verdict, PASS / FAIL / INFO, with its figures."""

from __future__ import annotations

from sim.soak.checks import Verdict


def table(verdicts: list[Verdict]) -> str:
    lines = []
    for v in verdicts:
        mark = "INFO" if v.ok is None else ("PASS" if v.ok else "FAIL")
        lines.append(f"{mark:<5} {v.name}")
        lines.extend(f"      {fig}" for fig in v.figures)
    failed = sum(v.ok is False for v in verdicts)
    lines.append(
        f"soak: {'FAILED' if failed else 'passed'} ({failed} of "
        f"{sum(v.ok is not None for v in verdicts)} checks failed)"
    )
    return "\n".join(lines)


def passed(verdicts: list[Verdict]) -> bool:
    return all(v.ok is not False for v in verdicts)
