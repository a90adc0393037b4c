"""The downloads page: insight summaries, quarterly returns and DfE-layout files."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from services.reporting.context import Ctx
from services.reporting.domain import periods

router = APIRouter(tags=["dashboard"])


@router.get("/downloads", response_class=HTMLResponse, include_in_schema=False)
async def downloads(request: Request, ctx: Ctx) -> HTMLResponse:
    who = ctx.viewer(request)
    today = await ctx.run(ctx.reporting.today)
    quarters = await ctx.run(ctx.reporting.quarters_available)
    months: list[tuple[str, str]] = []
    years: list[int] = []
    if today is not None:
        y, m = today.year, today.month
        for _ in range(12):
            label = f"{y:04d}-{m:02d}"
            months.append((label, periods.title(label)))
            y, m = periods.add_months(y, m, -1)
        years = [today.year - i for i in range(3)]
    return ctx.render(
        request,
        "downloads.html",
        viewer=who,
        title="Downloads",
        nav="downloads",
        months=months,
        quarters=quarters,
        years=years,
    )
