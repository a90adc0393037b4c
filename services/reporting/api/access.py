"""What the API routes check first: the token and its role, the KPI and the cycle."""

from __future__ import annotations

from fastapi import HTTPException

from contracts.kpi_dictionary import KpiDictionary
from services.reporting.auth import Viewer
from services.reporting.domain import periods

BREAKDOWN_PATTERN = (
    r"^(all|outlook|\*|(locality|age_band|primary_need|sex|ethnicity|phase|setting_type)"
    r"(=[A-Za-z0-9 _.+-]{1,60})?)$"
)
KPI_PATTERN = r"^[a-z0-9][a-z0-9_.-]{1,63}$"


def require(who: Viewer, role: str) -> None:
    if who.invalid_token:
        raise HTTPException(401, "unknown token", headers={"WWW-Authenticate": "Bearer"})
    if who.principal is None:
        raise HTTPException(
            401,
            f"this needs a token with the {role!r} role (Authorization: Bearer <token>)",
            headers={"WWW-Authenticate": "Bearer"},
        )
    if not who.can(role):
        raise HTTPException(403, f"this token lacks the {role!r} role")


def checked(who: Viewer) -> Viewer:
    if who.invalid_token:
        raise HTTPException(401, "unknown token", headers={"WWW-Authenticate": "Bearer"})
    return who


def known_kpi(dictionary: KpiDictionary, kpi: str | None) -> None:
    if kpi is not None and kpi not in dictionary.kpis:
        raise HTTPException(
            422, f"unknown kpi {kpi!r}; known: {', '.join(sorted(dictionary.kpis))}"
        )


def check_cycle(cycle: str | None) -> None:
    if cycle is not None and not periods.is_cycle(cycle):
        raise HTTPException(422, f"cycle {cycle!r} is not a valid cycle label")
