"""The `sim` command: the simulator's entry points."""

from __future__ import annotations

from typing import Annotated

import typer

from sim import demo as demo_mod

app = typer.Typer(
    name="sim",
    help="GridWorks SpaceHeat simulator: simulated houses, the simulated ATN and the demo.",
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


@app.command()
def atn(
    house: Annotated[
        str, typer.Option("--house", help="Alias of the house whose SCADA the ATN dispatches.")
    ] = "dw1.isone.nh.orange.1",
    broker: Annotated[
        str | None, typer.Option("--broker", help="MQTT broker HOST[:PORT] the SCADA uses.")
    ] = None,
) -> None:
    """Run the simulated ATN on its own, against a SCADA reached through an MQTT broker."""
    from sim.atn import standalone  # noqa: PLC0415 - keeps `sim demo` from importing the ATN

    raise typer.Exit(standalone.main(house, broker))


@app.callback()
def _root() -> None:
    """GridWorks SpaceHeat simulator."""


def main() -> None:
    app()
