"""DfE's ``requests.csv``: requests, decisions and six-week timeliness (see ``layout``)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Literal

from services.timeliness.domain.case import CaseState
from services.timeliness.domain.dfe.layout import (
    NOT_AVAILABLE,
    REQUESTS_AGE_LABELS,
    REQUESTS_AGE_UNKNOWN,
    REQUESTS_ALL,
    SIX_WEEKS_DAYS,
    Authority,
    Tally,
    _rows,
    dfe_percent,
)

# --- requests.csv -------------------------------------------------------------------

SixWeekBasis = Literal["decided_in_year", "received_in_year"]


@dataclass
class _Requests(Tally):
    received: int = 0
    assess: int = 0
    not_assess: int = 0
    not_made: int = 0
    withdrawn: int = 0
    decisions: int = 0  # denominator of the six-week percentages
    six_weeks: int = 0
    over_six_weeks: int = 0

    @property
    def is_empty(self) -> bool:
        return self.received == 0 and self.decisions == 0


def _outcome_at(case: CaseState, end: date) -> str:
    """The request's outcome as at ``end``: Y, N, W or A (decision not yet made).

    A request with no decision by ``end`` counts as W if the case closed first because
    the child moved away (transferred out) or the plan process ceased.  SEN2's W
    includes "moving out, leaving education, death".
    """
    decided = case.decision_to_assess
    if decided is not None and decided <= end and case.decision_outcome in ("Y", "N", "W"):
        return case.decision_outcome
    left = [d for d in (case.transferred_out, case.ceased) if d is not None and d <= end]
    return "W" if left else "A"


def _six_week_tally(case: CaseState, decided: date) -> _Requests:
    """A Y/N decision: counted in the denominator; within 6 weeks if made at most 42 days
    after the request.  Decisions with no usable request date count in the denominator
    only.  DfE does the same: in 2023 Shropshire's 672 + 241 decisions give 73.5% and
    26.4%, i.e. a denominator of 914."""
    t = _Requests(decisions=1)
    if case.received is None or decided < case.received:
        return t
    if (decided - case.received).days <= SIX_WEEKS_DAYS:
        t.six_weeks = 1
    else:
        t.over_six_weeks = 1
    return t


def _request_tally(
    case: CaseState, year: int, basis: SixWeekBasis, as_at: date | None
) -> _Requests | None:
    if case.historical:
        return None
    end = date(year, 12, 31)
    t = _Requests()
    received_in_year = case.received is not None and case.received.year == year
    if received_in_year:
        t.received = 1
        outcome = _outcome_at(case, as_at or date.max)
        t.assess = int(outcome == "Y")
        t.not_assess = int(outcome == "N")
        t.withdrawn = int(outcome == "W")
        t.not_made = int(outcome == "A")
    decided = case.decision_to_assess
    if decided is not None and case.decision_outcome in ("Y", "N"):
        counts = (
            decided.year == year
            if basis == "decided_in_year"
            else (received_in_year and decided <= end)
        )
        if counts:
            t.add(_six_week_tally(case, decided))
    return None if t.is_empty else t


def _requests_values(t: _Requests) -> dict[str, str]:
    return {
        "requests_received_in_year": str(t.received),
        "requests_rya": NOT_AVAILABLE,
        "requests_decided_to_assess": str(t.assess),
        "requests_decided_not_to_assess": str(t.not_assess),
        "requests_decision_not_made": str(t.not_made),
        "requests_withdrawn": str(t.withdrawn),
        "request_assess_pc": dfe_percent(t.assess, t.received),
        "request_not_assess_pc": dfe_percent(t.not_assess, t.received),
        "request_outstanding_pc": dfe_percent(t.not_made, t.received),
        "request_withdrawn_pc": dfe_percent(t.withdrawn, t.received),
        "request_outcome_six_weeks": str(t.six_weeks),
        "request_outcome_over_6_weeks": str(t.over_six_weeks),
        "request_outcome_six_weeks_pc": dfe_percent(t.six_weeks, t.decisions),
        "request_outcome_over_6_weeks_pc": dfe_percent(t.over_six_weeks, t.decisions),
        "mediation_related_request": NOT_AVAILABLE,
        "tribunal_related_request": NOT_AVAILABLE,
        "tribunal_after_mediation_request": NOT_AVAILABLE,
    }


def requests_rows(
    cases: Iterable[CaseState],
    year: int,
    la: Authority,
    *,
    ethnicity: bool = False,
    six_week_basis: SixWeekBasis = "decided_in_year",
    as_at: date | None = None,
) -> list[dict[str, str]]:
    """The LA's rows of ``requests.csv`` for calendar year ``year``.

    * ``requests_received_in_year``: non-historical cases with ``received`` in ``year``.
    * Their outcome as recorded (SEN2 reports the outcome as at the January return, so
      by default every decision known is counted; ``as_at`` cuts off at a date, e.g. the
      census day): decided to assess (Y), not to assess (N), withdrawn (W, or the case
      closed by transfer out or cessation before a decision), or decision not made.
      The four percentages are over the requests received.
    * ``request_outcome_six_weeks`` / ``_over_6_weeks``: Y/N decisions made at most 42
      days, or more than 42 days, after the request.  With the default
      ``six_week_basis="decided_in_year"`` these are the decisions *dated in* ``year``,
      whatever year the request came in.  That is DfE's basis: Shropshire 2024 has 614 +
      257 = 871 such decisions against 833 requests received, and some LA category rows
      show decisions with 0 requests.  ``"received_in_year"`` counts instead the decisions
      made by 31 December on requests received in ``year``.
    * ``requests_rya``, ``mediation_related_request``, ``tribunal_related_request`` and
      ``tribunal_after_mediation_request`` are ``x`` (DfE: unavailable).  CaseState
      holds neither the relevant-youth-accommodation flag nor mediation or tribunal
      events.

    Rows: "All requests for EHC needs assessments", which is always written, then age
    bands and sex (and ethnicity if ``ethnicity``) for the categories with a request
    received or a decision counted.  A percentage over a zero denominator is ``x``.
    """
    found = ((case, _request_tally(case, year, six_week_basis, as_at)) for case in cases)
    tallies = ((case, t) for case, t in found if t is not None)
    labels = (REQUESTS_ALL, REQUESTS_AGE_LABELS, REQUESTS_AGE_UNKNOWN)
    return _rows(year, la, tallies, labels, ethnicity, lambda t: _requests_values(t or _Requests()))
