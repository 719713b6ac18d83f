"""``scada config show``, ``scada doctor``, ``scada install-service`` and ``uninstall-service``.

Running the SCADA as a service on a Pi: :mod:`scada.settings`, :mod:`scada.doctor` and
:mod:`scada.install` do the work; this module parses options and prints.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from scada.doctor import Finding
    from scada.layout import Layout
    from scada.settings import LoadedSettings, SettingsError

config_app = typer.Typer(
    name="config",
    help="The settings of this installation (/etc/gwscada/scada.toml, SCADA_* variables).",
    no_args_is_help=True,
)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON.")]
RootOpt = Annotated[
    Path | None,
    typer.Option("--root", help="Install under this folder instead of into the system (tests)."),
]
PrefixOpt = Annotated[Path, typer.Option("--prefix", help="Where the venv goes.")]
DryRunOpt = Annotated[bool, typer.Option("--dry-run", help="Print the steps; change nothing.")]


def register(app: typer.Typer) -> None:
    app.add_typer(config_app, name="config")
    app.command("doctor")(doctor)
    app.command("install-service")(install_service)
    app.command("uninstall-service")(uninstall_service)


def _problems(e: SettingsError) -> None:
    for p in e.problems:
        sys.stderr.write(f"{p}\n")


@config_app.command("show")
def show(as_json: JsonOpt = False) -> None:
    """The effective settings, secrets masked, and where each value came from."""
    from scada.settings import SettingsError, load_settings

    try:
        loaded = load_settings()
    except SettingsError as e:
        _problems(e)
        raise typer.Exit(1) from None
    if as_json:
        sys.stdout.write(json.dumps(loaded.as_json(), indent=2) + "\n")
        return
    for label, path, exists in (
        ("settings", loaded.config_file, loaded.config_exists),
        ("secrets", loaded.secrets_file, loaded.secrets_exists),
    ):
        sys.stdout.write(f"{label + ' file:':<15} {path}{'' if exists else ' (absent)'}\n")
    sys.stdout.write("priority:       flags > SCADA_* environment > settings file > defaults\n\n")
    rows = loaded.rows()
    width = max(len(k) for k, _, _ in rows) + 2
    vwidth = min(44, max(len(v) for _, v, _ in rows) + 2)
    for key, value, origin in rows:
        sys.stdout.write(f"{key:<{width}}{value:<{vwidth}}{origin}\n")
    for note in loaded.warnings:
        sys.stderr.write(f"warning: {note}\n")


def doctor(
    house: Annotated[str | None, typer.Option("--house", help="Check this house.")] = None,
    layout: Annotated[Path | None, typer.Option("--layout", help="Check this layout.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Check this Pi for what an installer gets wrong: each line OK / WARN / FAIL and the fix.

    By default the house of the settings (/etc/gwscada/scada.toml). Exit status 1 if any
    check fails.
    """
    from scada.doctor import Probes, diagnose, exit_code, summary
    from scada.settings import SettingsError, load_settings

    if house and layout:
        sys.stderr.write("give --house or --layout, not both\n")
        raise typer.Exit(1)
    loaded: LoadedSettings | SettingsError
    try:
        loaded = load_settings()
    except SettingsError as e:
        loaded = e
    lay, lay_findings, hardware = _doctor_layout(house, layout, loaded)
    findings = diagnose(loaded, lay, Probes(), hardware=hardware, layout_findings=lay_findings)
    if as_json:
        data = {"findings": [f.as_json() for f in findings], "summary": summary(findings)}
        sys.stdout.write(json.dumps(data, indent=2) + "\n")
    else:
        for f in findings:
            sys.stdout.write(f.line() + "\n")
        sys.stdout.write(f"\n{summary(findings)}\n")
    raise typer.Exit(exit_code(findings))


def _doctor_layout(
    house: str | None, layout: Path | None, loaded: LoadedSettings | SettingsError
) -> tuple[Layout | None, list[Finding], bool]:
    """The layout to check, the findings about it, and whether to check its hardware."""
    from scada.doctor import fail, ok, warn
    from scada.layout import LayoutError, load_layout
    from scada.layout.houses import find_house
    from scada.settings import LoadedSettings

    settings = loaded.settings if isinstance(loaded, LoadedSettings) else None
    if house is None and layout is None and settings is not None:
        house, layout = settings.house, settings.layout
    if house is None and layout is None:
        what = "no house configured: the service runs the simulated demo house"
        fix = "set house (or layout) in /etc/gwscada/scada.toml"
        return None, [warn("layout", what, fix)], False
    try:
        path = layout or find_house(house or "")
        lay = load_layout(path)
    except LayoutError as e:
        fix = "scada houses lists the houses; scada layout check FILE explains a layout"
        return None, [fail("layout", str(p), fix) for p in e.problems[:10]], False
    simulated = lay.simulated or (settings is not None and settings.simulated)
    kind = "simulated: no hardware to check" if simulated else "real hardware"
    found = ok(
        "layout",
        f"house {lay.house.alias} from {path} ({len(lay.devices)} devices, {kind})",
    )
    return lay, [found], not simulated


def install_service(
    root: RootOpt = None,
    prefix: PrefixOpt = Path("/opt/gwscada"),
    user: Annotated[str, typer.Option("--user", help="The service's user and group.")] = "gwscada",
    dry_run: DryRunOpt = False,
    source: Annotated[
        Path | None, typer.Option("--source", help="The repository to install (default: this).")
    ] = None,
) -> None:
    """Install the SCADA as the systemd service gwscada (run with sudo; make install-pi)."""
    from scada.install import InstallOptions, run
    from scada.install_steps import InstallError

    try:
        code = run(
            "install", InstallOptions(prefix, user, source), root=root, dry_run=dry_run, out=print
        )
    except InstallError as e:
        sys.stderr.write(f"error: {e}\n")
        raise typer.Exit(1) from None
    raise typer.Exit(code)


def uninstall_service(
    root: RootOpt = None,
    prefix: PrefixOpt = Path("/opt/gwscada"),
    dry_run: DryRunOpt = False,
) -> None:
    """Remove the service, its venv and commands; keep /var/lib/gwscada and /etc/gwscada."""
    from scada.install import InstallOptions, run
    from scada.install_steps import InstallError

    try:
        code = run("uninstall", InstallOptions(prefix), root=root, dry_run=dry_run, out=print)
    except InstallError as e:
        sys.stderr.write(f"error: {e}\n")
        raise typer.Exit(1) from None
    raise typer.Exit(code)
