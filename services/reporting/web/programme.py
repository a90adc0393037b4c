"""Programme delivery pages (``read`` role), read from the alerts service's programme
API: the programme view (milestones by quarter with RAG, dependencies and what they
threaten, exceptions, overdue recovery actions as a KPI of its own), the RAID log with
filters, and each forum's next agenda."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from services.reporting.adapters.upstream import NotFound, Unavailable
from services.reporting.context import Context, Ctx
from services.reporting.web.access import denied, error_message

router = APIRouter(tags=["dashboard"])
KINDS = ("risk", "assumption", "issue", "dependency")
STATUSES = ("open", "on_track", "at_risk", "off_track", "closed")
FORUMS = ("ws1", "ws2", "ws3", "qag", "pb", "ctg", "icb", "cab")


async def _programme(ctx: Context, path: str, params: dict[str, Any]) -> Any:
    query = {k: v for k, v in params.items() if v not in (None, "")}
    data = await ctx.upstreams._json("alerts", f"{ctx.upstreams.alerts_url}{path}", query)
    if not isinstance(data, dict):
        raise Unavailable("alerts", "unexpected answer")
    return data


@router.get("/programme", response_class=HTMLResponse, include_in_schema=False)
async def programme_page(
    request: Request, ctx: Ctx, as_of: Annotated[date | None, Query()] = None
) -> HTMLResponse:
    who = ctx.viewer(request)
    no = denied(ctx, request, who, "read")
    if no is not None:
        return no
    error, view = "", {}
    try:
        view = await _programme(ctx, "/v1/programme", {"as_of": as_of})
    except (Unavailable, NotFound) as exc:
        error = error_message(exc)
    return ctx.render(
        request,
        "programme.html",
        viewer=who,
        title="Programme",
        nav="programme",
        view=view,
        error=error,
    )


@router.get("/programme/raid", response_class=HTMLResponse, include_in_schema=False)
async def raid_page(
    request: Request,
    ctx: Ctx,
    kind: Annotated[Literal["", "risk", "assumption", "issue", "dependency"], Query()] = "",
    status: Annotated[
        Literal["", "open", "on_track", "at_risk", "off_track", "closed"], Query()
    ] = "",
    owner: Annotated[str, Query(max_length=40, pattern=r"^[a-z0-9-]*$")] = "",
    milestone: Annotated[str, Query(max_length=8, pattern=r"^(o\d{2}-q\d)?$")] = "",
) -> HTMLResponse:
    who = ctx.viewer(request)
    no = denied(ctx, request, who, "read")
    if no is not None:
        return no
    error, log = "", {"items": [], "total": 0}
    try:
        log = await _programme(
            ctx,
            "/v1/programme/raid",
            {"kind": kind, "status": status, "owner": owner, "milestone": milestone},
        )
    except (Unavailable, NotFound) as exc:
        error = error_message(exc)
    return ctx.render(
        request,
        "programme_raid.html",
        viewer=who,
        title="RAID log",
        nav="programme",
        log=log,
        error=error,
        kind=kind,
        status=status,
        owner=owner,
        milestone=milestone,
        kinds=KINDS,
        statuses=STATUSES,
    )


@router.get("/programme/agenda/{forum}", response_class=HTMLResponse, include_in_schema=False)
async def agenda_page(request: Request, ctx: Ctx, forum: str) -> HTMLResponse:
    who = ctx.viewer(request)
    no = denied(ctx, request, who, "read")
    if no is not None:
        return no
    error, agenda = "", {}
    try:
        agenda = await _programme(ctx, f"/v1/programme/agenda/{forum[:40]}", {})
    except NotFound:
        return ctx.render(
            request,
            "error.html",
            404,
            viewer=who,
            title="Not found",
            heading="No such forum",
            message=f"There is no forum {forum[:40]!r}.",
        )
    except Unavailable as exc:
        error = error_message(exc)
    return ctx.render(
        request,
        "programme_agenda.html",
        viewer=who,
        title="Next agenda",
        nav="programme",
        agenda=agenda,
        error=error,
        forums=FORUMS,
    )
