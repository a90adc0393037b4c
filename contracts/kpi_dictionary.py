"""The KPI dictionary (``kpis.yaml`` or ``SENDWATCH_KPIS_FILE``), version 2: every KPI's
measure kind and parameters, owner, direction, baseline, trajectory, standard, cycles,
breakdowns and the goal before its first trajectory point.  Shared by timeliness (which
computes the values), alerts and reporting (which judge and show them).

Each ``kind`` is one pure function of the measure engine (``services/timeliness/domain/
measures``); ``docs/design/measure-engine.md`` describes them.  A council changes a
target here and restarts the services; a change to what a KPI counts is applied to
history only by an explicit, audited replay.
"""

from __future__ import annotations

import os
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from contracts.clock_rules import Match

_DEFAULT = Path(__file__).with_name("kpis.yaml")

CycleKind = Literal[
    "week",
    "month",
    "quarter",
    "plan_year",
    "calendar_year",
    "rolling_12",
    "term",
    "current",
]
Rag = Literal["green", "amber", "red", "none"]
GoalRule = Literal["interpolate", "standard", "baseline", "none"]
TO_BE_ESTABLISHED = "to_be_established"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class KpiBase(_Strict):
    name: str
    ref: str
    kind: str
    unit: Literal["percent", "count", "days", "rate", "score"]
    direction: Literal["higher", "lower", "none"]
    workstream: str
    owner: str
    description: str | None = None
    baseline: float | None = None
    baseline_note: str | None = Field(default=None, description="e.g. 'to be set in Q2'")
    standard: float | None = None
    trajectory: dict[str, float] | Literal["to_be_established"] = Field(
        default_factory=dict,
        description="Targets by cycle label, each in force from its cycle's first day; "
        "or 'to_be_established' (shown as such: no RAG, no alert)",
    )
    goal_before_trajectory: GoalRule | None = Field(
        default=None,
        description="What a cycle before the first trajectory target is judged against; "
        "default: interpolate where a baseline and a trajectory exist, else standard",
    )
    cycles: list[CycleKind]
    breakdowns: list[str] | None = Field(
        default=None, description="Breakdown attributes; default: the dictionary's list"
    )
    headline: bool | str = False
    indicator: Literal["lagging", "leading"] | None = None
    escalation_policy: str | None = None
    amber_margin: float | None = None

    # --- what consumers read generically ----------------------------------------------
    @property
    def target_to_be_established(self) -> bool:
        return self.trajectory == TO_BE_ESTABLISHED

    @property
    def targets(self) -> dict[str, float]:
        return self.trajectory if isinstance(self.trajectory, dict) else {}

    @property
    def goal_rule(self) -> GoalRule:
        if self.goal_before_trajectory is not None:
            return self.goal_before_trajectory
        return "interpolate" if self.baseline is not None and self.targets else "standard"

    @property
    def census(self) -> bool:
        """Measured at a census date (cycle end, or today), not dated by events."""
        return False

    @property
    def clocks(self) -> tuple[str, ...]:
        """The clock policies the KPI reads."""
        return ()

    # --- read by services written before version 2 -------------------------------------
    @property
    def measure(self) -> str:
        return self.kind

    @property
    def limit_days(self) -> int | None:
        return None

    @property
    def exceptions(self) -> Literal["include", "exclude"]:
        return "include"

    @model_validator(mode="after")
    def _cycles_fit_the_kind(self) -> KpiBase:
        if self.census:
            return self
        if "current" in self.cycles:
            raise ValueError(f"{self.kind}: 'current' is a census cycle")
        return self


class CensusKpi(KpiBase):
    """A KPI counted at a census date (a cycle's last day, or today for 'current')."""

    @property
    def census(self) -> bool:
        return True


class Threshold(_Strict):
    days: int = Field(ge=0)
    standard: float | None = None


class Band(_Strict):
    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    max_days: int | None = Field(default=None, description="Upper bound; none: open-ended")


class CompletedWithin(KpiBase):
    """Share of clocks stopped within the first threshold, dated by the stop day."""

    kind: Literal["completed_within"]
    clock: str
    thresholds: list[Threshold] = Field(min_length=1)
    exclude_if: list[Match] = []
    bands: list[Band] = []
    outlook: Literal["quarter"] | None = None
    percentiles: list[int] = Field(
        default=[], description="Completion-time percentiles (e.g. [50]: the median days)"
    )
    percentile_max_days: int = Field(
        default=365, ge=1, le=3660, description="Times longer than this count as this"
    )

    @model_validator(mode="after")
    def _percentiles(self) -> CompletedWithin:
        if any(not 0 < p <= 100 for p in self.percentiles):
            raise ValueError("percentiles must lie in 1..100")
        return self

    @property
    def clocks(self) -> tuple[str, ...]:
        return (self.clock,)

    @property
    def measure(self) -> str:
        return "within_days"

    @property
    def limit_days(self) -> int | None:
        return self.thresholds[0].days

    @property
    def exceptions(self) -> Literal["include", "exclude"]:
        return "exclude" if self.exclude_if else "include"


class WaitingList(CensusKpi):
    """Those waiting at the census date, their waits, bands and percentiles."""

    kind: Literal["waiting_list"]
    clock: str
    value: Literal["share_within", "count", "count_over"] = "share_within"
    threshold_days: int | None = None
    day_bands: list[int] = Field(default=[], description="Band upper bounds, in days")
    percentiles: list[int] = []
    include_nullified: bool = False
    exclude_if: list[Match] = []

    @model_validator(mode="after")
    def _threshold(self) -> WaitingList:
        if self.value != "count" and self.threshold_days is None:
            raise ValueError(f"waiting_list value {self.value!r} needs threshold_days")
        if self.day_bands != sorted(set(self.day_bands)):
            raise ValueError("day_bands must ascend")
        return self

    @property
    def clocks(self) -> tuple[str, ...]:
        return (self.clock,)

    @property
    def measure(self) -> str:
        return {"count": "open_count", "count_over": "backlog"}.get(self.value, "waiting_list")

    @property
    def limit_days(self) -> int | None:
        return self.threshold_days


class ShareOfOutcomes(KpiBase):
    """Share of decisions with the outcome, dated by the decision day."""

    kind: Literal["share_of_outcomes"]
    event: Match
    field: str
    numerator: list[str | int | bool]
    denominator: list[str | int | bool] | Literal["all"] = "all"
    count: Literal["first", "each"] = "first"


class EventCount(KpiBase):
    """Matching events in the cycle (with ``direction: lower`` for a cap)."""

    kind: Literal["event_count"]
    events: list[Match] = Field(min_length=1)


class DistinctSubjects(KpiBase):
    """Distinct subjects (persons) with a matching event in the cycle."""

    kind: Literal["distinct_subjects"]
    events: list[Match] = Field(min_length=1)


class Group(_Strict):
    """Subjects with a running clock, optionally only those with these attributes."""

    clock: str
    where: dict[str, str | list[str]] = {}
    also: list[str] = Field(
        default=[],
        description="cohort_share: further clocks whose members are in the population too "
        "(e.g. plans issued on case events beside plans recorded as placement events)",
    )


class Cohort(_Strict):
    """Those of a group with a running clock and/or these attributes.  With a clock, the
    conditions test that clock's span in force (the latest started, when there are
    several: a person's counted placement)."""

    clock: str | None = None
    where: dict[str, str | list[str]] = {}
    above: dict[str, float] = Field(
        default={}, description="Numeric attributes that must exceed these values"
    )


class CohortShare(CensusKpi):
    """Share (or count) of a population at the census date that is in a cohort."""

    kind: Literal["cohort_share"]
    population: Group
    numerator: Cohort
    value: Literal["percent", "count"] = "percent"
    identity: str | None = Field(
        default=None,
        description="The attribute naming whom a span is about (e.g. person_id on case "
        "events); a span without it is about its subject.  Population and cohort spans "
        "meet on it, and each identity is counted once.",
    )
    percentiles_of: str | None = Field(
        default=None,
        description="A numeric attribute of the cohort span whose percentiles are given",
    )
    percentiles: list[int] = Field(default=[], description="e.g. [50]: extra p50_<field>")

    @model_validator(mode="after")
    def _percentiles(self) -> CohortShare:
        if bool(self.percentiles) != bool(self.percentiles_of):
            raise ValueError("percentiles and percentiles_of go together")
        if self.percentiles_of and self.numerator.clock is None:
            raise ValueError("percentiles_of reads the numerator clock's spans")
        return self

    @property
    def clocks(self) -> tuple[str, ...]:
        found = (self.population.clock, *self.population.also, self.numerator.clock)
        return tuple(dict.fromkeys(c for c in found if c))


class Capacity(_Strict):
    event: Match
    field: str


class Occupancy(CensusKpi):
    """Places filled at the census date against the capacity in force then."""

    kind: Literal["occupancy"]
    filled: Group
    capacity: Capacity

    @property
    def clocks(self) -> tuple[str, ...]:
        return (self.filled.clock,)


class EventSet(_Strict):
    events: list[Match] = Field(min_length=1)
    # Sum this numeric field of the matching events instead of counting them (e.g.
    # sessions delivered against sessions commissioned).
    field: str | None = None


class RatePer(KpiBase):
    """Numerator events per ``per`` denominator events in the cycle."""

    kind: Literal["rate_per"]
    numerator: EventSet
    denominator: EventSet
    per: int = Field(default=1000, ge=1)


class ReportedFigure(KpiBase):
    """A figure a source reports for a period (latest report wins), e.g. attendance."""

    kind: Literal["reported_figure"]
    event: Match
    value_field: str = "value"
    period_field: str = "period"
    responses_field: str | None = "responses"
    min_responses: int | None = None
    relative_to: Match | None = Field(
        default=None,
        description="A reference series (e.g. the statistical neighbours' figure): the "
        "value is then the figure as a percentage of the reference for the same period",
    )


KpiDef = Annotated[
    CompletedWithin
    | WaitingList
    | ShareOfOutcomes
    | EventCount
    | DistinctSubjects
    | CohortShare
    | Occupancy
    | RatePer
    | ReportedFigure,
    Field(discriminator="kind"),
]


class RagRule(_Strict):
    amber_margin: float = 5.0


class Headline(_Strict):
    """One of the plan's headline metrics: a KPI names it in ``headline`` and says with
    ``indicator`` whether it is the outcome (lagging) or a leading indicator of it."""

    name: str
    description: str | None = None


class KpiDictionary(_Strict):
    version: int
    plan_year_start_month: int = 4
    plan_start: date = Field(
        default=date(2026, 4, 1), description="Where an interpolated trajectory begins"
    )
    census_from: date | None = Field(
        default=None,
        description="Census KPIs are counted at the close of cycles ending on or after this "
        "day, none before (history older than this only feeds the current position)",
    )
    rag: RagRule = RagRule()
    grace_days: dict[str, int]
    breakdowns: list[str]
    headlines: dict[str, Headline] = Field(
        default_factory=dict, description="The plan's headline metrics, in overview order"
    )
    kpis: dict[str, KpiDef]

    @model_validator(mode="before")
    @classmethod
    def _anchors(cls, raw: Any) -> Any:
        """Top-level keys starting ``x-`` hold YAML anchors and are ignored.  The DfE
        benchmarks a KPI is set beside are declared in ``contracts/benchmarks.yaml`` only."""
        if isinstance(raw, dict):
            if "benchmarks" in raw:
                raise ValueError(
                    "benchmarks: declared in contracts/benchmarks.yaml (the one place a "
                    "KPI's DfE benchmark is declared), not in the KPI dictionary"
                )
            return {k: v for k, v in raw.items() if not str(k).startswith("x-")}
        return raw

    @model_validator(mode="after")
    def _check(self) -> KpiDictionary:
        if self.version != 2:
            raise ValueError(f"kpis.yaml version {self.version}: this release reads version 2")
        return self

    def breakdowns_of(self, kpi: str) -> list[str]:
        k = self.kpis[kpi]
        return list(self.breakdowns if k.breakdowns is None else k.breakdowns)

    def margin_of(self, kpi: str) -> float:
        k = self.kpis[kpi]
        return self.rag.amber_margin if k.amber_margin is None else k.amber_margin


@lru_cache(maxsize=4)
def load_kpis(path: str | None = None) -> KpiDictionary:
    file = Path(path or os.environ.get("SENDWATCH_KPIS_FILE") or _DEFAULT)
    return KpiDictionary.model_validate(yaml.safe_load(file.read_text()))
