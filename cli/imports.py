"""``sendwatch import sen2``: a DfE SEN2 return through the ingest API."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Annotated, NoReturn, Protocol, TypedDict, TypeVar

import typer

from cli.output import console, err, progress_bar

import_app = typer.Typer(help="Backfill imports.")

# The options every import through ingest shares (the ingest URL, the services a --wait
# polls, the token for those polls).
WaitOpt = Annotated[bool, typer.Option(help="return once every service has processed it")]
IngestUrlOpt = Annotated[str, typer.Option(envvar="SENDWATCH_INGEST_URL")]
TokenOpt = Annotated[
    str | None,
    typer.Option(
        envvar="SENDWATCH_TOKEN",
        help="with --wait: API token (roles operational and read) for the status calls",
    ),
]
TIMELINESS_URL = "http://127.0.0.1:8002"
REPORTING_URL = "http://127.0.0.1:8000"
ALERTS_URL = "http://127.0.0.1:8003"


class WaitArgs(TypedDict):
    """An importer's wait arguments (its ``WaitOptions``)."""

    wait: bool
    timeliness_url: str | None
    reporting_url: str | None
    alerts_url: str | None
    wait_timeout: float
    token: str | None


def wait_args(
    wait: bool,
    timeliness_url: str,
    reporting_url: str,
    alerts_url: str,
    wait_timeout: float,
    token: str | None,
) -> WaitArgs:
    """The URLs only with --wait (an empty one: not waited for)."""
    return WaitArgs(
        wait=wait,
        timeliness_url=timeliness_url if wait else None,
        reporting_url=(reporting_url or None) if wait else None,
        alerts_url=(alerts_url or None) if wait else None,
        wait_timeout=wait_timeout,
        token=token,
    )


class ImportOutcome(Protocol):
    @property
    def problems(self) -> Sequence[object]: ...

    @property
    def ok(self) -> bool: ...

    def lines(self) -> list[str]: ...


S = TypeVar("S", bound=ImportOutcome)


def run_import(
    wait: bool,
    token: str | None,
    start: Callable[[str | None], S],
    refused: tuple[type[Exception], ...] = (),
    notes: Callable[[S], Iterable[str]] = lambda summary: (),
) -> NoReturn:
    """Run one personal-data import the same way for every source: refuse what
    :func:`refuse_unsafe_import` refuses, call ``start(key)`` with the pseudonymisation
    key, and on a refusal (a bad key, file or parameter, or ingest refusing or staying
    down) print it and exit 2.  Otherwise print each problem (by line or position, never
    a value) and ``notes`` to stderr, the summary's lines to stdout, and exit 1 when
    anything was not imported or not applied, else 0."""
    from services.ingest.sources.posting import IngestPostError
    from services.ingest.sources.sen2.pseudonymise import KEY_ENV, PseudonymKeyError

    refuse_unsafe_import(wait, token)
    errors: tuple[type[Exception], ...] = (PseudonymKeyError, IngestPostError, ValueError)
    try:
        summary = start(os.environ.get(KEY_ENV))
    except errors + refused as exc:
        err.print(f"[red]import refused:[/red] {exc}")
        raise typer.Exit(2) from None
    for note in (*map(str, summary.problems), *notes(summary)):
        err.print(note, markup=False, highlight=False)
    for line in summary.lines():
        console.print(line)
    raise typer.Exit(0 if summary.ok else 1)


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
    wait: WaitOpt = False,
    url: IngestUrlOpt = "http://127.0.0.1:8001",
    api_key: Annotated[str, typer.Option(envvar="SENDWATCH_SEN2_API_KEY")] = "dev-sen2-import-key",
    timeliness_url: str = TIMELINESS_URL,
    reporting_url: str = REPORTING_URL,
    alerts_url: str = ALERTS_URL,
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
    token: TokenOpt = None,
) -> None:
    """Import a DfE SEN2 return as pseudonymised historic case events (needs
    SENDWATCH_PSEUDONYM_KEY; names, dates of birth, UPN/ULN and postcodes never leave
    this command)."""
    from services.ingest.sources.sen2.importer import ImportProgress, ImportSummary, import_sen2
    from services.ingest.sources.sen2.parse import Sen2FormatError

    def start(key: str | None) -> ImportSummary:
        with progress_bar() as progress:
            task = progress.add_task("sen2", total=None)

            def show(p: ImportProgress) -> None:
                progress.update(task, description=p.stage, completed=p.done, total=p.total)

            return import_sen2(
                file,
                url,
                api_key,
                key=key,
                batch_size=batch_size,
                on_progress=show,
                placements=placements,
                settings=_settings_lookup(settings) if settings else None,
                **wait_args(wait, timeliness_url, reporting_url, alerts_url, wait_timeout, token),
            )

    run_import(wait, token, start, (Sen2FormatError,))


# --- placements and sufficiency ----------------------------------------------------------


@import_app.command("placements")
def import_placements_command(
    file: Annotated[
        Path,
        typer.Argument(
            exists=True, dir_okay=False, help="case-management extract, one row per placement"
        ),
    ],
    wait: WaitOpt = False,
    url: IngestUrlOpt = "http://127.0.0.1:8001",
    api_key: Annotated[
        str, typer.Option(envvar="SENDWATCH_PLACEMENTS_API_KEY")
    ] = "dev-placements-key",
    timeliness_url: str = TIMELINESS_URL,
    reporting_url: str = REPORTING_URL,
    alerts_url: str = ALERTS_URL,
    wait_timeout: float = 600.0,
    token: TokenOpt = None,
) -> None:
    """Import a placement extract as pseudonymised placement events (needs
    SENDWATCH_PSEUDONYM_KEY; person ids, dates of birth and postcodes never leave this
    command).  Bad rows are reported by line number and skipped; exit 1 if any was."""
    from services.ingest.sources.placements.importer import import_placements

    run_import(
        wait,
        token,
        lambda key: import_placements(
            file,
            url,
            api_key,
            key=key,
            **wait_args(wait, timeliness_url, reporting_url, alerts_url, wait_timeout, token),
        ),
    )
