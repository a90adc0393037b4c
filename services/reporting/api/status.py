"""``GET /v1/status``: the latest timeliness snapshot applied (``sendwatch import sen2
--wait`` polls it)."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Request

from services.reporting.adapters import repository as repo
from services.reporting.api.access import require
from services.reporting.context import Ctx

router = APIRouter()


@router.get("/v1/status", tags=["operations"])
async def status(request: Request, ctx: Ctx) -> dict[str, Any]:
    """The latest timeliness snapshot applied (``sendwatch import sen2 --wait``); needs a
    token with the ``read`` role."""
    require(ctx.viewer(request), "read")
    st = await asyncio.to_thread(repo.producer_state, ctx.reporting.engine, "timeliness")
    return {
        "timeliness_sequence": st.sequence if st else None,
        "events_applied": st.events_applied if st else 0,
        "as_of": st.as_of if st else None,
        "watermark": st.watermark if st else None,
        "received_at": st.received_at if st else None,
    }
