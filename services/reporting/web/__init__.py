"""The partnership dashboard: server-rendered pages (no JavaScript), GOV.UK style.

Pages: overview (headline tiles), a KPI page (trend, already-decided outcome,
breakdowns, alerts, benchmark), cases at risk (operational role), alerts with their
timelines and the dev-mode outbox (``read`` role), downloads, sign in and out.  Each
module holds one page family as a module-level ``router``; the charts are server-side
SVG (``charts.py``) beside the templates.
"""

from __future__ import annotations

from fastapi import APIRouter


def routers() -> list[APIRouter]:
    """Every page router, in the order they are matched."""
    from services.reporting.web import (
        alerts,
        cases,
        downloads,
        health,  # NHS community health pathways
        kpi,
        overview,
        programme,  # programme delivery (R1-R4)
        signin,
        sufficiency,  # placements and sufficiency
    )

    return [
        overview.router,
        kpi.router,
        cases.router,
        alerts.router,
        downloads.router,
        signin.router,
        programme.router,
        health.router,  # NHS community health pathways
        sufficiency.router,
    ]
