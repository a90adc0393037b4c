"""``sendwatch replay --reason TEXT [--from YYYY-MM-DD]``: ask the timeliness service for
an audited recomputation of its KPI cells (``POST /v1/replay``) after a change to what a
KPI counts.  Exit codes: 0 replayed, 1 the service refused or failed, 2 bad arguments,
3 the service did not answer."""

from __future__ import annotations

from datetime import date
from typing import Annotated

import typer

from cli.output import console, err
from sendwatch.config import get_settings

EXIT_REFUSED, EXIT_USAGE, EXIT_UNREACHABLE = 1, 2, 3


def replay_command(
    reason: Annotated[
        str, typer.Option(help="why the history is recomputed (kept in the audit trail)")
    ],
    from_day: Annotated[
        str | None,
        typer.Option(
            "--from", help="recompute the cycles ending on or after this day (YYYY-MM-DD)"
        ),
    ] = None,
    url: Annotated[
        str | None, typer.Option(help="timeliness API (default SENDWATCH_TIMELINESS_URL)")
    ] = None,
    token: Annotated[
        str | None,
        typer.Option(help="token with the operational role (default SENDWATCH_TIMELINESS_TOKEN)"),
    ] = None,
) -> None:
    """Recompute the KPI values from the stored subjects, audited: every closed cycle
    whose value changes goes up a revision and is published again."""
    import httpx

    if len(reason.strip()) < 3:
        err.print("--reason: say why the history is recomputed (at least 3 characters)")
        raise typer.Exit(EXIT_USAGE)
    body: dict[str, str] = {"reason": reason.strip()}
    if from_day is not None:
        try:
            body["from"] = date.fromisoformat(from_day).isoformat()
        except ValueError:
            err.print(f"--from: {from_day!r} is not a date in the form YYYY-MM-DD")
            raise typer.Exit(EXIT_USAGE) from None
    upstream = get_settings().upstream
    base = (url or upstream.timeliness_url).rstrip("/")
    try:
        r = httpx.post(
            f"{base}/v1/replay",
            json=body,
            headers={"Authorization": f"Bearer {token or upstream.timeliness_token}"},
            timeout=600,
        )
    except httpx.HTTPError as exc:
        err.print(f"the timeliness service at {base} did not answer ({type(exc).__name__})")
        raise typer.Exit(EXIT_UNREACHABLE) from None
    if r.status_code in (401, 403):
        err.print(
            f"the timeliness service refused the token ({r.status_code}): it needs the "
            "operational role (SENDWATCH_TIMELINESS_TOKEN or --token)"
        )
        raise typer.Exit(EXIT_REFUSED)
    if r.status_code != 200:
        err.print(f"replay failed: {r.status_code} {r.text[:500]}")
        raise typer.Exit(EXIT_REFUSED)
    report = r.json()
    since = f"from {body['from']}" if "from" in body else "over every cycle"
    console.print(
        f"Replayed {since}: {report['cells_changed']} value(s) changed, "
        f"{report['closed_restated']} closed cycle(s) restated (revision up), "
        f"{report['subjects']} subject(s) read. Recorded in the audit: {body['reason']}"
    )
