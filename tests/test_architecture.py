"""The dependency rules of DESIGN.md, checked by machine."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_runtime_import_leaves_textual_out() -> None:
    code = (
        "import sys, scada.runtime, scada.cli.main, scada.api.client; "
        "bad = [m for m in ('textual', 'gwtui', 'sim') if m in sys.modules]; "
        "sys.exit(f'loaded: {bad}' if bad else 0)"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert run.returncode == 0, run.stderr + run.stdout


def test_import_contracts_hold() -> None:
    lint = Path(sys.executable).parent / "lint-imports"
    run = subprocess.run([str(lint)], cwd=ROOT, capture_output=True, text=True, check=False)
    assert run.returncode == 0, run.stdout + run.stderr
