"""``scada probe relay|temp|meter|i2c``: commissioning probes, one device read (or clicked) once.

The probing is :mod:`scada.probe`; this module only parses options and prints. Every failure is
one line on stderr (``device (bus path): what — what to do``) and exit status 1; a probe never
prints a traceback. With ``--sim`` the probe runs on the simulator's emulated machine for the
house, otherwise on this machine's own buses.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn, TypeVar

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

if TYPE_CHECKING:
    from scada.drivers.buses import Buses
    from scada.layout import Layout
    from scada.probe import (
        I2cScan,
        MeterProbe,
        RegisterReading,
        RelayProbe,
        RelayStep,
        TempProbe,
    )

T = TypeVar("T")
PIPE_WIDTH = 160

probe_app = typer.Typer(
    name="probe",
    help=(
        "Commissioning probes: switch one relay and read it back, read a temperature, read a "
        "meter's whole register map, scan the I2C bus against the layout."
    ),
    no_args_is_help=True,
)

HouseOpt = Annotated[
    str | None,
    typer.Option(
        "--house", help="House alias (default: $SCADA_HOUSE, then dw1.isone.nh.orange.1)."
    ),
]
LayoutOpt = Annotated[Path | None, typer.Option("--layout", help="A layout file instead.")]
SimOpt = Annotated[
    bool,
    typer.Option("--sim", help="Probe the simulator's emulated buses for the house, not hardware."),
]


def register(app: typer.Typer) -> None:
    """Add ``scada probe …`` to the main app."""
    app.add_typer(probe_app, name="probe")


# ---------------------------------------------------------------------- commands


@probe_app.command("relay")
def relay(
    node: Annotated[
        str,
        typer.Argument(
            help="The relay: its actuator node (a.elt1.relay) or <board>:<channel> (0-based).",
            show_default=False,
        ),
    ],
    click: Annotated[
        bool,
        typer.Option(
            "--click", help="Switch it: on, read back, hold, off, read back; then as it was."
        ),
    ] = False,
    hold_s: Annotated[
        float, typer.Option("--hold-s", help="How long to hold it on.", min=0.0, max=600.0)
    ] = 1.0,
    force: Annotated[
        bool,
        typer.Option("--force", help="Click even though a running SCADA answers on its socket."),
    ] = False,
    house: HouseOpt = None,
    layout: LayoutOpt = None,
    sim: SimOpt = False,
) -> None:
    """Read a relay back from its board; with --click, pulse it and read each step back.

    The relay is always left as it was found, also on a failed step or Ctrl-C.
    """
    from scada.probe import find_relay, probe_relay

    lay = _layout(house, layout)
    target = _resolve(lambda: find_relay(lay, node))
    _check_running(sim, switching=click, force=force)
    out = _out()
    polarity = " (active low)" if target.active_low else ""
    what = f"relay {target.label}: {target.device.name} channel {target.channel}{polarity}"
    shown: list[RelayStep] = []

    def show(step: RelayStep) -> None:
        if not shown:  # the header once the board answered: a missing bus is one line only
            out.print(_header(lay, sim, what))
        shown.append(step)
        out.print(_step_line(step, hold_s))

    result = _probe(
        lay,
        sim,
        lambda buses: probe_relay(lay, buses, target, click=click, hold_s=hold_s, report=show),
    )
    _relay_summary(out, result)
    if not result.ok:
        raise typer.Exit(1)


@probe_app.command("temp")
def temp(
    node: Annotated[
        str,
        typer.Argument(
            help="A temperature channel (tank-temp1), its node (a.tank.temp0) or its device.",
            show_default=False,
        ),
    ],
    house: HouseOpt = None,
    layout: LayoutOpt = None,
    sim: SimOpt = False,
) -> None:
    """Read temperature channels once: the raw value, the converted °C and the health."""
    from scada.probe import find_temps, probe_temp

    lay = _layout(house, layout)
    channels = _resolve(lambda: find_temps(lay, node))
    _check_running(sim)
    result = _probe(lay, sim, lambda buses: probe_temp(lay, buses, channels))
    out = _out()
    out.print(_header(lay, sim, f"temperature {node}"))
    _temp_table(out, result)
    for r in result.readings:
        if r.error is not None:
            _err_line(r.error)
    if not result.ok:
        raise typer.Exit(1)


@probe_app.command("meter")
def meter(
    device: Annotated[
        str,
        typer.Argument(
            help="A Modbus meter (its device name, or a channel or node it reads).",
            show_default=False,
        ),
    ],
    house: HouseOpt = None,
    layout: LayoutOpt = None,
    sim: SimOpt = False,
) -> None:
    """Read every register of a meter's map once, with values and units."""
    from scada.probe import find_meter, probe_meter

    lay = _layout(house, layout)
    dev = _resolve(lambda: find_meter(lay, device))
    _check_running(sim)
    result = _probe(lay, sim, lambda buses: probe_meter(lay, buses, dev))
    out = _out()
    out.print(_header(lay, sim, f"meter {result.device} ({result.model}, {result.where})"))
    _meter_table(out, result)
    if result.note:
        out.print(Text(f"note: {result.note}", style="yellow"))
    if result.identity_error:
        _err_line(result.identity_error)
    for r in result.registers:
        if r.error is not None and r.optional:
            out.print(
                Text(
                    f"note: {r.name} ({r.address}) is not served; the layout gives no hw_uid "
                    "to check it against, so that is fine",
                    style="dim",
                )
            )
        elif r.error is not None:
            _err_line(r.error)
    if not result.ok:
        raise typer.Exit(1)


@probe_app.command("i2c")
def i2c(
    bus: Annotated[
        list[int] | None,
        typer.Option("--bus", help="Scan /dev/i2c-N (repeatable; default: the layout's buses)."),
    ] = None,
    house: HouseOpt = None,
    layout: LayoutOpt = None,
    sim: SimOpt = False,
) -> None:
    """Scan I2C buses (0x03-0x77, like i2cdetect -r) and match what answers against the layout.

    Exit status 1 when a bus is missing or a device the layout expects does not answer.
    """
    from scada.probe import probe_i2c

    lay = _layout(house, layout)
    _check_running(sim)
    scans = _probe(lay, sim, lambda buses: probe_i2c(lay, buses, bus))
    out = _out()
    for scan in scans:
        if scan.error is not None:
            _err_line(scan.error)
            continue
        out.print(_header(lay, sim, f"{scan.path} ({scan.scan_ms:.0f} ms)"))
        _i2c_grid(out, scan)
        _i2c_table(out, scan)
    if not all(s.ok for s in scans):
        raise typer.Exit(1)


# ---------------------------------------------------------------------- running


def _layout(house: str | None, layout: Path | None) -> Layout:
    from scada.layout import LayoutError
    from scada.probe import ProbeError, resolve_layout

    try:
        return resolve_layout(house, layout)
    except LayoutError as e:
        for p in e.problems:
            _err_line(str(p))
        raise typer.Exit(1) from None
    except ProbeError as e:
        _fail(str(e))


def _resolve(find: Callable[[], T]) -> T:
    from scada.probe import ProbeError

    try:
        return find()
    except ProbeError as e:
        _fail(str(e))


def _check_running(sim: bool, *, switching: bool = False, force: bool = False) -> None:
    """Warn when a SCADA answers on its socket; refuse to switch a relay under it without
    ``--force``. An emulated machine is the probe's own, so ``--sim`` needs no check."""
    from scada.probe import running_scada

    if sim:
        return
    sock = running_scada()
    if sock is None:
        return
    if switching and not force:
        _fail(
            f"a SCADA is running (it answers on {sock}) and drives these relays: stop it "
            "first (or add --force to click anyway)"
        )
    _err().print(
        Text.assemble(
            ("warning: ", "yellow"),
            f"a SCADA is running (it answers on {sock}); it may fight this probe for the bus",
        )
    )


def _probe(layout: Layout, sim: bool, body: Callable[[Buses], Awaitable[T]]) -> T:
    from scada.probe import ProbeError, machine

    _quiet_logs()

    async def main() -> T:
        async with machine(layout, sim=sim) as buses:
            return await body(buses)

    try:
        return asyncio.run(main())
    except ProbeError as e:
        _fail(str(e))
    except KeyboardInterrupt:
        _err_line("interrupted (a clicked relay was put back as it was found)")
        raise typer.Exit(130) from None


def _quiet_logs() -> None:
    """The drivers log for a service's journal; a probe shows everything in its output."""
    for name in ("scada", "sim", "pymodbus"):
        logger = logging.getLogger(name)
        if not any(isinstance(h, logging.NullHandler) for h in logger.handlers):
            logger.addHandler(logging.NullHandler())


# ---------------------------------------------------------------------- printing


def _out() -> Console:
    """Standard output; piped output is laid out 160 columns wide instead of rich's 80."""
    return Console(
        soft_wrap=True, highlight=False, width=None if sys.stdout.isatty() else PIPE_WIDTH
    )


def _err() -> Console:
    return Console(stderr=True, soft_wrap=True, highlight=False)


def _err_line(message: str) -> None:
    _err().print(Text.assemble(("error: ", "red"), message))


def _fail(message: str) -> NoReturn:
    _err_line(message)
    raise typer.Exit(1)


def _header(layout: Layout, sim: bool, what: str) -> Text:
    kind = ("EMULATED (--sim)", "yellow") if sim else ("REAL hardware", "bold red")
    return Text.assemble((layout.house.alias, "bold"), " · ", kind, " · ", what)


def _state(energized: bool | None) -> str:
    return "?" if energized is None else "energized" if energized else "released"


def _step_line(step: RelayStep, hold_s: float) -> Text:
    ms = f"{step.elapsed_ms:8.1f} ms"
    if step.action == "hold":
        return Text(f"  {'hold':<8} {f'{hold_s:g} s':<10} {'':<20}{ms}")
    wanted = "" if step.wanted is None else _state(step.wanted)
    text = Text(f"  {step.action:<8} {wanted:<10} read back {_state(step.read_back):<10}{ms}")
    if step.action != "read":
        text.append("  ")
        text.append(*(("ok", "green") if step.ok else ("FAILED", "bold red")))
    if step.error:
        text.append(f"  {step.error}", style="red")
    return text


def _relay_summary(out: Console, result: RelayProbe) -> None:
    if not result.clicked:
        out.print(Text(f"{result.target.label} is {_state(result.original)} (read back)"))
        return
    end = _state(result.final)
    if result.restored:
        out.print(Text(f"left {end}, as found", style="green" if result.ok else "yellow"))
    else:
        out.print(
            Text(f"NOT restored: found {_state(result.original)}, now {end}", style="bold red")
        )
    for step in result.steps:
        if step.error:
            _err().print(Text.assemble(("error: ", "red"), step.error))


def _fmt(value: float | str | None) -> str:
    if value is None:
        return "—"
    if isinstance(value, str):
        return repr(value.strip())
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return f"{value:.3f}".rstrip("0").rstrip(".")


def _temp_table(out: Console, result: TempProbe) -> None:
    t = Table("channel", "node", "device", "source", "raw", "°C", "health", "ms", box=None)
    for r in result.readings:
        t.add_row(
            r.channel,
            r.node,
            r.device,
            r.source,
            r.raw,
            "—" if r.value_c is None else f"{r.value_c:.2f}",
            Text("ok", style="green") if r.ok else Text("FAILED", style="bold red"),
            f"{r.read_ms:.1f}",
        )
    out.print(t)


def _meter_table(out: Console, result: MeterProbe) -> None:
    t = Table("register", "address", "type", "value", "unit", "", box=None)
    for r in result.registers:
        t.add_row(
            r.name,
            f"{r.address} ({r.function})",
            r.type,
            _fmt(r.value),
            r.unit,
            _register_mark(r),
        )
    out.print(t)
    out.print(Text(f"{len(result.registers)} registers in {result.read_ms:.0f} ms"))


def _register_mark(r: RegisterReading) -> Text:
    if r.error is None:
        return Text("ok", style="green")
    if r.optional:
        return Text("not served", style="dim")
    return Text("FAILED", style="bold red")


def _i2c_grid(out: Console, scan: I2cScan) -> None:
    """The i2cdetect picture: present addresses in hex, UU for busy, -- for silence."""
    answering = scan.present
    lines = ["     " + "  ".join(f"{c:x}" for c in range(16))]
    for row in range(0, 0x80, 0x10):
        cells = []
        for addr in range(row, row + 0x10):
            if addr < 0x03 or addr > 0x77:
                cells.append("  ")
            elif addr in scan.busy:
                cells.append("UU")
            elif addr in answering:
                cells.append(f"{addr:02x}")
            else:
                cells.append("--")
        lines.append(f"{row:02x}: " + " ".join(cells))
    out.print(Text("\n".join(lines)))


def _i2c_table(out: Console, scan: I2cScan) -> None:
    t = Table("address", "layout device", "found", box=None)
    styles = {"ok": "green", "missing": "bold red", "unexpected": "yellow"}
    words = {
        "ok": "expected, present",
        "missing": "expected, MISSING",
        "unexpected": "present, not in the layout",
    }
    for r in scan.rows:
        found = words[r.status] + (" (held by a kernel driver)" if r.busy else "")
        t.add_row(f"0x{r.address:02x}", ", ".join(r.devices) or "—", Text(found, styles[r.status]))
    out.print(t)
