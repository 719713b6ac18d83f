"""``scada serve`` and the commands that talk to a running SCADA over its local socket."""

from __future__ import annotations

import asyncio
import grp
import json
import logging
import sys
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from scada.api.client import ApiClient, ApiClientError
from scada.api.paths import default_socket_path
from scada.layout import LayoutError
from scada.protocol.commands import CommandResult
from scada.protocol.enums import ChannelHealth, CommandOutcome, EventKind, Mode, RelayState
from scada.protocol.readings import Reading
from scada.protocol.snapshot import Snapshot

if TYPE_CHECKING:
    from scada.settings import LoadedSettings

T = TypeVar("T")
out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)

SocketOpt = Annotated[
    Path | None,
    typer.Option(
        "--socket", help="The SCADA's socket (default: $SCADA_SOCKET, then the runtime dir)."
    ),
]
OperatorOpt = Annotated[str, typer.Option("--operator", "-o", help="Your name, for the audit log.")]


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
    app.command("status")(status)
    app.command("watch")(watch)
    app.command("relay")(relay)
    app.command("hold")(hold)
    app.command("mode")(mode)


def serve(
    house: Annotated[
        str | None, typer.Option("--house", help="House alias from input_data/houses.")
    ] = None,
    layout: Annotated[Path | None, typer.Option("--layout", help="A layout file to run.")] = None,
    sim: Annotated[
        bool, typer.Option("--sim", help="Run the house simulated (no hardware touched).")
    ] = False,
    socket: SocketOpt = None,
    data_dir: Annotated[
        Path | None, typer.Option("--data-dir", help="Where the store keeps its data.")
    ] = None,
    speed: Annotated[
        float | None,
        typer.Option("--speed", help="Simulated seconds per real second (with --sim).", min=0.001),
    ] = None,
    log_level: Annotated[
        str | None,
        typer.Option("--log-level", help="debug, info, warning or error (default: settings)."),
    ] = None,
    drivers: Annotated[
        str,
        typer.Option(
            "--drivers",
            help="real: real drivers (on emulated buses with --sim); memory: in-memory devices.",
        ),
    ] = "real",
    atn: Annotated[
        bool,
        typer.Option("--atn/--no-atn", help="With --sim: run a simulated ATN in-process."),
    ] = True,
    broker: Annotated[
        str | None,
        typer.Option(
            "--broker",
            help="The ATN's MQTT broker, mqtt://HOST:PORT or mqtts://HOST:PORT (settings: "
            "mqtt.url); with --sim it replaces the in-process ATN.",
        ),
    ] = None,
    sim_start: Annotated[
        datetime | None,
        typer.Option(
            "--sim-start",
            hidden=True,
            formats=["%Y-%m-%dT%H:%M:%S%z"],
            help="With --speed and --sim-anchor: the simulated time (ISO, with offset) at the "
            "anchor.",
        ),
    ] = None,
    sim_anchor: Annotated[
        float | None,
        typer.Option(
            "--sim-anchor",
            hidden=True,
            help="With --speed and --sim-start: the CLOCK_MONOTONIC reading (s) at which "
            "simulated time is --sim-start; processes sharing it share simulated time.",
        ),
    ] = None,
    sim_faults: Annotated[
        Path | None,
        typer.Option(
            "--sim-faults", hidden=True, help="With --sim: a fault plan the emulation injects."
        ),
    ] = None,
) -> None:
    """Run the SCADA headless until SIGTERM or Ctrl-C.

    Flags override SCADA_* environment variables, which override /etc/gwscada/scada.toml
    (`scada config show` prints the effective settings and where each came from).
    """
    from scada.layout.houses import find_house
    from scada.serve import DEFAULT_HOUSE, ServeError, ServeOptions, configure_logging, run_serve
    from scada.settings import SettingsError, load_settings

    if house and layout:
        _fail("give --house or --layout, not both")
    flags = {"house": house, "layout": layout, "simulated": sim or None, "socket": socket}
    flags |= {"data_dir": data_dir, "log_level": log_level, "mqtt_url": broker}
    try:
        loaded = load_settings(flags)
    except SettingsError as e:
        for problem in e.problems:  # one line each, nothing started
            sys.stderr.write(f"{problem}\n")
        raise typer.Exit(1) from None
    settings = loaded.settings
    configure_logging(settings.log_level)
    for note in loaded.warnings:
        logging.getLogger("scada.settings").warning("%s", note)
    try:
        path = settings.layout or find_house(settings.house or DEFAULT_HOUSE)
    except LayoutError as e:
        origin = loaded.origins["house"]
        _fail(str(e) if origin.kind == "default" else f"{origin}: house: {e}")
    simulated = settings.simulated or (settings.house is None and settings.layout is None)
    if drivers not in {"real", "memory"}:
        _fail(f"unknown driver family '{drivers}': use real or memory")
    if drivers == "memory" and not simulated:
        _fail("--drivers memory runs a house on in-memory devices; it needs --sim")
    if speed is not None and not simulated:
        _fail("--speed runs a simulated house faster than real time; it needs --sim")
    if (sim_start is None) != (sim_anchor is None) or (sim_start is not None and speed is None):
        _fail("--sim-start and --sim-anchor go together, with --speed")
    if sim_faults is not None and not simulated:
        _fail("--sim-faults injects faults into a simulated house; it needs --sim")
    opts = ServeOptions(
        layout_path=path,
        simulated=simulated,
        socket_path=settings.socket_path(),
        data_dir=settings.data_path(),
        drivers="memory" if drivers == "memory" else "real",
        speed=speed,
        atn=atn,
        console_gids=_console_gids(loaded),
        mqtt=settings.mqtt_settings(),
        sim_start=sim_start,
        sim_anchor=sim_anchor,
        sim_faults=sim_faults,
    )
    try:
        code = run_serve(opts)
    except ServeError as e:
        _fail(str(e))
    raise typer.Exit(code)


def status(
    socket: SocketOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the snapshot as JSON.")] = False,
) -> None:
    """Show the running SCADA's house, mode, hold, channels and actuators."""
    snap = _run(socket, lambda c: c.snapshot())
    if as_json:
        sys.stdout.write(snap.model_dump_json(indent=2) + "\n")
        return
    _print_snapshot(snap)


def watch(
    socket: SocketOpt = None,
    count: Annotated[
        int | None, typer.Option("--count", "-n", help="Stop after N readings.")
    ] = None,
) -> None:
    """Print live readings as they arrive (Ctrl-C to stop)."""

    async def body(c: ApiClient) -> None:
        await c.subscribe(
            (EventKind.READING, EventKind.PROBLEM, EventKind.ACTUATOR, EventKind.MODE)
        )
        seen = 0
        async for ev in c.events():
            payload = getattr(ev, "payload", None)
            if isinstance(payload, Reading):
                out.print(
                    f"{payload.read_at:%H:%M:%S} {payload.channel:<28} "
                    f"{payload.value:>10.3f} {payload.unit}"
                )
                seen += 1
                if count is not None and seen >= count:
                    return
            elif isinstance(payload, Snapshot):
                out.print(
                    f"[bold]snapshot[/] {payload.house_alias}: {len(payload.channels)} channels"
                )
            elif payload is not None:
                out.print(f"[bold]{getattr(payload, 'type', '?')}[/] {_short(payload)}")

    try:
        _run(socket, body)
    except KeyboardInterrupt:
        raise typer.Exit(0) from None


def relay(
    node: Annotated[str, typer.Argument(help="The relay's node alias, e.g. a.elt1.relay.")],
    state: Annotated[RelayState, typer.Argument(help="on or off.")],
    operator: OperatorOpt,
    socket: SocketOpt = None,
) -> None:
    """Switch a relay (needs your admin hold: `scada hold take`)."""
    result = _run(socket, lambda c: c.set_relay(node, state, operator))
    if not isinstance(result, CommandResult):
        _fail(f"unexpected answer from the SCADA: {result}")
    out.print(f"{node}: {result.outcome.value}" + (f" ({result.reason})" if result.reason else ""))
    if result.outcome not in {CommandOutcome.CONFIRMED, CommandOutcome.ACCEPTED}:
        raise typer.Exit(1)


def hold(
    action: Annotated[str, typer.Argument(help="take, keep-alive or release.")],
    operator: OperatorOpt,
    minutes: Annotated[
        float, typer.Option("--minutes", "-m", help="Length of the hold.", min=0.1)
    ] = 30.0,
    socket: SocketOpt = None,
) -> None:
    """Take, keep alive or release the admin hold."""
    calls: dict[str, Callable[[ApiClient], Awaitable[object]]] = {
        "take": lambda c: c.take_hold(operator, minutes),
        "keep-alive": lambda c: c.keep_alive(operator),
        "release": lambda c: c.release_hold(operator),
    }
    if action not in calls:
        _fail(f"unknown hold action '{action}': use take, keep-alive or release")
    result = _run(socket, calls[action])
    notes = result.get("notes") if isinstance(result, dict) else None
    out.print(f"hold {action}: ok" + (f" — {'; '.join(notes)}" if notes else ""))


def mode(
    new_mode: Annotated[
        str, typer.Argument(metavar="local|remote", help="LocalControl or RemoteControl.")
    ],
    operator: Annotated[
        str, typer.Option("--operator", "-o", help="Your name, for the audit log.")
    ] = "cli",
    socket: SocketOpt = None,
) -> None:
    """Switch LocalControl / RemoteControl (remote needs a live DispatchContract)."""
    try:
        target = Mode(new_mode)
    except ValueError:
        _fail(f"unknown mode '{new_mode}': use local or remote")
    result = _run(socket, lambda c: c.set_mode(target, operator))
    notes = result.get("notes") or []
    out.print(
        f"mode: {result.get('mode', target.value)}" + (f" — {'; '.join(notes)}" if notes else "")
    )


# ---------------------------------------------------------------------- helpers
def _console_gids(loaded: LoadedSettings) -> frozenset[int]:
    """The gid of the settings' ``console_group`` (members may attach a console)."""
    name = loaded.settings.console_group
    try:
        return frozenset({grp.getgrnam(name).gr_gid})
    except KeyError:
        if loaded.origins["console_group"].kind != "default":
            logging.getLogger("scada.settings").warning("console_group %s does not exist", name)
        return frozenset()


def _run(socket: Path | None, body: Callable[[ApiClient], Awaitable[T]]) -> T:
    async def main() -> T:
        client = await ApiClient.connect(socket or default_socket_path())
        try:
            return await body(client)
        finally:
            await client.close()

    try:
        return asyncio.run(main())
    except ApiClientError as e:
        _fail(str(e))


def _fail(message: str) -> NoReturn:
    err.print(f"[red]error:[/] {message}")
    raise typer.Exit(1)


def _short(obj: object) -> str:
    if hasattr(obj, "model_dump"):
        data = obj.model_dump(mode="json", exclude={"type", "version"})
        return json.dumps(data)[:200]
    return str(obj)[:200]


def _print_snapshot(s: Snapshot) -> None:
    kind = "SIMULATED" if s.simulated else "REAL"
    hold_txt = (
        f" | hold: {s.hold.operator} until {s.hold.expires_at:%H:%M:%S} UTC" if s.hold else ""
    )
    contract = f" | contract: {s.contract.status.value}" if s.contract else ""
    out.print(
        f"[bold]{s.house_alias}[/] [{'yellow' if s.simulated else 'red'}]{kind}[/]"
        f" | mode: {s.mode.value}"
        f"{contract}{hold_txt} | broker: {s.link.broker.value}, atn: {s.link.atn.value}"
    )
    t = Table("channel", "value", "unit", "age", "health", box=None)
    for c in s.channels:
        value = "—" if c.value is None else f"{c.value:.2f}"
        age = "—" if c.age_s is None else f"{c.age_s:.0f}s"
        style = "" if c.health is ChannelHealth.OK else "dim"
        t.add_row(
            c.channel,
            value,
            c.unit,
            age,
            c.health.value + (f" ({c.reason})" if c.reason and style else ""),
            style=style,
        )
    out.print(t)
    a = Table("actuator", "state", "commanded", "boss", "last result", box=None)
    for x in s.actuators:
        last = (
            f"{x.last_result.outcome.value}"
            + (f": {x.last_result.reason}" if x.last_result and x.last_result.reason else "")
            if x.last_result
            else "—"
        )
        a.add_row(
            x.node,
            x.state.value if x.state else "?",
            x.commanded.value if x.commanded else "—",
            x.boss.value,
            last,
        )
    out.print(a)
