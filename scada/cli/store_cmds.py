"""``scada store stats``: what the store-and-forward outbox holds, read-only.

Opens the store file read-only (beside a running SCADA, or without one) and prints one line per
section (tier 1 statuses and problems, tier 2 5-minute and tier 3 hourly aggregates) with
rows, messages in flight, data bytes, and the oldest and newest data; then the totals, the
pages in use against the cap, quarantined messages with their latest reasons, drops and
acknowledgements.
Exit status 1 (and one line on stderr) when there is no readable store.
"""

from __future__ import annotations

import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from scada.store import StoreDetails, StoreError, details_at, store_path

store_app = typer.Typer(
    name="store",
    help="Look at the store-and-forward outbox and its retention tiers.",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    """Add ``scada store …`` to the main app."""
    app.add_typer(store_app, name="store")


@store_app.command("stats")
def stats(
    data_dir: Annotated[
        Path | None,
        typer.Option(
            "--data-dir",
            help="The SCADA's data dir (default: $SCADA_DATA_DIR, then ~/.local/state/gwscada).",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the figures as JSON.")] = False,
) -> None:
    """Per tier: rows, oldest, newest, bytes; in flight; quarantined; drops; last ack."""
    if data_dir is None:
        from scada.runtime import data_dir_default

        data_dir = data_dir_default()
    try:
        details = details_at(store_path(data_dir))
    except StoreError as e:
        Console(stderr=True, highlight=False, soft_wrap=True).print(f"[red]error:[/] {e}")
        raise typer.Exit(1) from None
    if as_json:
        sys.stdout.write(json.dumps(details.to_json(), indent=2) + "\n")
        return
    _print(details)


def _when(t: datetime | None) -> str:
    return "—" if t is None else t.strftime("%Y-%m-%d %H:%M:%SZ")


def _mb(n: int) -> str:
    return f"{n / 1e6:.2f} MB"


def _print(d: StoreDetails) -> None:
    out = Console(highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() else 160)
    out.print(f"[bold]store[/] {d.path} (schema v{d.schema_version})")
    table = Table("tier", "holds", "rows", "in flight", "bytes", "oldest", "newest", box=None)
    for t in d.tiers:
        table.add_row(
            str(t.tier),
            t.name,
            str(t.rows),
            str(t.in_flight),
            _mb(t.size_bytes),
            _when(t.oldest),
            _when(t.newest),
        )
    table.add_row("", "total", str(d.pending), str(d.in_flight), _mb(d.data_bytes), "", "")
    out.print(table)
    alarm = "  [red]FILLING UP[/]" if d.fill_alarm else ""
    out.print(
        f"size: {_mb(d.size_bytes)} in use of a {_mb(d.cap_bytes)} cap ({100 * d.fill:.1f}%); "
        f"file {_mb(d.file_bytes)} with the WAL{alarm}"
    )
    out.print(
        f"oldest pending: {_when(d.oldest_pending_at)}; acked: {d.acked_total}, "
        f"last ack: {_when(d.last_ack_at)}; last compaction: {_when(d.last_compaction_at)}"
    )
    expired, capped = d.dropped_expired, d.dropped_cap
    out.print(
        f"dropped: {sum(expired)} past the last tier (tiers 1/2/3: "
        f"{'/'.join(map(str, expired))}), {sum(capped)} over the cap "
        f"({'/'.join(map(str, capped))}); statuses aggregated: {d.statuses_aggregated}"
    )
    out.print(f"quarantined: {d.quarantined} kept, {d.quarantined_total} in all")
    if d.moved_aside:
        out.print(f"[red]damaged store files moved aside and replaced: {d.moved_aside}[/]")
    for q in d.recent_quarantine:
        out.print(f"  {_when(q.at)} {q.kind} {q.id}: {q.reason}", markup=False)
