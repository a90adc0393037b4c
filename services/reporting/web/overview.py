"""The overview page: headline tiles, lagging and leading indicators."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from services.reporting.context import Ctx
from services.reporting.domain import headlines, periods

router = APIRouter(tags=["dashboard"])


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
async def overview(request: Request, ctx: Ctx) -> HTMLResponse:
    dictionary = ctx.dictionary
    who = ctx.viewer(request)
    tiles = await ctx.run(ctx.reporting.tiles, who.suppressed)
    state = await ctx.run(ctx.reporting.state)
    today = await ctx.run(ctx.reporting.today)
    groups = headlines.group_tiles(dictionary, tiles, headlines.load_headlines())
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
