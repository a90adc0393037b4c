"""Reads: the caseload counters, which events were applied, KPI values, cases at risk,
waiting lists as at a date, and the DfE-layout exports.  Each opens its own unit of
work and only reads."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from contracts.cycles import local_date
from contracts.kpi_dictionary import KpiDictionary
from contracts.snapshots import KpiValue
from services.timeliness.domain import case as case_domain
from services.timeliness.domain import dfe, milestones
from services.timeliness.domain.case import CaseState
from services.timeliness.domain.engine import Engine
from services.timeliness.domain.values import Written, render
from services.timeliness.service_layer.unit_of_work import AbstractUnitOfWork

CASE = "case"  # the subject kind of EHC needs assessments (the DfE exports read them)


@dataclass(frozen=True)
class CaseloadView:
    open_caseload: int  # subjects with a clock still running
    cases: int  # subjects
    events_applied: int
    sequence: int
    as_of: datetime | None
    watermark: datetime | None
    fingerprint: str | None


def caseload(uow: AbstractUnitOfWork) -> CaseloadView:
    with uow:
        st = uow.repo.state()
        return CaseloadView(
            st.running,
            st.subjects,
            st.events_applied,
            st.sequence,
            st.as_of,
            st.watermark,
            st.fingerprint,
        )


def applied_ids(uow: AbstractUnitOfWork, ids: list[str]) -> list[str]:
    """Which of these event ids have been applied (without recording them)."""
    with uow:
        found = uow.repo.applied(ids)
        return [i for i in dict.fromkeys(ids) if i in found]


def today(uow: AbstractUnitOfWork) -> date | None:
    with uow:
        st = uow.repo.state()
        stamp = st.watermark or st.as_of
        return local_date(stamp) if stamp else None


def kpi_values(
    uow: AbstractUnitOfWork,
    dictionary: KpiDictionary,
    kpi: str | None = None,
    cycle: str | None = None,
    breakdown: str | None = None,
) -> list[KpiValue]:
    with uow:
        st = uow.repo.state()
        stamp = st.watermark or st.as_of
        cells = uow.repo.cells_where(kpi, cycle, breakdown)
        closed = {c for c, row in uow.repo.cycles({k[1] for k in cells}).items() if row.closed}
    written = {k: Written(c.counts, k[1] in closed, c.revision) for k, c in cells.items()}
    return render(dictionary, written, local_date(stamp) if stamp else None)


def cases_at_risk(uow: AbstractUnitOfWork, engine: Engine, limit: int) -> dict[str, Any]:
    """Subjects with a running clock, by days to their next milestone (pseudonymous ids
    only)."""
    with uow:
        st = uow.repo.state()
        stamp = st.watermark or st.as_of
        if stamp is None:
            return {"as_of": None, "cases": []}
        on = local_date(stamp)
        running = uow.repo.running_in(None)
    rows = []
    for sid, stored in running.items():
        s = stored.state
        found = engine.alert_clocks(s)
        nxt = milestones.next_deadline(found, on)
        if nxt is None:
            continue
        starts = [c.start for c in found if c.start is not None and c.measured]
        rows.append(
            {
                "case_id": sid,
                "kind": s.kind,
                "locality": s.attrs.get("locality"),
                "age_band": s.attrs.get("age_band"),
                "milestone": nxt.milestone,
                "due": nxt.due,
                "days_left": nxt.days_left(on),
                "day": (on - min(starts)).days if starts else None,
            }
        )
    rows.sort(key=lambda r: (r["days_left"], r["case_id"]))
    return {"as_of": on, "cases": rows[:limit]}


def case_states(uow: AbstractUnitOfWork) -> list[CaseState]:
    """Every EHC needs assessment as a case state (the DfE layouts read these)."""
    with uow:
        return [case_domain.from_subject(s.state) for s in uow.repo.all_subjects(CASE)]


def open_case_states(uow: AbstractUnitOfWork) -> list[CaseState]:
    return [c for c in case_states(uow) if c.is_open]


def dfe_export(
    uow: AbstractUnitOfWork, name: str, year: int, authority: str | Path | None = None
) -> str:
    states = case_states(uow)
    la = dfe.load_authority(authority)
    if name == "dfe-timeliness":
        return dfe.to_csv(dfe.timeliness_rows(states, year, la), dfe.TIMELINESS_COLUMNS)
    return dfe.to_csv(dfe.requests_rows(states, year, la), dfe.REQUESTS_COLUMNS)
