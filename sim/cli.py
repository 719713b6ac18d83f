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
        str | None,
        typer.Option(
            "--broker",
            help="MQTT broker URL the SCADA uses: mqtt://HOST:PORT or mqtts://HOST:PORT "
            "(credentials and TLS from SCADA_MQTT_* variables).",
        ),
    ] = None,
    log_level: Annotated[
        str, typer.Option("--log-level", help="debug, info, warning or error.")
    ] = "info",
) -> None:
    """Run the simulated ATN on its own, against a SCADA reached through an MQTT broker."""
    from sim.atn import standalone  # noqa: PLC0415 - keeps `sim demo` from importing the ATN

    raise typer.Exit(standalone.main(house, broker, log_level=log_level))


def walk(
    name: Annotated[
        str | None, typer.Argument(help="The walkthrough to run (sim walk --list shows them).")
    ] = None,
    house: Annotated[
        str | None, typer.Option("--house", help="Run it on this house instead of its own.")
    ] = None,
    speed: Annotated[
        float | None,
        typer.Option("--speed", help="Simulated seconds per real second (default: flat out)."),
    ] = None,
    list_: Annotated[bool, typer.Option("--list", help="List the walkthroughs.")] = False,
) -> None:
    """Run a scripted walkthrough on a simulated house and check how the SCADA coped."""
    from sim.walkthroughs import console  # noqa: PLC0415 - keeps `sim demo` from importing it

    raise typer.Exit(console.main(name, house=house, speed=speed, list_only=list_))


app.command("walk")(walk)
app.command("walkthrough", hidden=True)(walk)


@app.callback()
def _root() -> None:
    """GridWorks SpaceHeat simulator."""


def main() -> None:
    app()
