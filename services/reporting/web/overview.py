"""The overview page: headline tiles, lagging and leading indicators."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from services.reporting.context import Ctx
from services.reporting.domain import periods

router = APIRouter(tags=["dashboard"])


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
async def overview(request: Request, ctx: Ctx) -> HTMLResponse:
    dictionary = ctx.dictionary
    who = ctx.viewer(request)
    tiles = await ctx.run(ctx.reporting.tiles, who.suppressed)
    state = await ctx.run(ctx.reporting.state)
    today = await ctx.run(ctx.reporting.today)
    lagging = [
        t
        for t in tiles
        if dictionary.kpis[t.kpi].limit_days == 140
        and dictionary.kpis[t.kpi].measure == "within_days"
    ]
    leading = [t for t in tiles if t not in lagging]
    groups = [
        {
            "title": "Outcomes (lagging indicators)",
            "hint": "EHC plans issued within the statutory 20 weeks (Reform Plan K1).",
            "tiles": lagging,
        },
        {
            "title": "Leading indicators",
            "hint": "Early steps of the statutory process, the caseload and the backlog: "
            "they show where the 20-week outcome is heading.",
            "tiles": leading,
        },
    ]
    others = [(kpi, k.name) for kpi, k in dictionary.kpis.items() if not k.headline]
    stale = False
    if state is not None and state.received_at is not None:
        received = state.received_at
        if received.tzinfo is None:
            received = received.replace(tzinfo=UTC)
        stale = datetime.now(UTC) - received > timedelta(hours=1)
    return ctx.render(
        request,
        "overview.html",
        viewer=who,
        title="Overview",
        nav="overview",
        groups=groups,
        others=others,
        data_date=periods.short_date(today) if today else "no data yet",
        stale=stale,
    )
