"""Exports in the layout of DfE's "Education, health and care plans" statistics.

The two files reproduced are ``data/timeliness_20_week.csv`` and ``data/requests.csv`` of
the 2025 release (calendar year 2024 data).  The 2025 files define the layout: their
header names and column order, their ``breakdown_topic`` / ``breakdown`` labels, and how
they write percentages and codes.  The rows are computed here from folded
:class:`~services.timeliness.domain.case.CaseState` objects, for one local authority
(``contracts/authority.yaml``) and one calendar year.

What the DfE files do, and what this module copies:

* **Codes.** The data guidance lists ``z`` (not applicable) and ``x`` (unavailable).  Both
  files use only ``x``: for a percentage whose denominator is 0, and for a column that
  was not collected.  They never use ``z``, and neither do we.  ``x`` is also what we
  write for columns we do not hold: RYA, mediation and tribunal.
* **Percentages.** DfE computes the IEEE double ``numerator / denominator * 100`` and
  rounds it to one decimal place, **half up**.  A whole number is written without
  ``.0`` (``38``, ``100``, ``0``).  Evidence: all 70,037 published timeliness
  percentages and all 48,384 request-outcome percentages with a known denominator are
  reproduced exactly.  The tie 33/80 = 41.25 is published as ``41.3``, which rules out
  half-even.  23/80 is published as ``28.7``, because the double is 28.749999...; an
  exact-decimal half-up would print 28.8.  See :func:`dfe_percent`.
* **Rows.** A local authority's rows are the "All" row, which is always written, then
  one row per category that has something to count.  In timeliness that means at
  least one plan; DfE never writes a zero-plan category row for an LA.  In requests it
  means at least one request or a decision in the year.  No rows are written for
  categories with nothing in them.
* **Age.** DfE breaks both files down by single year of age ("age 3", "Aged 3"), and
  computing that needs a date of birth.  We hold only ``CaseState.age_band``, and
  ``contracts.privacy`` bars dates of birth.  The age rows therefore keep DfE's
  ``breakdown_topic`` ("Child or young persons age") and give our five bands in each
  file's own wording: ``age 5 to 10`` in timeliness, ``Aged 5 to 10`` in requests.  Only
  the top band, "age 20 and over" / "Aged 20 and over", and the unknown labels are
  labels DfE itself uses.  These band rows cannot be compared one-for-one with DfE's age
  rows.  ``age_band`` is also the case's latest band, whereas DfE uses age at request.
* **Line endings.** DfE's files begin with a UTF-8 BOM and use CRLF line endings.
  :func:`to_csv` writes no BOM and ``\\n`` endings, with minimal quoting like DfE's.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict

import contracts
from services.timeliness.domain.case import CaseState

# --- DfE layout ---------------------------------------------------------------------

NOT_AVAILABLE = "x"  # DfE "x - unavailable"
NOT_APPLICABLE = (
    "z"  # DfE "z - not applicable"; the 2025 timeliness and requests files never use it
)

_GEOGRAPHY: tuple[str, ...] = (
    "time_period",
    "time_identifier",
    "geographic_level",
    "country_code",
    "country_name",
    "region_code",
    "region_name",
    "new_la_code",
    "old_la_code",
    "la_name",
    "breakdown_topic",
    "breakdown",
)

TIMELINESS_COLUMNS: tuple[str, ...] = (
    *_GEOGRAPHY,
    "plans_issued_den",
    "plans_issued_den_ex",
    "plans_issued_within_20_weeks",
    "plans_issued_20_weeks_ex",
    "pc_plans_issued_within_20_weeks",
    "PC_plans_issued_20_weeks_ex",
    "plans_issued_gt20weeks_ltYear",
    "plans_issued_gt20weeks_ltYear_ex",
    "pc_plans_issued_gt20weeks_ltYear",
    "PC_plans_issued_gt20weeks_ltYear_ex",
    "plans_issued_gt_1_year",
    "plans_issued_gt_1_year_ex",
    "pc_plans_issued_gt_1_year",
    "PC_plans_issued_gt_1_year_ex",
)
"""The header of DfE's ``timeliness_20_week.csv`` (2025 release), in order, without the BOM.
That file has no average-weeks columns; DfE added those in 2026."""

REQUESTS_COLUMNS: tuple[str, ...] = (
    *_GEOGRAPHY,
    "requests_received_in_year",
    "requests_rya",
    "requests_decided_to_assess",
    "requests_decided_not_to_assess",
    "requests_decision_not_made",
    "requests_withdrawn",
    "request_assess_pc",
    "request_not_assess_pc",
    "request_outstanding_pc",
    "request_withdrawn_pc",
    "request_outcome_six_weeks",
    "request_outcome_over_6_weeks",
    "request_outcome_six_weeks_pc",
    "request_outcome_over_6_weeks_pc",
    "mediation_related_request",
    "tribunal_related_request",
    "tribunal_after_mediation_request",
)
"""The header of DfE's ``requests.csv`` (2025 release), in order, without the BOM."""

TIME_IDENTIFIER = "Calendar year"
GEOGRAPHIC_LEVEL = "Local authority"

TIMELINESS_ALL = "All EHC plans issued"
REQUESTS_ALL = "All requests for EHC needs assessments"
AGE_TOPIC = "Child or young persons age"
ETHNICITY_TOPIC = "Ethnicity"
SEX_TOPIC = "Sex"

WITHIN_20_WEEKS_DAYS = 140  # issued <= 140 days after the request: within 20 weeks
OVER_A_YEAR_DAYS = 365  # 365 days or more: "after 52 weeks"; 141-364: "between 20 and 52"
SIX_WEEKS_DAYS = 42  # decision whether to assess <= 42 days after the request

# CaseState.age_band -> label, in the order the rows are written (youngest first, as
# the bands have no DfE single-year equivalent; see the module docstring).
TIMELINESS_AGE_LABELS: dict[str, str] = {
    "under-5": "age 4 and under",
    "5-10": "age 5 to 10",
    "11-15": "age 11 to 15",
    "16-19": "age 16 to 19",
    "20-25": "age 20 and over",
}
TIMELINESS_AGE_UNKNOWN = "Unknown"
REQUESTS_AGE_LABELS: dict[str, str] = {
    "under-5": "Aged 4 and under",
    "5-10": "Aged 5 to 10",
    "11-15": "Aged 11 to 15",
    "16-19": "Aged 16 to 19",
    "20-25": "Aged 20 and over",
}
REQUESTS_AGE_UNKNOWN = "Age unknown"

SEX_LABELS: dict[str, str] = {"F": "Female", "M": "Male"}
SEX_UNKNOWN = "Unknown"  # CaseState.sex "U" or None

# DfE main ethnicity codes -> the labels of the 2025 files (REFU/NOBT/missing -> Unclassified).
ETHNICITY_LABELS: dict[str, str] = {
    "WBRI": "White - White British",
    "WIRI": "White - Irish",
    "WIRT": "White - Traveller of Irish heritage",
    "WOTH": "White - Any other White background",
    "WROM": "White - Gypsy/Roma",
    "MWBC": "Mixed - White and Black Caribbean",
    "MWBA": "Mixed - White and Black African",
    "MWAS": "Mixed - White and Asian",
    "MOTH": "Mixed - Any other Mixed background",
    "AIND": "Asian - Indian",
    "APKN": "Asian - Pakistani",
    "ABAN": "Asian - Bangladeshi",
    "CHNE": "Asian - Chinese",
    "AOTH": "Asian - Any other Asian background",
    "BCRB": "Black - Black Caribbean",
    "BAFR": "Black - Black African",
    "BOTH": "Black - Any other Black background",
    "OOTH": "Any other ethnic group",
}
ETHNICITY_UNKNOWN = "Unclassified"


# --- the authority ------------------------------------------------------------------

_AUTHORITY_DEFAULT = Path(contracts.__file__).with_name("authority.yaml")


class Authority(BaseModel):
    """The local authority a deployment reports for (``contracts/authority.yaml``)."""

    model_config = ConfigDict(frozen=True)

    version: int = 1
    la_name: str
    new_la_code: str
    old_la_code: str
    region_code: str
    region_name: str
    country_code: str
    country_name: str


def load_authority(path: str | Path | None = None) -> Authority:
    """Read the authority file from ``path`` (default ``contracts/authority.yaml``)."""
    file = Path(path or _AUTHORITY_DEFAULT)
    return Authority.model_validate(yaml.safe_load(file.read_text(encoding="utf-8")))


# --- formatting ---------------------------------------------------------------------


def dfe_percent(numerator: int, denominator: int) -> str:
    """A percentage written the way DfE writes it: ``x`` if the denominator is 0;
    otherwise the double ``numerator / denominator * 100`` rounded to one decimal,
    half up, without a trailing ``.0``.

    ``Decimal(float)`` is the exact binary value, so 23/80 (28.749999...) gives ``28.7``
    and 33/80 (exactly 41.25) gives ``41.3``.  DfE publishes both of these values.
    """
    if denominator == 0:
        return NOT_AVAILABLE
    value = Decimal(numerator / denominator * 100).quantize(Decimal("0.1"), ROUND_HALF_UP)
    text = f"{value:f}"
    return text[:-2] if text.endswith(".0") else text


def to_csv(rows: Iterable[Mapping[str, str]], columns: Sequence[str]) -> str:
    """CSV text with exactly ``columns`` as header, in that order.  No BOM, ``\\n`` line
    endings, and quoting only where a value needs it, as DfE quotes "Bristol, City of".
    A row that lacks a column, or has one not in ``columns``, is an error."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow(columns)
    wanted = set(columns)
    for n, row in enumerate(rows):
        if set(row) != wanted:
            missing = sorted(wanted - set(row))
            extra = sorted(set(row) - wanted)
            raise ValueError(f"row {n}: missing columns {missing}, unexpected columns {extra}")
        writer.writerow([row[c] for c in columns])
    return out.getvalue()


# --- breakdowns ---------------------------------------------------------------------

Group = tuple[str, str]  # (breakdown_topic, breakdown)


def _age_label(case: CaseState, labels: Mapping[str, str], unknown: str) -> str:
    return labels.get(case.age_band, unknown)


def _sex_label(case: CaseState) -> str:
    return SEX_LABELS.get(case.sex or "", SEX_UNKNOWN)


def _ethnicity_label(case: CaseState) -> str:
    return ETHNICITY_LABELS.get((case.ethnicity or "").upper(), ETHNICITY_UNKNOWN)


def _groups(
    case: CaseState,
    all_label: str,
    age_labels: Mapping[str, str],
    age_unknown: str,
    ethnicity: bool,
) -> list[Group]:
    out = [(all_label, all_label), (AGE_TOPIC, _age_label(case, age_labels, age_unknown))]
    if ethnicity:
        out.append((ETHNICITY_TOPIC, _ethnicity_label(case)))
    out.append((SEX_TOPIC, _sex_label(case)))
    return out


def _group_order(
    all_label: str, age_labels: Mapping[str, str], age_unknown: str, ethnicity: bool
) -> list[Group]:
    """Every possible row, in the order written: All, age (youngest first, unknown last),
    ethnicity (alphabetical like DfE's file, so Unclassified falls before White), sex."""
    order: list[Group] = [(all_label, all_label)]
    order += [(AGE_TOPIC, label) for label in [*age_labels.values(), age_unknown]]
    if ethnicity:
        eth = sorted({*ETHNICITY_LABELS.values(), ETHNICITY_UNKNOWN}, key=str.casefold)
        order += [(ETHNICITY_TOPIC, label) for label in eth]
    order += [(SEX_TOPIC, label) for label in [*SEX_LABELS.values(), SEX_UNKNOWN]]
    return order


def _row_head(year: int, la: Authority, group: Group) -> dict[str, str]:
    return {
        "time_period": str(year),
        "time_identifier": TIME_IDENTIFIER,
        "geographic_level": GEOGRAPHIC_LEVEL,
        "country_code": la.country_code,
        "country_name": la.country_name,
        "region_code": la.region_code,
        "region_name": la.region_name,
        "new_la_code": la.new_la_code,
        "old_la_code": la.old_la_code,
        "la_name": la.la_name,
        "breakdown_topic": group[0],
        "breakdown": group[1],
    }


# --- timeliness_20_week.csv ---------------------------------------------------------


@dataclass
class _Plans:
    den: int = 0
    den_ex: int = 0
    within: int = 0
    within_ex: int = 0
    mid: int = 0
    mid_ex: int = 0
    over: int = 0
    over_ex: int = 0

    def add(self, other: _Plans) -> None:
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))


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
    totals: dict[Group, _Plans] = {}
    for case in cases:
        if case.final_issued is None or not _plan_issued_in(case, year):
            continue
        t = _plan_tally(case, case.final_issued)
        groups = _groups(
            case, TIMELINESS_ALL, TIMELINESS_AGE_LABELS, TIMELINESS_AGE_UNKNOWN, ethnicity
        )
        for g in groups:
            totals.setdefault(g, _Plans()).add(t)
    rows = []
    for g in _group_order(TIMELINESS_ALL, TIMELINESS_AGE_LABELS, TIMELINESS_AGE_UNKNOWN, ethnicity):
        plans = totals.get(g)
        if plans is None and g[0] != TIMELINESS_ALL:
            continue
        rows.append({**_row_head(year, la, g), **_timeliness_values(plans or _Plans())})
    return rows


# --- requests.csv -------------------------------------------------------------------

SixWeekBasis = Literal["decided_in_year", "received_in_year"]


@dataclass
class _Requests:
    received: int = 0
    assess: int = 0
    not_assess: int = 0
    not_made: int = 0
    withdrawn: int = 0
    decisions: int = 0  # denominator of the six-week percentages
    six_weeks: int = 0
    over_six_weeks: int = 0

    def add(self, other: _Requests) -> None:
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))

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
    totals: dict[Group, _Requests] = {}
    for case in cases:
        t = _request_tally(case, year, six_week_basis, as_at)
        if t is None:
            continue
        for g in _groups(case, REQUESTS_ALL, REQUESTS_AGE_LABELS, REQUESTS_AGE_UNKNOWN, ethnicity):
            totals.setdefault(g, _Requests()).add(t)
    rows = []
    for g in _group_order(REQUESTS_ALL, REQUESTS_AGE_LABELS, REQUESTS_AGE_UNKNOWN, ethnicity):
        tally = totals.get(g)
        if tally is None and g[0] != REQUESTS_ALL:
            continue
        rows.append({**_row_head(year, la, g), **_requests_values(tally or _Requests())})
    return rows
