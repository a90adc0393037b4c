"""``sendwatch report insight | quarterly``: documents from the reporting service."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from cli.output import console, err
from sendwatch.config import get_settings

report_app = typer.Typer(help="Documents from the reporting service (small numbers suppressed).")


@report_app.command("insight")
def report_insight(
    month: Annotated[str, typer.Option(help="the month, YYYY-MM")],
    fmt: Annotated[str, typer.Option("--format", help="md | html | pdf")] = "md",
    out: Annotated[Path | None, typer.Option(help="write to this file instead of stdout")] = None,
    url: Annotated[str, typer.Option(envvar="SENDWATCH_REPORTING_URL")] = "http://127.0.0.1:8000",
    token: Annotated[str | None, typer.Option(envvar="SENDWATCH_REPORTING_TOKEN")] = None,
) -> None:
    """The monthly insight summary: headline KPIs with RAG and movement, exceptions, what is due."""
    from services.reporting.reports import ReportError, fetch_insight

    if fmt not in ("md", "html", "pdf"):
        raise typer.BadParameter("--format must be md, html or pdf")
    try:
        body = fetch_insight(
            month, fmt, url=url, token=token, chromium=get_settings().reporting.chromium
        )
    except ReportError as exc:
        err.print(f"[red]insight summary failed:[/red] {exc}")
        raise typer.Exit(1) from None
    if out is not None:
        out.write_bytes(body)
        console.print(f"wrote {out}")
    elif fmt == "pdf":
        sys.stdout.buffer.write(body)
    else:
        sys.stdout.write(body.decode())


@report_app.command("quarterly")
def report_quarterly(
    quarter: Annotated[
        str | None, typer.Option(help="plan-year quarter, e.g. 2026/27-Q3 (default: all)")
    ] = None,
    out: Annotated[Path | None, typer.Option(help="write to this file instead of stdout")] = None,
    url: Annotated[str, typer.Option(envvar="SENDWATCH_REPORTING_URL")] = "http://127.0.0.1:8000",
    token: Annotated[str | None, typer.Option(envvar="SENDWATCH_REPORTING_TOKEN")] = None,
) -> None:
    """The quarterly data return (CSV): one row per KPI per quarter."""
    from services.reporting.reports import ReportError, fetch_quarterly

    try:
        text = fetch_quarterly(quarter, url=url, token=token)
    except ReportError as exc:
        err.print(f"[red]quarterly return failed:[/red] {exc}")
        raise typer.Exit(1) from None
    if out is not None:
        out.write_text(text)
        console.print(f"wrote {out}")
    else:
        sys.stdout.write(text)
