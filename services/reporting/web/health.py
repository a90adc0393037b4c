"""The health section: NHS community pathways (a tile each), the waiting list in the CHS
SitRep bands, capacity against demand, R5 status and the recovery plan's actions, and
the partnership view of health advice beside the 20-week outcome it feeds."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from contracts.referrals import load_referrals
from services.reporting.adapters.upstream import NotFound, Unavailable
from services.reporting.context import Ctx
from services.reporting.domain import health, periods
from services.reporting.web.access import error_message
from services.reporting.web.charts import svg

router = APIRouter(tags=["dashboard"])


@router.get("/health", response_class=HTMLResponse, include_in_schema=False)
async def health_page(request: Request, ctx: Ctx) -> HTMLResponse:
    config = load_referrals()
    dictionary = ctx.dictionary
    who = ctx.viewer(request)
    wanted = [p.waiting_kpi for p in config.pathways.values()]
    wanted += [config.chs_waiting_list.kpi, *config.r5_measures]
    if config.partnership is not None:
        wanted += [config.partnership.advice_kpi, config.partnership.outcome_kpi]
    values = {
        kpi: await ctx.run(ctx.reporting.published, kpi, who.suppressed)
        for kpi in dict.fromkeys(wanted)
        if kpi in dictionary.kpis
    }
    today = await ctx.run(ctx.reporting.today)
    chart, table, labels = health.bands(
        config, dictionary, values.get(config.chs_waiting_list.kpi, {})
    )
    r5: list[health.R5Row] | None = None
    r5_error = ""
    if who.can("read"):
        found: list[dict[str, Any]] = []
        try:
            for kpi in config.r5_measures:
                data = await ctx.upstreams.alerts(kpi=kpi, kind="escalation", limit=20)
                found += [a for a in data["alerts"] if not a.get("historical")]
            r5 = health.r5_rows(found, today)
        except (Unavailable, NotFound) as exc:
            r5_error = error_message(exc)
    page = health.HealthPage(
        tiles=health.tiles(config, dictionary, values),
        bands_chart=chart,
        band_table=table,
        band_labels=labels,
        capacity=health.capacity(config, dictionary, values),
        r5=r5,
        r5_error=r5_error,
        partnership=health.partnership(config, dictionary, values),
    )
    return ctx.render(
        request,
        "health.html",
        viewer=who,
        title="Health pathways",
        nav="health",
        page=page,
        bands_svg=svg(chart) if chart else None,
        data_date=periods.short_date(today) if today else "no data yet",
    )
