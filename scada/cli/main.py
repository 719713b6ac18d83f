"""Entry point of the `scada` command: one typer app, sub-commands registered by module."""

from __future__ import annotations

import typer

from scada import gc_policy
from scada.cli import layout_cmds, ops_cmds, probe_cmds, runtime_cmds, store_cmds

app = typer.Typer(
    name="scada",
    help=(
        "GridWorks SpaceHeat SCADA: run the headless runtime, check layouts, "
        "talk to a running SCADA."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
layout_cmds.register(app)
runtime_cmds.register(app)
store_cmds.register(app)
probe_cmds.register(app)
ops_cmds.register(app)


def main() -> None:
    gc_policy.tune()
    app()
