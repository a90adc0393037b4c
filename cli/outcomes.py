"""``sendwatch import figures`` and ``sendwatch import surveys``: DfE attendance and
exclusion figures, and survey waves, from CSV through the ingest API.  Bad rows are
reported by line and skipped; the exit code is 1 when any row was rejected."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import httpx
import typer

from cli.imports import import_app
from cli.output import console, err


def _import(kind: str, file: Path, url: str, api_key: str) -> None:
    from services.ingest.sources.outcomes import (
        CsvFormatError,
        Row,
        RowProblem,
        figure_rows,
        post_rows,
        survey_rows,
    )

    text = file.read_text(encoding="utf-8-sig")
    parse = figure_rows if kind == "figures" else survey_rows
    try:
        parsed = list(parse(text))
    except CsvFormatError as exc:
        err.print(f"[red]{file}:[/red] {exc}")
        raise typer.Exit(2) from exc
    rows = [r for r in parsed if isinstance(r, Row)]
    problems = [(p.line, p.reason, p.field, p.message) for p in parsed if isinstance(p, RowProblem)]
    try:
        problems += [(p.line, p.reason, p.field, p.message) for p in post_rows(rows, url, api_key)]
    except (httpx.HTTPError, RuntimeError) as exc:
        err.print(f"[red]import failed:[/red] {exc}")
        raise typer.Exit(2) from exc
    for line, reason, field, message in sorted(problems):
        where = f" ({field})" if field else ""
        err.print(f"{file.name}:{line}: {reason}{where}: {message}")
    accepted = len(rows) - sum(1 for p in problems if p[0] in {r.line for r in rows})
    console.print(f"{kind}: {accepted} rows imported, {len(problems)} rejected")
    if problems:
        raise typer.Exit(1)


FileArg = Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="CSV file")]
UrlOpt = Annotated[str, typer.Option(envvar="SENDWATCH_INGEST_URL")]
KeyOpt = Annotated[str, typer.Option(envvar="SENDWATCH_OUTCOMES_API_KEY")]


@import_app.command("figures")
def import_figures_command(
    file: FileArg,
    url: UrlOpt = "http://127.0.0.1:8001",
    api_key: KeyOpt = "dev-outcomes-key",
) -> None:
    """Import attendance and exclusion figures (measure, cohort, area, period, value
    [, pupils][, published]) as figure.reported events."""
    _import("figures", file, url, api_key)


@import_app.command("surveys")
def import_surveys_command(
    file: FileArg,
    url: UrlOpt = "http://127.0.0.1:8001",
    api_key: KeyOpt = "dev-outcomes-key",
) -> None:
    """Import survey waves (survey, wave, score, responses[, localities][, published]) as
    survey.result.reported events."""
    _import("surveys", file, url, api_key)
