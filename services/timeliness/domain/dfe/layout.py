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

import copy
import csv
import io
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import fields
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import TypeVar

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


class Tally:
    """Counts for one row: added field by field."""

    def add(self, other: Tally) -> None:
        for f in fields(self):  # type: ignore[arg-type]
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))


T = TypeVar("T", bound=Tally)


def _rows(
    year: int,
    la: Authority,
    tallies: Iterable[tuple[CaseState, T]],
    labels: tuple[str, Mapping[str, str], str],
    ethnicity: bool,
    values: Callable[[T | None], dict[str, str]],
) -> list[dict[str, str]]:
    """The rows of a file: "All" (always written), then each category with something in
    it, in DfE's order.  ``labels``: the file's "All" label, age labels, unknown age."""
    totals: dict[Group, T] = {}
    for case, t in tallies:
        for g in _groups(case, *labels, ethnicity):
            if g in totals:
                totals[g].add(t)
            else:
                totals[g] = copy.copy(t)
    rows = []
    for g in _group_order(*labels, ethnicity):
        tally = totals.get(g)
        if tally is None and g[0] != labels[0]:
            continue
        rows.append({**_row_head(year, la, g), **values(tally)})
    return rows
