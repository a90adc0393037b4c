"""The timeliness routes for NHS community referrals (the CHS SitRep export)."""

from __future__ import annotations

import asyncio
from datetime import date
from typing import Any

from fastapi import APIRouter, Query
from fastapi.responses import PlainTextResponse

from contracts.referrals import load_referrals
from services.timeliness import referral_views
from services.timeliness.domain.engine import Engine
from services.timeliness.service_layer.unit_of_work import AbstractUnitOfWork

UowFactory = Any  # () -> AbstractUnitOfWork


def router(engine: Engine, uow: UowFactory, dependencies: list[Any]) -> APIRouter:
    r = APIRouter(dependencies=dependencies)
    config = load_referrals()

    @r.get(
        "/v1/referrals/chs-waiting-list",
        tags=["exports"],
        response_class=PlainTextResponse,
    )
    async def chs_waiting_list(
        day: date = Query(..., alias="date", description="The census day (YYYY-MM-DD)"),
    ) -> str:
        """The community waiting list as it stood at the end of ``date``, in the CHS
        SitRep layout (CSV: a row per pathway, then all)."""
        u: AbstractUnitOfWork = uow()
        text: str = await asyncio.to_thread(referral_views.chs_csv, u, engine, config, day)
        return text

    return r
