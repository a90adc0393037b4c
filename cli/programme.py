"""``sendwatch import raid``: an existing RAID log spreadsheet (CSV) through ingest."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cli.imports import import_app
from cli.output import console, err


@import_app.command("raid")
def import_raid_command(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="RAID log CSV")],
    url: Annotated[str, typer.Option(envvar="SENDWATCH_INGEST_URL")] = "http://127.0.0.1:8001",
    api_key: Annotated[str, typer.Option(envvar="SENDWATCH_PMO_API_KEY")] = "dev-pmo-key",
    check: Annotated[bool, typer.Option(help="check the file only; send nothing")] = False,
) -> None:
    """Import a RAID and dependency log (CSV) as programme events; bad rows are reported
    by line and skipped; the exit code is 1 when any row was rejected."""
    from services.ingest.sources.raid_csv import import_raid, read_raid_csv

    try:
        result = read_raid_csv(file) if check else import_raid(file, url, api_key)
    except (RuntimeError, OSError) as exc:
        err.print(f"[red]import refused:[/red] {exc}")
        raise typer.Exit(2) from None
    for p in result.problems:
        where = f" ({p.field})" if p.field else ""
        err.print(f"line {p.line}{where}: {p.message}")
    sent = len(result.events) if check else result.accepted
    verb = "valid" if check else "accepted"
    console.print(f"{result.rows} rows: {sent} {verb}, {result.rejected} rejected")
    raise typer.Exit(1 if result.rejected else 0)
