"""Placements and sufficiency settings (``placements.yaml``, or the file the settings
name): the cohort the DfE caseload export counts, the inclusion
base plan, and the sufficiency alerts' thresholds and recipients."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field

_DEFAULT = Path(__file__).with_name("placements.yaml")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CaseloadCohort(_Strict):
    plans: list[str] = Field(min_length=1)
    identity: str | None = None
    placement: str
    setting_field: str = "setting_type"


class SufficiencyAlerts(_Strict):
    """Capacity alerts on every occupancy KPI, per value of ``breakdown`` (each base),
    judged on closed ``cycle_kind`` cycles: full at or above ``full_percent``; under-used
    below ``underused_percent`` once a whole cycle has passed since it opened (it had
    places in the cycle before)."""

    breakdown: str = "base"
    cycle_kind: str = "term"
    full_percent: float = Field(default=100.0, gt=0)
    underused_percent: float = Field(default=50.0, ge=0)


class SufficiencyView(_Strict):
    """Which KPIs the dashboard's sufficiency view shows (by role in the view)."""

    share: str | None = None  # the headline share against its trajectory (K20)
    occupancy: str | None = None
    out_of_area: str | None = None
    distance: str | None = None
    awaiting_review_milestone: str | None = None  # the clock of decisions awaiting review
    history_months: int = Field(default=6, ge=1, le=24)


class PlacementSettings(_Strict):
    version: int
    caseload: CaseloadCohort
    inclusion_base_plan: dict[str, dict[str, int]] = {}
    alerts: SufficiencyAlerts = SufficiencyAlerts()
    dashboard: SufficiencyView = SufficiencyView()

    def planned_places(self, year: str) -> int | None:
        plan = self.inclusion_base_plan.get(year)
        return sum(plan.values()) if plan is not None else None


@lru_cache(maxsize=4)
def load_placements(path: str | None = None) -> PlacementSettings:
    file = Path(path or _DEFAULT)
    return PlacementSettings.model_validate(yaml.safe_load(file.read_text(encoding="utf-8")))
