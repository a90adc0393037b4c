"""KPI snapshots published by the timeliness service for alerts and reporting."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import Field

from contracts.envelope import Envelope, StrictModel
from contracts.plausibility import PlausibleTime


class KpiValue(StrictModel):
    kpi: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]{1,63}$", description="KPI dictionary id")
    cycle: str = Field(
        description="Cycle label: 2026-W47, 2026-11, 2026/27-Q3, 2026/27, 2026, "
        "R12-2026-11 (rolling 12 months to), 2026/27-T1 (school term), or 'current'"
    )
    cycle_kind: str = Field(default="current")
    breakdown: str = Field(default="all", description="'all' or dimension=value")
    value: float | None
    numerator: int | None = None
    denominator: int | None = None
    closed: bool = Field(default=False, description="The cycle has closed (end + grace)")
    revision: int = Field(
        default=0, description="0 while open; 1 at close; +1 each time a late event restates it"
    )
    baseline: float | None = None
    target: float | None = Field(
        default=None, description="The trajectory target in force for the cycle"
    )
    standard: float | None = None
    goal: float | None = Field(
        default=None,
        description="What the value is judged against: the target, else the goal before "
        "the first target (interpolated, standard or baseline, per the dictionary)",
    )
    goal_basis: Literal[
        "trajectory", "interpolated", "standard", "baseline", "none", "to_be_established"
    ] = Field(default="none", description="Where the goal comes from; none: not judged")
    rag: str = Field(default="none", description="Against the goal, in the KPI's direction")
    kind: str | None = Field(default=None, description="The KPI's measure kind")
    unit: str | None = Field(default=None, description="percent, count, days, rate, score")
    direction: Literal["higher", "lower", "none"] | None = Field(
        default=None, description="Which way is better: higher, lower (a cap) or none"
    )
    closes_on: date | None = Field(
        default=None, description="The first day the cycle counts as closed (end + grace)"
    )
    extra: dict[str, float | int | str | bool | None] = Field(
        default_factory=dict, description="Kind-specific detail (bands, percentiles ...)"
    )


class KpiSnapshotData(StrictModel):
    producer: str
    sequence: int = Field(ge=0, description="Monotonic per producer; newer replaces older")
    as_of: PlausibleTime | None = Field(description="Latest event time applied")
    watermark: PlausibleTime | None = Field(
        default=None,
        description="Latest clock tick: 'now' in event time (cycles close against it)",
    )
    events_applied: int = Field(ge=0, description="Distinct events applied so far")
    values: list[KpiValue]


class KpiSnapshot(Envelope[KpiSnapshotData]):
    type: Literal["sendwatch.kpi.snapshot"]
