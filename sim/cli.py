"""The `sim` command: the simulator's entry points."""

from __future__ import annotations

from typing import Annotated

import typer

from sim import demo as demo_mod

app = typer.Typer(
    name="sim",
    help="GridWorks SpaceHeat simulator: simulated houses and the demo.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.command()
def demo(
    house: Annotated[str | None, typer.Option("--house", help="House alias to simulate.")] = None,
    speed: Annotated[
        float | None, typer.Option("--speed", help="Simulated seconds per real second.")
    ] = None,
) -> None:
    """Start the SCADA on a simulated house and open gwtui attached to it."""
    args: list[str] = []
    if house:
        args += ["--house", house]
    if speed:
        args += ["--speed", str(speed)]
    raise typer.Exit(demo_mod.main(args))


@app.callback()
def _root() -> None:
    """GridWorks SpaceHeat simulator."""


def main() -> None:
    app()
