"""DfE's ``caseload.csv`` (the number of EHC plans active at a date by type of setting
attended), one ``All EHC plans`` row for the authority, computed from the spans.

* **Cohort** (``contracts/placements.yaml`` ``caseload``): a plan active on the day (a
  span of one of the plan clocks in force), one per person; its setting type is that of
  the counted placement in force on the day (the placement clock's latest-started span);
  with none in force, ``placement_unknown``.
* **Composition** as DfE's file (checked against the published rows): each total is the
  sum of its group of base columns (``contracts.placement_codes.CASELOAD_GROUPS``);
  ``ehcplans`` is every group plus ``nm_early_years`` and ``placement_unknown``; each
  ``_pc`` column is its total over ``ehcplans``, to one decimal place, half up
  (:func:`~services.timeliness.domain.dfe.layout.dfe_percent`).
* **x** where DfE has no value: ``await_prov_2022`` and ``perm_ex_2022`` (collected
  before 2023 only), and every percentage when there are no plans.
* ``time_period`` is the academic year containing the day (``202425`` for January
  2025), ``time_identifier`` ``Academic year``, as in the file.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import date

from contracts.placement_codes import CASELOAD_GROUPS, PLACEMENT_UNKNOWN, DfeSetting
from contracts.placements import CaseloadCohort
from services.timeliness.domain.dfe.layout import (
    _GEOGRAPHY,
    GEOGRAPHIC_LEVEL,
    NOT_AVAILABLE,
    Authority,
    dfe_percent,
)
from services.timeliness.domain.measures.base import At, Span
from services.timeliness.domain.measures.cohort_share import in_force, members_once

_PC = {  # percentage column -> its total (DfE's own spelling, AP_PRU in capitals)
    "mainstream_total_pc": "mainstream_total",
    "special_total_pc": "special_total",
    "AP_PRU_total_pc": "ap_pru_total",
    "fe_total_pc": "fe_total",
    "ed_elsewhere_pc": "ed_elsewhere",
    "nm_early_years_pc": "nm_early_years",
    "placement_unknown_pc": PLACEMENT_UNKNOWN,
}
PRE_2023_ONLY = ("await_prov_2022", "perm_ex_2022")
CASELOAD_COLUMNS: tuple[str, ...] = (
    *_GEOGRAPHY,
    "ehcplans",
    *CASELOAD_GROUPS["mainstream_total"],
    "mainstream_total",
    "mainstream_total_pc",
    *CASELOAD_GROUPS["special_total"],
    "special_total",
    "special_total_pc",
    *CASELOAD_GROUPS["ap_pru_total"],
    "ap_pru_total",
    "AP_PRU_total_pc",
    *CASELOAD_GROUPS["fe_total"],
    "fe_total",
    "fe_total_pc",
    *CASELOAD_GROUPS["ed_elsewhere"],
    "ed_elsewhere",
    "ed_elsewhere_pc",
    "nm_early_years",
    "nm_early_years_pc",
    PLACEMENT_UNKNOWN,
    "placement_unknown_pc",
    *PRE_2023_ONLY,
)
BASE_COLUMNS: tuple[str, ...] = (*(s.value for s in DfeSetting), PLACEMENT_UNKNOWN)


def academic_year(day: date) -> str:
    first = day.year if day.month >= 9 else day.year - 1
    return f"{first}{(first + 1) % 100:02d}"


def setting_counts(
    cohort: CaseloadCohort, day: date, spans: Mapping[str, Iterable[Span]]
) -> Counter[str]:
    """Active plans on ``day`` by the setting type of their counted placement."""
    at = At(day, False, spans)
    plans = members_once(at, cohort.plans, {}, cohort.identity)
    placed = in_force(at.members(cohort.placement), cohort.identity)
    out: Counter[str] = Counter()
    for who in plans:
        found = placed.get(who)
        setting = found.attrs.get(cohort.setting_field) if found is not None else None
        out[setting if setting in BASE_COLUMNS else PLACEMENT_UNKNOWN] += 1
    return out


def caseload_row(counts: Mapping[str, int], day: date, la: Authority) -> dict[str, str]:
    """DfE's ``All EHC plans`` row from counts of the base columns."""
    base = {c: int(counts.get(c, 0)) for c in BASE_COLUMNS}
    totals = {t: sum(base[c] for c in cols) for t, cols in CASELOAD_GROUPS.items()}
    plans = sum(totals.values()) + base["nm_early_years"] + base[PLACEMENT_UNKNOWN]
    values: dict[str, int] = {**base, **totals, "ehcplans": plans}
    row = {
        "time_period": academic_year(day),
        "time_identifier": "Academic year",
        "geographic_level": GEOGRAPHIC_LEVEL,
        "country_code": la.country_code,
        "country_name": la.country_name,
        "region_code": la.region_code,
        "region_name": la.region_name,
        "new_la_code": la.new_la_code,
        "old_la_code": la.old_la_code,
        "la_name": la.la_name,
        "breakdown_topic": "All EHC plans",
        "breakdown": "All EHC plans",
    }
    for column in CASELOAD_COLUMNS[len(_GEOGRAPHY) :]:
        if column in PRE_2023_ONLY:
            row[column] = NOT_AVAILABLE
        elif column in _PC:
            row[column] = dfe_percent(values[_PC[column]], plans)
        else:
            row[column] = str(values[column])
    return row
