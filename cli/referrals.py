"""NHS community referrals on the command line:
``sendwatch import referrals REFERRALS.csv CONTACTS.csv [--wait]`` and
``sendwatch export chs-waiting-list --date YYYY-MM-DD``."""

from __future__ import annotations

import os
import sys
from datetime import date
from pathlib import Path
from typing import Annotated

import typer

from cli.output import console, err

DevKey = "dev-nhs-community-key"


def import_referrals_command(
    referrals: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, help="REFERRALS.csv (CSDS CYP101)")
    ],
    contacts: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, help="CONTACTS.csv (CSDS CYP201)")
    ],
    wait: Annotated[bool, typer.Option(help="return once every service has processed it")] = False,
    url: Annotated[str, typer.Option(envvar="SENDWATCH_INGEST_URL")] = "http://127.0.0.1:8001",
    api_key: Annotated[str, typer.Option(envvar="SENDWATCH_NHS_API_KEY")] = DevKey,
    timeliness_url: str = "http://127.0.0.1:8002",
    reporting_url: str = "http://127.0.0.1:8000",
    alerts_url: str = "http://127.0.0.1:8003",
    wait_timeout: float = 600.0,
    token: Annotated[
        str | None,
        typer.Option(envvar="SENDWATCH_TOKEN", help="with --wait: API token for the status calls"),
    ] = None,
) -> None:
    """Import a CSDS-style referral extract as pseudonymised referral events (needs
    SENDWATCH_PSEUDONYM_KEY; NHS numbers, dates of birth and postcodes never leave this
    command).  Bad rows are reported by line and skipped; the exit status is 1 when any
    row was rejected."""
    from cli.imports import refuse_unsafe_import
    from services.ingest.sources.csds.extract import ExtractFormatError
    from services.ingest.sources.csds.importer import ReferralImportError, import_referrals
    from services.ingest.sources.sen2.pseudonymise import KEY_ENV, PseudonymKeyError

    refuse_unsafe_import(wait, token)
    try:
        summary = import_referrals(
            referrals,
            contacts,
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
    except (PseudonymKeyError, ExtractFormatError, ReferralImportError, ValueError) as exc:
        err.print(f"[red]import refused:[/red] {exc}")
        raise typer.Exit(2) from None
    for problem in summary.problems:
        err.print(str(problem), markup=False, highlight=False)
    for line in summary.ingest_rejections:
        err.print(line, markup=False, highlight=False)
    for line in summary.lines():
        console.print(line)
    raise typer.Exit(0 if summary.ok else 1)


def export_chs_command(
    day: Annotated[str, typer.Option("--date", help="census day, YYYY-MM-DD")],
    url: Annotated[str, typer.Option(envvar="SENDWATCH_TIMELINESS_URL")] = "http://127.0.0.1:8002",
    token: Annotated[
        str | None,
        typer.Option(envvar="SENDWATCH_TOKEN", help="API token with the operational role"),
    ] = None,
) -> None:
    """The community waiting list as it stood on --date, in the CHS SitRep layout (CSV to
    stdout: a row per pathway, then all)."""
    import httpx

    try:
        date.fromisoformat(day)
    except ValueError:
        err.print(f"--date: {day!r} is not a date in the form YYYY-MM-DD")
        raise typer.Exit(2) from None
    if not token:
        err.print("export needs a token: set SENDWATCH_TOKEN (or --token), role operational")
        raise typer.Exit(2)
    r = httpx.get(
        f"{url.rstrip('/')}/v1/referrals/chs-waiting-list",
        params={"date": day},
        headers={"Authorization": f"Bearer {token}"},
        timeout=300,
    )
    if r.status_code != 200:
        err.print(f"export failed: {r.status_code} {r.text}")
        raise typer.Exit(1)
    sys.stdout.write(r.text)


def register(import_app: typer.Typer, export_app: typer.Typer) -> None:
    import_app.command("referrals")(import_referrals_command)
    export_app.command("chs-waiting-list")(export_chs_command)
