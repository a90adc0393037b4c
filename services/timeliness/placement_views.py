"""Reads for placements and sufficiency: DfE's caseload row at a date, from the spans the
engine keeps (the active plans and their counted placements)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from contracts.placements import load_placements
from services.timeliness.domain import dfe
from services.timeliness.domain.dfe.caseload import CASELOAD_COLUMNS, caseload_row, setting_counts
from services.timeliness.service_layer.unit_of_work import AbstractUnitOfWork


def caseload_counts(
    uow: AbstractUnitOfWork, day: date, placements: str | Path | None = None
) -> dict[str, int]:
    """Active plans on ``day`` by the setting type of their counted placement."""
    cohort = load_placements(str(placements) if placements else None).caseload
    with uow:
        spans = uow.repo.spans([*cohort.plans, cohort.placement], day)
    return dict(setting_counts(cohort, day, spans))


def dfe_caseload(
    uow: AbstractUnitOfWork,
    day: date,
    authority: str | Path | None = None,
    placements: str | Path | None = None,
) -> str:
    """DfE's caseload.csv: the authority's ``All EHC plans`` row on ``day``."""
    counts = caseload_counts(uow, day, placements)
    row = caseload_row(counts, day, dfe.load_authority(authority))
    return dfe.to_csv([row], CASELOAD_COLUMNS)
