"""Sufficiency: the placement profile (placements and sufficiency, Reform Plan K20, §10.2,
§2.2): the headline share against its trajectory, placements by type of setting over
time (DfE's caseload groups at month ends), inclusion base occupancy against
commissioned places by phase and base, out-of-area and distance, and, for the
operational role, the high-cost decisions awaiting review.  Which KPIs it shows is
configuration (``contracts/placements.yaml`` ``dashboard``); nothing here names one."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from contracts import cycles
from contracts.placement_codes import CASELOAD_GROUPS
from contracts.placements import load_placements
from sendwatch.config import get_settings
from services.reporting.adapters.upstream import NotFound, Unavailable
from services.reporting.context import Ctx
from services.reporting.domain.chart_data import LineChart, Series
from services.reporting.service import Values
from services.reporting.web.access import error_message
from services.reporting.web.charts import svg

router = APIRouter(tags=["dashboard"])
GROUPS = (*CASELOAD_GROUPS, "nm_early_years", "placement_unknown")
GROUP_LABELS = {
    "mainstream_total": "Mainstream schools",
    "special_total": "Special schools",
    "ap_pru_total": "Alternative provision / PRU",
    "fe_total": "Further education and post-16",
    "ed_elsewhere": "Educated elsewhere",
    "nm_early_years": "Non-maintained early years",
    "placement_unknown": "Placement not recorded",
}


def month_ends(today: date, n: int) -> list[date]:
    out: list[date] = []
    first = today.replace(day=1)
    for _ in range(n):
        out.append(first - timedelta(days=1))
        first = (first - timedelta(days=1)).replace(day=1)
    return sorted(out)


def _rows(values: Values, cycle: str, prefix: str) -> list[dict[str, Any]]:
    out = []
    for (c, b), p in sorted(values.items()):
        if c == cycle and b.startswith(prefix):
            out.append(
                {
                    "group": b.split("=", 1)[1],
                    "value": p.value,
                    "filled": p.numerator,
                    "places": p.denominator,
                    "suppressed": p.suppressed,
                }
            )
    return out


def _num(v: object) -> float | None:
    return float(v) if isinstance(v, int | float) else None


def _current(values: Values) -> Any:
    return values.get(("current", "all"))


def _trend(ctx: Any, kpi: str, values: Values) -> tuple[list[dict[str, Any]], str]:
    k = ctx.dictionary.kpis[kpi]
    months = sorted(
        (c for c, b in values if b == "all" and cycles.kind_of(c) == "month"),
        key=lambda c: cycles.bounds(c, ctx.dictionary.plan_year_start_month)[0],
    )[-12:]
    rows = []
    for c in months:
        p = values[(c, "all")]
        rows.append(
            {
                "cycle": c,
                "value": p.value,
                "goal": p.source.goal,
                "target": p.source.target,
                "rag": p.rag,
                "numerator": p.numerator,
                "denominator": p.denominator,
            }
        )
    chart = ""
    if rows:
        chart = svg(
            LineChart(
                title=k.name,
                description=f"{k.name} by month, against its goal",
                x_labels=[str(r["cycle"]) for r in rows],
                series=[
                    Series("Value", [_num(r["value"]) for r in rows]),
                    Series(
                        "Goal", [_num(r["goal"]) for r in rows], dash="6 4", marker=None, step=True
                    ),
                ],
                chart_id="sufficiency-share",
            )
        )
    return rows, chart


@router.get("/sufficiency", response_class=HTMLResponse, include_in_schema=False)
async def sufficiency_page(request: Request, ctx: Ctx) -> HTMLResponse:
    who = ctx.viewer(request)
    view = load_placements(str(get_settings().files.placements)).dashboard
    known = ctx.dictionary.kpis

    def published(kpi: str | None) -> Values:
        if kpi is None or kpi not in known:
            return {}
        return ctx.reporting.published(kpi, who.suppressed)

    share = await ctx.run(published, view.share)
    occupancy = await ctx.run(published, view.occupancy)
    ooa = await ctx.run(published, view.out_of_area)
    distance = await ctx.run(published, view.distance)
    trend, chart = _trend(ctx, view.share, share) if view.share in known else ([], "")
    today = await ctx.run(ctx.reporting.today) or date.today()
    settings_rows: list[dict[str, Any]] = []
    caseload_error = ""
    for day in month_ends(today, view.history_months):
        try:
            text = await ctx.upstreams.dfe_caseload(day)
        except (Unavailable, NotFound) as exc:
            caseload_error = error_message(exc)
            break
        (row,) = list(csv.DictReader(io.StringIO(text)))
        settings_rows.append(
            {"day": day, **{g: row.get(g) for g in GROUPS}, "all": row["ehcplans"]}
        )
    awaiting: list[dict[str, Any]] = []
    awaiting_error = ""
    if who.can("operational") and view.awaiting_review_milestone:
        try:
            data = await ctx.upstreams.cases_at_risk(limit=5000)
            awaiting = [
                c for c in data["cases"] if c.get("milestone") == view.awaiting_review_milestone
            ]
        except (Unavailable, NotFound) as exc:
            awaiting_error = error_message(exc)
    return ctx.render(
        request,
        "sufficiency.html",
        viewer=who,
        title="Sufficiency",
        nav="sufficiency",
        share_name=known[view.share].name if view.share in known else None,
        trend=trend,
        chart=chart,
        settings_rows=settings_rows,
        groups=GROUPS,
        group_labels=GROUP_LABELS,
        caseload_error=caseload_error,
        by_phase=_rows(occupancy, "current", "phase="),
        by_base=_rows(occupancy, "current", "base="),
        occupancy_all=_current(occupancy),
        ooa=_current(ooa),
        distance=_current(distance),
        operational=who.can("operational"),
        awaiting=awaiting,
        awaiting_error=awaiting_error,
    )
