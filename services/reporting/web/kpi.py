"""A KPI's page: trend, already-decided outcome, breakdowns, its alerts, the benchmark."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from services.reporting.adapters.upstream import NotFound, Unavailable
from services.reporting.auth import Viewer
from services.reporting.context import Context, Ctx
from services.reporting.domain import periods
from services.reporting.domain.kinds import trend_kinds
from services.reporting.web.access import error_message

router = APIRouter(tags=["dashboard"])


@router.get("/kpis/{kpi}", response_class=HTMLResponse, include_in_schema=False)
async def kpi_page(
    request: Request,
    ctx: Ctx,
    kpi: str,
    view: Annotated[Literal["month", "quarter", "week", "term", "plan_year"], Query()] = "month",
    cycle: Annotated[str | None, Query(max_length=16)] = None,
) -> HTMLResponse:
    dictionary = ctx.dictionary
    who = ctx.viewer(request)
    if kpi not in dictionary.kpis:
        return ctx.render(
            request,
            "error.html",
            404,
            viewer=who,
            title="Not found",
            heading="Page not found",
            message=f"There is no measure {kpi!r}.",
        )
    if cycle is not None and not periods.is_cycle(cycle):
        return ctx.render(
            request,
            "error.html",
            422,
            viewer=who,
            title="Bad request",
            heading="That period is not valid",
            message=f"{cycle!r} is not a period label such as 2026-10.",
        )
    k = dictionary.kpis[kpi]
    page = await ctx.run(ctx.reporting.kpi_page, kpi, who.suppressed, view, cycle)
    bench, bench_note = await ctx.run(ctx.reporting.benchmark, kpi, who.suppressed)
    alerts, alerts_total, alerts_error = await kpi_alerts(ctx, who, kpi)
    kinds = trend_kinds(k)
    return ctx.render(
        request,
        "kpi.html",
        viewer=who,
        title=k.name,
        nav="overview",
        kpi=kpi,
        k=k,
        page=page,
        kinds=kinds,
        period_title=periods.title(page.cycle) if page.cycle and page.cycle != "current" else "Now",
        alerts=alerts,
        alerts_total=alerts_total,
        alerts_error=alerts_error,
        benchmark=bench,
        benchmark_note=bench_note,
    )


async def kpi_alerts(
    ctx: Context, who: Viewer, kpi: str
) -> tuple[list[dict[str, Any]] | None, int, str]:
    """The KPI's alerts for a reader (open first, case-level ones last; none of those for
    a suppressed view), how many there are, and why they are missing (or "")."""
    if not who.can("read"):
        return None, 0, ""
    try:
        data = await ctx.upstreams.alerts(kpi=kpi, limit=200)
    except (Unavailable, NotFound) as exc:
        return None, 0, error_message(exc)
    rows = [a for a in data["alerts"] if not (who.suppressed and a.get("kind") == "milestone")]
    rows.sort(
        key=lambda a: (
            a.get("kind") == "milestone",
            a.get("status") not in ("open", "acknowledged"),
        )
    )
    total = len(rows) if who.suppressed else int(data.get("total", len(rows)))
    return rows[:15], total, ""
