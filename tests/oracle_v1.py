"""The KPI computation of the release before the measure engine, kept as a test oracle:
its case fold (``apply``), its per-case contributions, its snapshot extras, targets and
RAG, and its point-in-time figures (open caseload, backlog past week 20, the quarter's
outlook), reading the version-1 dictionary it was written for
(``tests/fixtures/kpis_v1.yaml``).  The re-expressed EHCNA KPIs must give exactly these
values (``tests/unit/test_timeliness_oracle.py``).  Do not change this file to make a
test pass: it is what the values were.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import date, timedelta
from pathlib import Path
from typing import Any, Literal, NamedTuple

import yaml
from pydantic import BaseModel, ConfigDict

from contracts.case_events import (
    AdviceReceived,
    AdviceRequested,
    AssessmentDecision,
    CaseEvent,
    DecisionToAssess,
    DraftPlanIssued,
    ExceptionEnded,
    ExceptionStarted,
    FinalPlanIssued,
    PlanCeased,
    RequestReceived,
    TransferredIn,
    TransferredOut,
)
from contracts.cycles import cycle_bounds, kind_of, labels_for, local_date, quarter_label
from services.timeliness.domain.case import CaseState

V1 = Path(__file__).parent / "fixtures" / "kpis_v1.yaml"


class KpiDefV1(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    ref: str
    measure: Literal["within_days", "open_count", "backlog"]
    start: str | None = None
    end: str | None = None
    limit_days: int | None = None
    exceptions: Literal["include", "exclude"] = "include"
    unit: str
    direction: Literal["higher", "lower", "none"]
    workstream: str
    owner: str
    baseline: float | None
    standard: float | None
    trajectory: dict[str, float]
    cycles: list[str]
    headline: bool = False
    escalation_policy: str | None = None


class DictionaryV1(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    version: int
    plan_year_start_month: int = 4
    rag: dict[str, float]
    grace_days: dict[str, int]
    breakdowns: list[str]
    kpis: dict[str, KpiDefV1]


def load_v1() -> DictionaryV1:
    return DictionaryV1.model_validate(yaml.safe_load(V1.read_text()))


# --- the case fold (domain/case.py apply, as it was) ------------------------------------


def _min(current: date | None, candidate: date) -> date:
    return candidate if current is None or candidate < current else current


def _earlier_decision(
    cur_date: date | None, cur_outcome: str | None, new_date: date, new_outcome: str
) -> tuple[date, str]:
    if (
        cur_date is None
        or new_date < cur_date
        or (new_date == cur_date and cur_outcome is not None and new_outcome < cur_outcome)
    ):
        return new_date, new_outcome
    return cur_date, cur_outcome or new_outcome


def apply(state: CaseState | None, event: CaseEvent) -> CaseState:
    d = event.data
    attrs = {
        "person_id": d.person_id,
        "locality": d.locality,
        "age_band": d.age_band.value,
        "phase": d.phase.value,
        "primary_need": d.primary_need.value if d.primary_need else None,
        "setting_type": d.setting_type.value if d.setting_type else None,
        "sex": d.sex.value if d.sex else None,
        "ethnicity": d.ethnicity,
    }
    if event.type == "ehc.need.recorded" and event.data.rank == 1:  # type: ignore[union-attr]
        attrs["primary_need"] = event.data.sen_type.value  # type: ignore[union-attr]
    if state is None:
        state = CaseState(
            case_id=event.subject,
            attrs_time=event.time,
            **{k: v for k, v in attrs.items() if v is not None},  # type: ignore[arg-type]
            attr_times={k: event.time for k, v in attrs.items() if v is not None},
        )
    changes: dict[str, object] = {}
    times = dict(state.attr_times)
    for key, value in attrs.items():
        if value is None:
            continue
        seen = times.get(key)
        current = getattr(state, key)
        if (
            seen is None
            or event.time > seen
            or (event.time == seen and (current is None or str(value) < str(current)))
        ):
            times[key] = event.time
            changes[key] = value
    if changes:
        changes["attr_times"] = times
    if event.time > state.attrs_time:
        changes["attrs_time"] = event.time
    day = local_date(event.time)
    match event:
        case RequestReceived():
            changes["received"] = _min(state.received, day)
            if d.historical:  # type: ignore[union-attr]
                changes["historical"] = True
        case TransferredIn():
            if d.historical:  # type: ignore[union-attr]
                changes["historical"] = True
            else:
                changes["received"] = _min(state.received, day)
        case DecisionToAssess():
            dd, oo = _earlier_decision(
                state.decision_to_assess, state.decision_outcome, day, event.data.outcome.value
            )
            changes.update(decision_to_assess=dd, decision_outcome=oo)
        case AdviceRequested():
            giver = event.data.advice_giver.value
            current = state.advice_requested.get(giver)
            changes["advice_requested"] = {**state.advice_requested, giver: _min(current, day)}
        case AdviceReceived():
            giver = event.data.advice_giver.value
            current = state.advice_received.get(giver)
            changes["advice_received"] = {**state.advice_received, giver: _min(current, day)}
        case ExceptionStarted():
            changes["exception_starts"] = state.exception_starts | {(event.data.reason.value, day)}
        case ExceptionEnded():
            changes["exception_ends"] = state.exception_ends | {(event.data.reason.value, day)}
        case DraftPlanIssued():
            changes["draft_issued"] = _min(state.draft_issued, day)
        case AssessmentDecision():
            dd, oo = _earlier_decision(
                state.assessment_decision, state.assessment_outcome, day, event.data.outcome.value
            )
            changes.update(assessment_decision=dd, assessment_outcome=oo)
        case FinalPlanIssued():
            changes["final_issued"] = _min(state.final_issued, day)
        case PlanCeased():
            changes["ceased"] = _min(state.ceased, day)
        case TransferredOut():
            changes["transferred_out"] = _min(state.transferred_out, day)
    return state.model_copy(update=changes) if changes else state


# --- per-case contributions (domain/kpis.py, as it was) ----------------------------------

Key = tuple[str, str, str]
OVER_A_YEAR_DAYS = 365


class Agg(NamedTuple):
    num: int = 0
    den: int = 0
    days: int = 0
    over_year: int = 0

    def plus(self, other: Agg) -> Agg:
        return Agg(*(a + b for a, b in zip(self, other, strict=True)))

    @property
    def percent(self) -> float | None:
        return round(100.0 * self.num / self.den, 1) if self.den else None


def contributions(case: CaseState, dictionary: DictionaryV1) -> dict[Key, Agg]:
    if case.historical or case.received is None:
        return {}
    out: dict[Key, Agg] = {}
    labels = ["all"] + [f"{d}={getattr(case, d) or 'unknown'}" for d in dictionary.breakdowns]
    for kpi_id, k in dictionary.kpis.items():
        if k.measure != "within_days" or k.start is None or k.end is None:
            continue
        if k.exceptions == "exclude" and case.has_exception:
            continue
        start, end = case.date_of(k.start), case.date_of(k.end)
        if start is None or end is None or end < start:
            continue
        days = (end - start).days
        agg = Agg(int(days <= (k.limit_days or 0)), 1, days, int(days >= OVER_A_YEAR_DAYS))
        for kind in k.cycles:
            for cycle in labels_for(kind, end, dictionary.plan_year_start_month):
                for breakdown in labels if kind != "rolling_12" else ["all"]:
                    out[(kpi_id, cycle, breakdown)] = agg
    return out


def recompute(cases: Iterable[CaseState], dictionary: DictionaryV1) -> dict[Key, Agg]:
    totals: dict[Key, Agg] = defaultdict(Agg)
    for case in cases:
        for key, agg in contributions(case, dictionary).items():
            totals[key] = totals[key].plus(agg)
    return {k: v for k, v in totals.items() if any(v)}


def extra(k: KpiDefV1, agg: Agg) -> dict[str, Any]:
    """The snapshot extras of a within-days value (adapters/repository.py kpi_value)."""
    out: dict[str, Any] = {"average_days": round(agg.days / agg.den, 1) if agg.den else None}
    if k.limit_days == 140:
        out.update(
            within_20_weeks=agg.num,
            weeks_20_to_52=agg.den - agg.num - agg.over_year,
            over_52_weeks=agg.over_year,
            average_weeks=round(agg.days / agg.den / 7, 1) if agg.den else None,
        )
    return out


def target_for(k: KpiDefV1, cycle: str, start_month: int = 4) -> float | None:
    if not k.trajectory or cycle == "current":
        return None
    _, cycle_end = cycle_bounds(kind_of(cycle), cycle, start_month)
    best: tuple[date, float] | None = None
    for label, value in k.trajectory.items():
        first, _ = cycle_bounds(kind_of(label), label, start_month)
        if first <= cycle_end and (best is None or first > best[0]):
            best = (first, value)
    return best[1] if best else None


# --- point-in-time figures (count_open / point_in_time_values, as they were) -----------


def point_in_time(
    dictionary: DictionaryV1, cases: Iterable[CaseState], today: date, aggs: dict[Key, Agg]
) -> dict[tuple[str, str], tuple[float | None, int | None, int | None, dict[str, Any]]]:
    """(kpi, breakdown) -> (value, numerator, denominator, extra) of the 'current' values."""
    cells: dict[tuple[str, bool, bool], int] = defaultdict(int)
    cutoff = today - timedelta(days=140)
    for c in cases:
        if c.is_open:
            cells[(c.locality or "unknown", c.has_exception, c.received < cutoff)] += 1  # type: ignore[operator]

    def total(locality: str | None = None, late: bool | None = None, ex: bool = False) -> int:
        return sum(
            n
            for (loc, exc, is_late), n in cells.items()
            if (locality is None or loc == locality)
            and (late is None or is_late == late)
            and not (ex and exc)
        )

    out: dict[tuple[str, str], tuple[float | None, int | None, int | None, dict[str, Any]]] = {}
    localities = sorted({loc for loc, _, _ in cells})
    for kpi_id, k in dictionary.kpis.items():
        if k.measure in ("open_count", "backlog"):
            late = True if k.measure == "backlog" else None
            n = total(late=late)
            out[(kpi_id, "all")] = (float(n), n, None, {})
            for loc in localities:
                n = total(locality=loc, late=late)
                out[(kpi_id, f"locality={loc}")] = (float(n), n, None, {})
    quarter = quarter_label(today, dictionary.plan_year_start_month)
    for kpi_id, k in dictionary.kpis.items():
        if k.measure != "within_days" or k.limit_days != 140:
            continue
        so_far = aggs.get((kpi_id, quarter, "all"), Agg())
        ex = k.exceptions == "exclude"
        open_cases, late = total(ex=ex), total(late=True, ex=ex)
        could = open_cases - late
        den = so_far.den + open_cases
        best = round(100.0 * (so_far.num + could) / den, 1) if den else None
        target = target_for(k, quarter, dictionary.plan_year_start_month)
        possible = None if target is None or best is None else best >= target
        out[(kpi_id, "outlook")] = (
            best,
            so_far.num,
            so_far.den,
            {
                "quarter": quarter,
                "open_cases": open_cases,
                "certain_breaches": late,
                "target_still_possible": possible,
            },
        )
    return out
