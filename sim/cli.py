"""The `sim` command: the simulator's entry points."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from scada import gc_policy
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


@app.command()
def soak(
    days: Annotated[float, typer.Option("--days", help="Simulated days.", min=0.1)] = 7.0,
    speed: Annotated[
        float, typer.Option("--speed", help="Simulated seconds per real second.", min=1)
    ] = 600.0,
    workdir: Annotated[
        Path | None, typer.Option("--workdir", help="Keep the logs and journals here.")
    ] = None,
) -> None:
    """Soak the largest house under a fault an hour; print a pass/fail table with the figures."""
    from sim.soak import command  # noqa: PLC0415 - keeps `sim demo` from importing the soak

    raise typer.Exit(command.main(days, speed, workdir, keep=workdir is not None))


def walkthrough(  # noqa: PLR0917 - typer hands every option over by position
    name: Annotated[
        str | None,
        typer.Argument(
            help="The walkthrough to run (sim walkthrough --list shows them), or the path of "
            "a walkthrough file of your own (.toml or .json)."
        ),
    ] = None,
    house: Annotated[
        str | None, typer.Option("--house", help="Run it on this house instead of its own.")
    ] = None,
    speed: Annotated[
        float | None,
        typer.Option("--speed", help="Simulated seconds per real second (default: flat out)."),
    ] = None,
    list_: Annotated[bool, typer.Option("--list", help="List the walkthroughs.")] = False,
    plot: Annotated[
        Path | None,
        typer.Option(
            "--plot",
            help="Draw the run to this PNG: tank layers, house and outdoor temperatures, price "
            "and heat-pump power over simulated time (needs matplotlib: the 'plot' extra).",
            dir_okay=False,
        ),
    ] = None,
    socket: Annotated[
        Path | None,
        typer.Option(
            "--socket",
            help="Serve the SCADA's local API here during the run, so that "
            "`gwtui --socket PATH` can watch it (default speed then: 60x).",
            dir_okay=False,
        ),
    ] = None,
    watch: Annotated[
        bool,
        typer.Option(
            "--watch", help="Watch the run live in gwtui in this terminal; report when it quits."
        ),
    ] = False,
) -> None:
    """Run a scripted walkthrough on a simulated house and check how the SCADA coped."""
    from sim.walkthroughs import console  # noqa: PLC0415 - keeps `sim demo` from importing it

    raise typer.Exit(
        console.main(
            name,
            house=house,
            speed=speed,
            list_only=list_,
            plot=plot,
            socket=socket,
            watch=watch,
        )
    )


app.command("walkthrough")(walkthrough)
# The command's first name, kept so that scripts written against it still run.
app.command("walk", hidden=True)(walkthrough)


@app.callback()
def _root() -> None:
    """GridWorks SpaceHeat simulator."""


def main() -> None:
    gc_policy.tune()
    app()
