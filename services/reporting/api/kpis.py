"""KPI values: the latest of each, every revision of one, and the DfE benchmark."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query, Request

from services.reporting import bundled
from services.reporting.api.access import (
    BREAKDOWN_PATTERN,
    KPI_PATTERN,
    check_cycle,
    checked,
    known_kpi,
)
from services.reporting.auth import Viewer
from services.reporting.context import Context, Ctx
from services.reporting.domain import periods
from services.reporting.domain.suppression import UNPUBLISHED_KINDS, protect_revision

router = APIRouter(tags=["kpis"])


def _matches(breakdown: str, wanted: str | None) -> bool:
    if wanted is None:
        return breakdown in ("all", "outlook")
    if wanted == "*":
        return True
    if "=" in wanted:
        return breakdown == wanted
    if wanted in ("all", "outlook"):
        return breakdown == wanted
    return breakdown.startswith(f"{wanted}=")  # a whole dimension


@router.get("/v1/kpis", summary="Latest KPI values")
async def kpis(
    request: Request,
    ctx: Ctx,
    kpi: Annotated[str | None, Query(pattern=KPI_PATTERN)] = None,
    cycle: Annotated[
        str | None, Query(max_length=16, description="e.g. 2026-10, 2026/27-Q3, current")
    ] = None,
    breakdown: Annotated[
        str | None,
        Query(
            pattern=BREAKDOWN_PATTERN,
            description="all (default with outlook), outlook, a dimension "
            "(locality), one group (locality=wem) or * for every breakdown",
        ),
    ] = None,
) -> dict[str, Any]:
    """The latest revision of each KPI value.  Without a token (or with a board
    token) small numbers are suppressed; rolling 12-month and calendar-year values
    are then left out."""
    who = checked(ctx.viewer(request))
    known_kpi(ctx.dictionary, kpi)
    check_cycle(cycle)
    rows, today = await ctx.run(latest_values, ctx, who, kpi, cycle, breakdown)
    return {
        "view": who.audience,
        "data_as_of": today,
        "suppression": ctx.policy.describe() if who.suppressed else None,
        "kpis": rows,
    }


def latest_values(
    ctx: Context, who: Viewer, kpi: str | None, cycle: str | None, breakdown: str | None
) -> tuple[list[dict[str, Any]], date | None]:
    """The matching values and the date of the data, from one read of the versions."""
    out = []
    versions, today = ctx.reporting.marks([kpi] if kpi else list(ctx.dictionary.kpis))
    for name, version in versions.items():
        stored = ctx.reporting.stored(name, version)
        for (c, b), p in sorted(ctx.reporting.published(name, who.suppressed, version).items()):
            if cycle is not None and c != cycle:
                continue
            if not _matches(b, breakdown):
                continue
            meta = stored.get((c, b))
            item = p.as_dict()
            item.update(
                revision=meta.revision if meta else None,
                sequence=meta.sequence if meta else None,
                as_of=meta.as_of if meta else None,
            )
            out.append(item)
    return out, today


@router.get("/v1/kpis/{kpi}", summary="Every revision of a KPI's values")
async def kpi_revisions(
    request: Request,
    ctx: Ctx,
    kpi: Annotated[str, Path(pattern=KPI_PATTERN)],
    cycle: Annotated[str | None, Query(max_length=16)] = None,
    breakdown: Annotated[str, Query(pattern=BREAKDOWN_PATTERN)] = "all",
) -> dict[str, Any]:
    """Every stored revision (oldest first) of the KPI's values for one breakdown,
    for one cycle or all.  A closed cycle restated by late events has several."""
    who = checked(ctx.viewer(request))
    if kpi not in ctx.dictionary.kpis:
        raise HTTPException(404, f"no KPI {kpi!r}")
    check_cycle(cycle)
    if breakdown == "*" or ("=" not in breakdown and breakdown not in ("all", "outlook")):
        raise HTTPException(422, "breakdown must be all, outlook or one group (locality=wem)")
    if who.suppressed and cycle is not None and periods.kind_of(cycle) in UNPUBLISHED_KINDS:
        raise HTTPException(
            403,
            "rolling 12-month and calendar-year values are not published with small "
            "numbers suppressed; they need the operational role",
        )
    rows = await ctx.run(revisions, ctx, who, kpi, cycle, breakdown)
    k = ctx.dictionary.kpis[kpi]
    return {
        "kpi": kpi,
        "name": k.name,
        "unit": k.unit,
        "cycle": cycle,
        "breakdown": breakdown,
        "view": who.audience,
        "revisions": rows,
    }


def revisions(
    ctx: Context, who: Viewer, kpi: str, cycle: str | None, breakdown: str
) -> list[dict[str, Any]]:
    from services.reporting.adapters.repository import value_history

    latest = ctx.reporting.published(kpi, who.suppressed)
    out = []
    for s in value_history(ctx.reporting.engine, kpi, cycle, breakdown):
        v = s.value
        if who.suppressed and periods.kind_of(v.cycle) in UNPUBLISHED_KINDS:
            continue
        last = latest.get((v.cycle, v.breakdown))
        if not who.suppressed:
            item = {**v.model_dump(mode="json"), "suppressed": {}}
        else:
            item = protect_revision(v, last, ctx.policy).as_dict()
        item["upstream_revision"] = v.revision
        item.pop("revision", None)
        item.update(
            revision=s.revision,
            sequence=s.sequence,
            as_of=s.as_of,
            received_at=s.received_at,
        )
        out.append(item)
    return out


@router.get("/v1/benchmarks", summary="DfE benchmark of a KPI the dictionary sets beside one")
async def benchmarks(
    request: Request, ctx: Ctx, kpi: Annotated[str | None, Query(pattern=KPI_PATTERN)] = None
) -> dict[str, Any]:
    """``kpi`` defaults to the first KPI of the dictionary ``contracts/benchmarks.yaml``
    lists."""
    who = checked(ctx.viewer(request))
    if kpi is None:
        kpi = next((k for k in bundled.config().kpis if k in ctx.dictionary.kpis), None)
        if kpi is None:
            return {"kpi": None, "loaded": False, "note": "No KPI has a DfE benchmark."}
    known_kpi(ctx.dictionary, kpi)
    view, note = await ctx.run(ctx.reporting.benchmark, kpi, who.suppressed)
    if view is None:
        return {"kpi": kpi, "loaded": False, "note": note}
    return {
        "kpi": kpi,
        "loaded": True,
        "year": view.year,
        "rank": view.rank,
        "of": view.of,
        "neighbour_mean": view.neighbour_mean,
        "rows": [r.__dict__ for r in view.rows],
        "note": note,
    }
