"""Alerts (``read`` role): the list with the open escalations, one alert's timeline, and
the development mode's notification outbox (operational role)."""

from __future__ import annotations

from typing import Annotated, Any, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from services.reporting.adapters.upstream import NotFound, Unavailable
from services.reporting.auth import Viewer
from services.reporting.context import Context, Ctx
from services.reporting.web.access import denied, error_message

router = APIRouter(tags=["dashboard"])

KPI_LEVEL_KINDS = ("deterioration", "escalation", "overdue")
PAGE = 50


@router.get("/alerts", response_class=HTMLResponse, include_in_schema=False)
async def alerts_page(
    request: Request,
    ctx: Ctx,
    status: Annotated[Literal["", "open", "acknowledged", "resolved", "superseded"], Query()] = "",
    kind: Annotated[
        Literal["", "deterioration", "escalation", "milestone", "overdue"], Query()
    ] = "",
    kpi: Annotated[str | None, Query(max_length=64)] = None,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> HTMLResponse:
    who = ctx.viewer(request)
    no = denied(ctx, request, who, "read")
    if no is not None:
        return no
    if kpi is not None and kpi not in ctx.dictionary.kpis:
        kpi = None
    error, total = "", 0
    rows: list[dict[str, Any]] = []
    try:
        rows, total = await alert_rows(ctx, who, status, kind, kpi, offset)
    except (Unavailable, NotFound) as exc:
        error = error_message(exc)
    esc_error, escalations = "", []
    try:
        escalations = (await ctx.upstreams.escalations()).get("open", [])
    except (Unavailable, NotFound) as exc:
        esc_error = error_message(exc)

    def query(at: int) -> str:
        q = {"status": status, "kind": kind, "kpi": kpi or "", "offset": max(0, at)}
        return urlencode({k: v for k, v in q.items() if v not in ("", None)})

    return ctx.render(
        request,
        "alerts.html",
        viewer=who,
        title="Alerts",
        nav="alerts",
        alerts=rows,
        total=total,
        offset=offset,
        limit=PAGE,
        status=status,
        kind=kind,
        kpi=kpi,
        kpi_name=ctx.dictionary.kpis[kpi].name if kpi else "",
        error=error,
        escalations=escalations,
        esc_error=esc_error,
        query=query,
        case_level_hidden=who.suppressed,
    )


async def alert_rows(
    ctx: Context, who: Viewer, status: str, kind: str, kpi: str | None, offset: int
) -> tuple[list[dict[str, Any]], int]:
    """One page of alerts and how many there are.  Case-level (milestone) alerts name
    cases, so a suppressed view sees only the KPI-level kinds."""
    if not who.suppressed:
        data = await ctx.upstreams.alerts(
            status=status or None, kind=kind or None, kpi=kpi, limit=PAGE, offset=offset
        )
        return data["alerts"], int(data.get("total", 0))
    if kind == "milestone":
        return [], 0
    merged: list[dict[str, Any]] = []
    for k in [kind] if kind else KPI_LEVEL_KINDS:
        data = await ctx.upstreams.alerts(status=status or None, kind=k, kpi=kpi, limit=5000)
        merged += data["alerts"]
    merged.sort(key=lambda a: str(a.get("updated_at") or ""), reverse=True)
    return merged[offset : offset + PAGE], len(merged)


@router.get("/alerts/outbox", response_class=HTMLResponse, include_in_schema=False)
async def outbox_page(
    request: Request, ctx: Ctx, offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0
) -> HTMLResponse:
    """Development mode's outbox: every notification with its text, recipients and
    case ids, so for the operational role only."""
    who = ctx.viewer(request)
    no = denied(ctx, request, who, "operational")
    if no is not None:
        return no
    try:
        data = await ctx.upstreams.outbox(limit=50, offset=offset)
    except (Unavailable, NotFound) as exc:
        return ctx.render(
            request,
            "outbox.html",
            viewer=who,
            title="Outbox",
            nav="alerts",
            error=error_message(exc),
            notifications=[],
        )
    return ctx.render(
        request,
        "outbox.html",
        viewer=who,
        title="Outbox",
        nav="alerts",
        error="",
        notifications=data.get("notifications", []),
        total=data.get("total", 0),
        pending=data.get("pending", {}),
        smtp=data.get("smtp_configured"),
    )


@router.get("/alerts/{alert_id}", response_class=HTMLResponse, include_in_schema=False)
async def alert_page(request: Request, ctx: Ctx, alert_id: str) -> HTMLResponse:
    who = ctx.viewer(request)
    no = denied(ctx, request, who, "read")
    if no is not None:
        return no

    def refuse(status: int, title: str, heading: str, message: str) -> HTMLResponse:
        return ctx.render(
            request,
            "error.html",
            status,
            viewer=who,
            title=title,
            heading=heading,
            message=message,
        )

    if not alert_id.replace("-", "").replace("_", "").isalnum() or len(alert_id) > 64:
        return refuse(404, "Not found", "Page not found", "There is no such alert.")
    try:
        a = await ctx.upstreams.alert(alert_id)
    except NotFound:
        return refuse(404, "Not found", "Page not found", f"There is no alert {alert_id}.")
    except Unavailable as exc:
        return refuse(503, "Unavailable", "Alerts service unavailable", error_message(exc))
    if who.suppressed and a.get("kind") == "milestone":
        return refuse(
            403,
            "Not available",
            "You cannot see this alert",
            "Case-level alerts are for the operational role.",
        )
    return ctx.render(
        request, "alert.html", viewer=who, title=str(a.get("title", "Alert")), nav="alerts", a=a
    )
