"""``gwtui [--socket PATH] [--readonly] [--operator NAME]``: open the console.

argparse rather than typer: it keeps start-up (part of the 1 s first-frame budget) light.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from pathlib import Path

from gwtui import __version__
from gwtui.settings import ConsoleSettings


def default_operator() -> str:
    """``$GWTUI_OPERATOR``, else the login name, else ``installer``."""
    explicit = os.environ.get("GWTUI_OPERATOR", "").strip()
    if explicit:
        return explicit
    try:
        return getpass.getuser() or "installer"
    except (KeyError, OSError):
        return "installer"


def parse_args(argv: list[str] | None = None) -> ConsoleSettings:
    parser = argparse.ArgumentParser(
        prog="gwtui",
        description="GridWorks SpaceHeat console: watch and operate a running SCADA.",
    )
    parser.add_argument(
        "--socket",
        type=Path,
        default=None,
        help="the SCADA's socket (default: $SCADA_SOCKET, then the runtime dirs)",
    )
    parser.add_argument(
        "--readonly", action="store_true", help="watch only: nothing can be changed"
    )
    parser.add_argument(
        "--operator",
        default=None,
        help="your name for the audit log (default: $GWTUI_OPERATOR or your login)",
    )
    parser.add_argument(
        "--no-sim-offer",
        action="store_true",
        help="with no SCADA running, just wait instead of offering to start a simulated one",
    )
    parser.add_argument("--version", action="version", version=f"gwtui {__version__}")
    args = parser.parse_args(argv)
    operator = (args.operator or "").strip() or default_operator()
    return ConsoleSettings(
        socket=args.socket,
        readonly=args.readonly,
        operator=operator,
        offer_simulation=not args.no_sim_offer,
    )


def main(argv: list[str] | None = None) -> None:
    settings = parse_args(argv)
    from gwtui.app import GwtuiApp  # noqa: PLC0415 -- keep --help fast: no Textual import

    GwtuiApp(settings).run()
    sys.exit(0)


if __name__ == "__main__":
    main()
