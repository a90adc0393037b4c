"""``sendwatch export dfe-timeliness | dfe-requests``: DfE-layout CSV from the timeliness
service, to stdout."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from cli.output import err

export_app = typer.Typer(help="DfE-layout exports, computed by the timeliness service.")


TokenOption = Annotated[
    str | None,
    typer.Option(
        envvar="SENDWATCH_TOKEN", help="API token with the operational role (timeliness API)"
    ),
]


def _export(name: str, year: int | None, url: str, token: str | None, **params: str) -> None:
    import httpx

    if not token:
        err.print("export needs a token: set SENDWATCH_TOKEN (or --token), role operational")
        raise typer.Exit(2)
    r = httpx.get(
        f"{url.rstrip('/')}/v1/exports/{name}",
        params={"year": year, **params} if year is not None else params,
        headers={"Authorization": f"Bearer {token}"},
        timeout=300,
    )
    if r.status_code != 200:
        err.print(f"export failed: {r.status_code} {r.text}")
        raise typer.Exit(1)
    sys.stdout.write(r.text)


@export_app.command("dfe-timeliness")
def export_dfe_timeliness(
    year: Annotated[int, typer.Option(help="calendar year of the final plans' issue dates")],
    url: Annotated[str, typer.Option(envvar="SENDWATCH_TIMELINESS_URL")] = "http://127.0.0.1:8002",
    token: TokenOption = None,
) -> None:
    """CSV in the columns of DfE's timeliness_20_week.csv, to stdout."""
    _export("dfe-timeliness", year, url, token)


@export_app.command("dfe-requests")
def export_dfe_requests(
    year: Annotated[int, typer.Option(help="calendar year")],
    url: Annotated[str, typer.Option(envvar="SENDWATCH_TIMELINESS_URL")] = "http://127.0.0.1:8002",
    token: TokenOption = None,
) -> None:
    """CSV in the columns of DfE's requests.csv (including the 6-week decision measure)."""
    _export("dfe-requests", year, url, token)


# --- placements and sufficiency ----------------------------------------------------------


@export_app.command("dfe-caseload")
def export_dfe_caseload(
    on: Annotated[
        str, typer.Option("--date", help="census day YYYY-MM-DD (DfE: the January census)")
    ],
    url: Annotated[str, typer.Option(envvar="SENDWATCH_TIMELINESS_URL")] = "http://127.0.0.1:8002",
    token: TokenOption = None,
) -> None:
    """CSV in the columns of DfE's caseload.csv: the LA's All EHC plans row on that day."""
    from datetime import date

    try:
        date.fromisoformat(on)
    except ValueError:
        err.print(f"--date: {on!r} is not a date YYYY-MM-DD")
        raise typer.Exit(2) from None
    _export("dfe-caseload", None, url, token, date=on)
