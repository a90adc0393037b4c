"""CSV downloads: the quarterly data return (suppressed) and the DfE-layout files
(operational role)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import PlainTextResponse, Response

from sendwatch.openapi import content
from services.reporting.adapters.upstream import NotFound, Unavailable
from services.reporting.api.access import checked, require
from services.reporting.context import Ctx
from services.reporting.domain import periods

router = APIRouter(tags=["exports"])


@router.get(
    "/v1/exports/quarterly-return",
    response_class=PlainTextResponse,
    summary="Quarterly data return (CSV, suppressed)",
    responses=content("text/csv"),
)
async def quarterly_return(
    request: Request,
    ctx: Ctx,
    quarter: Annotated[str | None, Query(pattern=periods.QUARTER_PATTERN)] = None,
) -> Response:
    """One row per KPI per plan-year quarter (all quarters with data, or one):
    value, numerator, denominator, baseline, trajectory target, standard, RAG."""
    checked(ctx.viewer(request))
    if quarter is not None and not periods.is_cycle(quarter):
        raise HTTPException(422, f"quarter {quarter!r} is not a plan-year quarter")
    text = await ctx.run(ctx.reporting.quarterly_csv, [quarter] if quarter else None)
    name = f"quarterly-return-{(quarter or 'all').replace('/', '-')}.csv"
    return Response(
        text,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.get(
    "/v1/exports/{name}",
    response_class=PlainTextResponse,
    summary="DfE-layout CSV (operational role)",
    responses=content("text/csv"),
)
async def dfe_export(
    request: Request,
    ctx: Ctx,
    name: Literal["dfe-timeliness", "dfe-requests"],
    year: Annotated[int, Query(ge=2014, le=2100)],
) -> Response:
    """The timeliness service's DfE-layout files, exactly as DfE computes and
    publishes them (unsuppressed), for the operational and admin roles only."""
    require(ctx.viewer(request), "operational")
    try:
        text = await ctx.upstreams.dfe_export(name, year)
    except (Unavailable, NotFound) as exc:
        raise HTTPException(503, f"timeliness service unavailable: {exc}") from exc
    return Response(
        text,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}-{year}.csv"'},
    )
