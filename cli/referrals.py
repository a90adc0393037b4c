"""NHS community referrals on the command line:
``sendwatch import referrals REFERRALS.csv CONTACTS.csv [--wait]`` and
``sendwatch export chs-waiting-list --date YYYY-MM-DD``."""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path
from typing import Annotated

import typer

from cli.imports import (
    ALERTS_URL,
    REPORTING_URL,
    TIMELINESS_URL,
    IngestUrlOpt,
    TokenOpt,
    WaitOpt,
    run_import,
    wait_args,
)
from cli.output import err

DevKey = "dev-nhs-community-key"


def import_referrals_command(
    referrals: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, help="REFERRALS.csv (CSDS CYP101)")
    ],
    contacts: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, help="CONTACTS.csv (CSDS CYP201)")
    ],
    wait: WaitOpt = False,
    url: IngestUrlOpt = "http://127.0.0.1:8001",
    api_key: Annotated[str, typer.Option(envvar="SENDWATCH_NHS_API_KEY")] = DevKey,
    timeliness_url: str = TIMELINESS_URL,
    reporting_url: str = REPORTING_URL,
    alerts_url: str = ALERTS_URL,
    wait_timeout: float = 600.0,
    token: TokenOpt = None,
) -> None:
    """Import a CSDS-style referral extract as pseudonymised referral events (needs
    SENDWATCH_PSEUDONYM_KEY; NHS numbers, dates of birth and postcodes never leave this
    command).  Bad rows are reported by line and skipped; the exit status is 1 when any
    row was rejected."""
    from services.ingest.sources.csds.extract import ExtractFormatError
    from services.ingest.sources.csds.importer import ReferralImportSummary, import_referrals

    def notes(summary: ReferralImportSummary) -> list[str]:
        return summary.ingest_rejections

    run_import(
        wait,
        token,
        lambda key: import_referrals(
            referrals,
            contacts,
            url,
            api_key,
            key=key,
            **wait_args(wait, timeliness_url, reporting_url, alerts_url, wait_timeout, token),
        ),
        (ExtractFormatError,),
        notes,
    )


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
