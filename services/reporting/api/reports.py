"""``GET /v1/reports/insight``: the monthly insight summary (md, html, pdf or json)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import Response

from sendwatch.openapi import content
from services.reporting.api.access import checked
from services.reporting.context import Ctx
from services.reporting.domain import periods
from services.reporting.pdf import PdfUnavailable
from services.reporting.reports import FORMATS, insight_document

router = APIRouter(tags=["reports"])


@router.get(
    "/v1/reports/insight",
    summary="Monthly insight summary",
    responses=content("text/html", "text/markdown", "application/pdf", "application/json"),
)
async def insight(
    request: Request,
    ctx: Ctx,
    month: Annotated[str, Query(pattern=periods.MONTH_PATTERN, description="YYYY-MM")],
    format: Annotated[str, Query(description="md, html, pdf or json")] = "html",
) -> Response:
    """Each headline KPI with value, RAG and movement; exceptions raised in the month
    and their status; what is due.  Small numbers suppressed for every reader."""
    checked(ctx.viewer(request))
    if format not in FORMATS:
        raise HTTPException(422, f"format must be one of {', '.join(FORMATS)}")
    if not periods.is_cycle(month):
        raise HTTPException(422, "month is outside the plausible years")
    try:
        body, media = await insight_document(ctx, month, format)
    except PdfUnavailable as exc:
        raise HTTPException(503, str(exc)) from exc
    headers = {}
    if format in ("pdf", "md"):
        headers["Content-Disposition"] = f'attachment; filename="insight-{month}.{format}"'
    return Response(body, media_type=media, headers=headers)
