"""`scada layout check|show|schema` and `scada houses`.

Every problem is one line ``file: json.path: what (did you mean 'x'?)`` on stderr; a bad file
never produces a traceback. Exit status 0 means every file was valid, 1 that one was not.
"""

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from scada.cli.layout_view import render_layout
from scada.layout.errors import LayoutError, LayoutProblem
from scada.layout.houses import HouseEntry, find_house, houses_dir, list_houses
from scada.layout.load import load_layout
from scada.layout.model import Layout
from scada.layout.schema import layout_json_schema_text, schema_path

PIPE_WIDTH = 160

layout_app = typer.Typer(
    name="layout",
    help="Check, show and describe house layout files.",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    """Add ``scada layout …`` and ``scada houses`` to the main app."""
    app.add_typer(layout_app, name="layout")
    app.command(name="houses")(houses)


def _out(*, wrap: bool = False) -> Console:
    """Standard output; piped output is laid out 160 columns wide instead of rich's 80."""
    return Console(
        soft_wrap=not wrap,
        highlight=False,
        width=None if sys.stdout.isatty() else PIPE_WIDTH,
    )


def _err() -> Console:
    return Console(stderr=True, soft_wrap=True, highlight=False)


def _report(problems: tuple[LayoutProblem, ...] | list[LayoutProblem]) -> None:
    err = _err()
    for p in problems:
        err.print(Text(str(p)))


@layout_app.command("check")
def check(
    files: Annotated[list[Path], typer.Argument(help="Layout files to check.", show_default=False)],
) -> None:
    """Validate layout files: one 'ok' line per good file, one line per problem otherwise."""
    out = _out()
    failed = False
    for f in files:
        try:
            layout = load_layout(f)
        except LayoutError as e:
            failed = True
            _report(e.problems)
            continue
        out.print(
            Text(
                f"ok {f} ({layout.house.alias}, {len(layout.channels)} channels, "
                f"{len(layout.actuators)} actuators)"
            )
        )
    if failed:
        raise typer.Exit(1)


def _load_house_or_file(house_or_file: str) -> Layout:
    path = Path(house_or_file)
    if not (path.exists() or house_or_file.endswith(".json") or "/" in house_or_file):
        path = find_house(house_or_file)
    return load_layout(path)


@layout_app.command("show")
def show(
    house_or_file: Annotated[
        str,
        typer.Argument(
            help="A house alias (or a unique start of one) from the houses folder, or a file.",
            show_default=False,
        ),
    ],
) -> None:
    """Show a layout: the node tree, devices with their buses, channels, actuators, control."""
    try:
        layout = _load_house_or_file(house_or_file)
    except LayoutError as e:
        _report(e.problems)
        raise typer.Exit(1) from None
    out = _out(wrap=True)
    for part in render_layout(layout):
        out.print(part)
        out.print()


@layout_app.command("schema")
def schema(
    write: Annotated[
        bool, typer.Option("--write", help="Write input_data/layout.schema.json instead.")
    ] = False,
) -> None:
    """Print the JSON Schema of layout files (or write the committed copy with --write)."""
    text = layout_json_schema_text()
    if not write:
        sys.stdout.write(text)
        return
    target = schema_path()
    try:
        target.write_text(text, encoding="utf-8")
    except OSError as e:
        _err().print(Text(f"{target}: cannot write: {e.strerror or e}"))
        raise typer.Exit(1) from None
    _out().print(Text(f"wrote {target}"))


def _shown(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def _as_json(e: HouseEntry) -> dict[str, object]:
    return {
        "alias": e.alias,
        "display_name": e.display_name,
        "hardware": None if e.hardware is None else e.hardware.value,
        "simulated": None if e.hardware is None else e.simulated,
        "channels": e.channels,
        "actuators": e.actuators,
        "path": str(e.path),
        "valid": e.valid,
        "problems": [str(p) for p in e.problems],
    }


def houses(
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON list instead.")] = False,
) -> None:
    """List the houses in the houses folder ($SCADA_HOUSES_DIR or input_data/houses).

    Invalid files are listed as such, with their problems on stderr.
    """
    entries = list_houses()
    if as_json:
        sys.stdout.write(json.dumps([_as_json(e) for e in entries], indent=2) + "\n")
        return
    out = _out(wrap=True)
    if not entries:
        _err().print(Text(f"no house files (*.json) in {houses_dir()}"))
        return
    t = Table(title=f"Houses in {_shown(houses_dir())}", title_justify="left")
    for col in ("alias", "name", "hardware"):
        t.add_column(col)
    t.add_column("channels", justify="right")
    t.add_column("file")
    for e in entries:
        if e.hardware is None:
            kind = Text("invalid", style="bold red")
        elif e.simulated:
            kind = Text("simulated", style="cyan")
        else:
            kind = Text("real", style="bold red")
        t.add_row(
            Text(e.alias),
            Text(e.display_name),
            kind,
            Text(str(e.channels) if e.hardware is not None else ""),
            Text(_shown(e.path)),
        )
    out.print(t)
    for e in entries:
        _report(e.problems)
