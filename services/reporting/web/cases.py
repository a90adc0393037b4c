"""Cases at risk: open cases by days to their next statutory deadline (operational role)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from services.reporting.adapters.upstream import NotFound, Unavailable
from services.reporting.context import Ctx
from services.reporting.web.access import denied, error_message

router = APIRouter(tags=["dashboard"])

MILESTONES = {
    "decision_to_assess": "Decision whether to assess (6 weeks)",
    "not_issue_decision": "Decision not to issue (16 weeks)",
    "draft_plan": "Draft plan (18 weeks)",
    "final_plan": "Final plan (20 weeks)",
}


@router.get("/cases-at-risk", response_class=HTMLResponse, include_in_schema=False)
async def cases_page(
    request: Request,
    ctx: Ctx,
    locality: Annotated[str | None, Query(max_length=40)] = None,
) -> HTMLResponse:
    who = ctx.viewer(request)
    no = denied(ctx, request, who, "operational")
    if no is not None:
        return no
    locality = locality or None
    try:
        data = await ctx.upstreams.cases_at_risk(limit=5000)
    except (Unavailable, NotFound) as exc:
        return ctx.render(
            request,
            "cases.html",
            viewer=who,
            title="Cases at risk",
            nav="cases",
            error=error_message(exc),
        )
    every = data["cases"]
    localities = sorted({str(c.get("locality")) for c in every if c.get("locality")})
    chosen = [c for c in every if locality is None or c.get("locality") == locality]
    shown_cases = chosen[:500]
    return ctx.render(
        request,
        "cases.html",
        viewer=who,
        title="Cases at risk",
        nav="cases",
        as_of=data.get("as_of"),
        cases=shown_cases,
        total=len(chosen),
        shown_count=len(shown_cases),
        overdue=sum(1 for c in chosen if (c.get("days_left") or 0) < 0),
        localities=localities,
        locality=locality,
        milestones=MILESTONES,
        error="",
    )
