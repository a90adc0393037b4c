"""``sendwatch import sen2``: a DfE SEN2 return through the ingest API."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from cli.output import console, err

import_app = typer.Typer(help="Backfill imports.")


def refuse_unsafe_import(wait: bool, token: str | None) -> None:
    """What every personal-data import refuses before it reads a line: the shipped
    development pseudonymisation key outside development mode, and ``--wait`` without a
    token for the service APIs.  Exit status 2."""
    from sendwatch.config import get_settings
    from sendwatch.devmode import dev_pseudonym_key
    from services.ingest.sources.sen2.pseudonymise import KEY_ENV

    if dev_pseudonym_key(os.environ.get(KEY_ENV)) and not get_settings().dev:
        err.print(
            f"[red]import refused:[/red] {KEY_ENV} is the development pseudonymisation key; "
            "use your own secret (or set SENDWATCH_DEV=1 on a development machine)"
        )
        raise typer.Exit(2)
    if wait and not token:
        err.print(
            "[red]import refused:[/red] --wait calls the service APIs, which need a token: "
            "set SENDWATCH_TOKEN (or --token) to one with the operational and read roles"
        )
        raise typer.Exit(2)


def _settings_lookup(path: Path) -> dict[str, str]:
    """URN/UKPRN -> DfE caseload setting type, from a CSV with columns urn,setting_type."""
    import csv

    from contracts.placement_codes import DfeSetting

    known = {s.value for s in DfeSetting}
    out: dict[str, str] = {}
    with path.open(encoding="utf-8-sig", newline="") as f:
        for n, row in enumerate(csv.DictReader(f), start=2):
            urn, setting = (row.get("urn") or "").strip(), (row.get("setting_type") or "").strip()
            if not urn.isdigit() or setting not in known:
                raise ValueError(f"{path.name} line {n}: needs a numeric urn and a setting_type")
            out[urn] = setting
    return out


@import_app.command("sen2")
def import_sen2_command(
    file: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, help="SEN2 person-level XML")
    ],
    wait: Annotated[bool, typer.Option(help="return once every service has processed it")] = False,
    url: Annotated[str, typer.Option(envvar="SENDWATCH_INGEST_URL")] = "http://127.0.0.1:8001",
    api_key: Annotated[str, typer.Option(envvar="SENDWATCH_SEN2_API_KEY")] = "dev-sen2-import-key",
    timeliness_url: str = "http://127.0.0.1:8002",
    reporting_url: str = "http://127.0.0.1:8000",
    alerts_url: str = "http://127.0.0.1:8003",
    batch_size: int = 5000,
    wait_timeout: float = 1800.0,
    placements: Annotated[
        bool, typer.Option(help="also the active plans and their placements (placement events)")
    ] = True,
    settings: Annotated[
        Path | None,
        typer.Option(
            exists=True,
            dir_okay=False,
            help="CSV urn,setting_type (GIAS extract): a placement's type of setting",
        ),
    ] = None,
    token: Annotated[
        str | None,
        typer.Option(
            envvar="SENDWATCH_TOKEN",
            help="with --wait: API token (roles operational and read) for the status calls",
        ),
    ] = None,
) -> None:
    """Import a DfE SEN2 return as pseudonymised historic case events (needs
    SENDWATCH_PSEUDONYM_KEY; names, dates of birth, UPN/ULN and postcodes never leave
    this command)."""
    from services.ingest.sources.sen2.importer import ImportProgress, Sen2ImportError, import_sen2
    from services.ingest.sources.sen2.parse import Sen2FormatError
    from services.ingest.sources.sen2.pseudonymise import KEY_ENV, PseudonymKeyError

    refuse_unsafe_import(wait, token)

    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=err,
    ) as progress:
        task = progress.add_task("sen2", total=None)

        def show(p: ImportProgress) -> None:
            progress.update(task, description=p.stage, completed=p.done, total=p.total)

        try:
            summary = import_sen2(
                file,
                url,
                api_key,
                key=os.environ.get(KEY_ENV),
                batch_size=batch_size,
                wait=wait,
                timeliness_url=timeliness_url if wait else None,
                reporting_url=(reporting_url or None) if wait else None,
                alerts_url=(alerts_url or None) if wait else None,
                wait_timeout=wait_timeout,
                on_progress=show,
                token=token,
                placements=placements,
                settings=_settings_lookup(settings) if settings else None,
            )
        except (PseudonymKeyError, Sen2FormatError, Sen2ImportError, ValueError) as exc:
            err.print(f"[red]import refused:[/red] {exc}")
            raise typer.Exit(2) from None
    for problem in summary.problems:
        err.print(str(problem))
    for line in summary.lines():
        console.print(line)
    raise typer.Exit(0 if summary.ok else 1)


# --- placements and sufficiency ----------------------------------------------------------


@import_app.command("placements")
def import_placements_command(
    file: Annotated[
        Path,
        typer.Argument(
            exists=True, dir_okay=False, help="case-management extract, one row per placement"
        ),
    ],
    wait: Annotated[bool, typer.Option(help="return once every service has processed it")] = False,
    url: Annotated[str, typer.Option(envvar="SENDWATCH_INGEST_URL")] = "http://127.0.0.1:8001",
    api_key: Annotated[
        str, typer.Option(envvar="SENDWATCH_PLACEMENTS_API_KEY")
    ] = "dev-placements-key",
    timeliness_url: str = "http://127.0.0.1:8002",
    reporting_url: str = "http://127.0.0.1:8000",
    alerts_url: str = "http://127.0.0.1:8003",
    wait_timeout: float = 600.0,
    token: Annotated[
        str | None,
        typer.Option(envvar="SENDWATCH_TOKEN", help="with --wait: token for the status calls"),
    ] = None,
) -> None:
    """Import a placement extract as pseudonymised placement events (needs
    SENDWATCH_PSEUDONYM_KEY; person ids, dates of birth and postcodes never leave this
    command).  Bad rows are reported by line number and skipped; exit 1 if any was."""
    from services.ingest.sources.placements.importer import (
        PlacementImportError,
        import_placements,
    )
    from services.ingest.sources.sen2.pseudonymise import KEY_ENV, PseudonymKeyError

    refuse_unsafe_import(wait, token)
    try:
        summary = import_placements(
            file,
            url,
            api_key,
            key=os.environ.get(KEY_ENV),
            wait=wait,
            timeliness_url=timeliness_url if wait else None,
            reporting_url=(reporting_url or None) if wait else None,
            alerts_url=(alerts_url or None) if wait else None,
            wait_timeout=wait_timeout,
            token=token,
        )
    except (PseudonymKeyError, PlacementImportError, ValueError, UnicodeDecodeError) as exc:
        err.print(f"[red]import refused:[/red] {exc}")
        raise typer.Exit(2) from None
    for problem in summary.problems:
        err.print(str(problem))
    for line in summary.lines():
        console.print(line)
    raise typer.Exit(0 if summary.ok else 1)
