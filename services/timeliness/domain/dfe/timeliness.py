"""DfE's ``timeliness_20_week.csv``: plans issued within 20 weeks, by breakdown (see ``layout``)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from services.timeliness.domain.case import CaseState
from services.timeliness.domain.dfe.layout import (
    OVER_A_YEAR_DAYS,
    TIMELINESS_AGE_LABELS,
    TIMELINESS_AGE_UNKNOWN,
    TIMELINESS_ALL,
    WITHIN_20_WEEKS_DAYS,
    Authority,
    Tally,
    _rows,
    dfe_percent,
)

# --- timeliness_20_week.csv ---------------------------------------------------------


@dataclass
class _Plans(Tally):
    den: int = 0
    den_ex: int = 0
    within: int = 0
    within_ex: int = 0
    mid: int = 0
    mid_ex: int = 0
    over: int = 0
    over_ex: int = 0


def _plan_issued_in(case: CaseState, year: int) -> bool:
    """SEN2 AssessmentOutcome Y with AssessmentOutcomeDate (= final plan issued) in ``year``.

    A final plan with no recorded assessment decision counts as Y.  Issuing a plan is
    outcome Y in SEN2.  A first decision of N or W stands even if a plan is issued later,
    as in SEN2.  Historical cases (transfers in, pre-period work) are not in the measure.
    """
    if case.historical or case.final_issued is None or case.final_issued.year != year:
        return False
    return case.assessment_outcome in ("Y", None)


def _plan_tally(case: CaseState, issued: date) -> _Plans:
    """One plan's contribution.  A plan whose request date is missing or after the issue
    date counts in the denominators only.  DfE does the same: its national denominators
    exceed the sum of the three bands, e.g. 80,945 vs 80,306 in 2023."""
    ex = not case.has_exception
    t = _Plans(den=1, den_ex=int(ex))
    if case.received is None or issued < case.received:
        return t
    days = (issued - case.received).days
    if days <= WITHIN_20_WEEKS_DAYS:
        t.within, t.within_ex = 1, int(ex)
    elif days < OVER_A_YEAR_DAYS:
        t.mid, t.mid_ex = 1, int(ex)
    else:
        t.over, t.over_ex = 1, int(ex)
    return t


def _timeliness_values(t: _Plans) -> dict[str, str]:
    return {
        "plans_issued_den": str(t.den),
        "plans_issued_den_ex": str(t.den_ex),
        "plans_issued_within_20_weeks": str(t.within),
        "plans_issued_20_weeks_ex": str(t.within_ex),
        "pc_plans_issued_within_20_weeks": dfe_percent(t.within, t.den),
        "PC_plans_issued_20_weeks_ex": dfe_percent(t.within_ex, t.den_ex),
        "plans_issued_gt20weeks_ltYear": str(t.mid),
        "plans_issued_gt20weeks_ltYear_ex": str(t.mid_ex),
        "pc_plans_issued_gt20weeks_ltYear": dfe_percent(t.mid, t.den),
        "PC_plans_issued_gt20weeks_ltYear_ex": dfe_percent(t.mid_ex, t.den_ex),
        "plans_issued_gt_1_year": str(t.over),
        "plans_issued_gt_1_year_ex": str(t.over_ex),
        "pc_plans_issued_gt_1_year": dfe_percent(t.over, t.den),
        "PC_plans_issued_gt_1_year_ex": dfe_percent(t.over_ex, t.den_ex),
    }


def timeliness_rows(
    cases: Iterable[CaseState], year: int, la: Authority, *, ethnicity: bool = False
) -> list[dict[str, str]]:
    """The LA's rows of ``timeliness_20_week.csv`` for calendar year ``year``.

    Plans: cases that are not historical, with assessment outcome Y (or no decision
    recorded but a final plan issued) and ``final_issued`` in ``year``.  Elapsed days =
    ``final_issued - received``: 0-140 within 20 weeks, 141-364 between 20 and 52 weeks,
    365 or more after 52 weeks.  The ``_ex`` columns leave out cases with any 20-week
    exception (SEN2 Week20 = 1) from numerator and denominator.  A percentage over a zero
    denominator is ``x``.  This happens for the ``PC_*_ex`` columns when every plan had an
    exception, and for all of them when the "All" row has no plans; DfE does the same.

    Rows: "All EHC plans issued", which is always written, then age bands and sex (and
    ethnicity if ``ethnicity``) for the categories that have at least one plan.
    """
    tallies = (
        (case, _plan_tally(case, case.final_issued))
        for case in cases
        if case.final_issued is not None and _plan_issued_in(case, year)
    )
    labels = (TIMELINESS_ALL, TIMELINESS_AGE_LABELS, TIMELINESS_AGE_UNKNOWN)
    return _rows(year, la, tallies, labels, ethnicity, lambda t: _timeliness_values(t or _Plans()))
