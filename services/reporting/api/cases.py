"""``GET /v1/cases-at-risk``: open cases by days to deadline (operational role)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request

from services.reporting.adapters.upstream import NotFound, Unavailable
from services.reporting.api.access import require
from services.reporting.context import Ctx

router = APIRouter(tags=["cases"])


@router.get("/v1/cases-at-risk", summary="Open cases by days to deadline")
async def cases_at_risk(
    request: Request,
    ctx: Ctx,
    limit: Annotated[int, Query(ge=1, le=5000)] = 100,
    locality: Annotated[str | None, Query(pattern=r"^[a-z][a-z-]{1,39}$")] = None,
) -> dict[str, Any]:
    """Operational role only: pseudonymous case ids, locality and the next statutory
    deadline, soonest (or most overdue) first."""
    require(ctx.viewer(request), "operational")
    try:
        data = await ctx.upstreams.cases_at_risk(limit=5000)
    except (Unavailable, NotFound) as exc:
        raise HTTPException(503, f"timeliness service unavailable: {exc}") from exc
    cases = [c for c in data["cases"] if locality is None or c.get("locality") == locality]
    return {"as_of": data.get("as_of"), "total": len(cases), "cases": cases[:limit]}
