"""``cohort_share``: at a census date, the share (or count) of a population (subjects
with a running clock, e.g. an active EHC plan) that is in a cohort (another running
clock, e.g. an INMSS placement, and/or attribute values, e.g. ``setting_type``).

Vector: [population, in the cohort].
"""

from __future__ import annotations

from contracts.kpi_dictionary import CohortShare
from services.timeliness.domain.measures.base import (
    At,
    Context,
    Reading,
    Vector,
    percent,
    where_holds,
)


def census(kpi: str, k: CohortShare, at: At, ctx: Context) -> dict[str, Vector]:
    in_cohort: set[str] | None = None
    if k.numerator.clock is not None:
        in_cohort = {s.subject for s in at.members(k.numerator.clock) if not s.nullified}
    out: dict[str, Vector] = {"all": [0, 0]}  # "all" is always counted
    seen: set[str] = set()
    for s in at.members(k.population.clock):
        if s.nullified or s.subject in seen:
            continue
        if not where_holds(k.population.where, s.attrs):
            continue
        seen.add(s.subject)
        hit = where_holds(k.numerator.where, s.attrs) and (
            in_cohort is None or s.subject in in_cohort
        )
        for b in ctx.breakdowns(kpi, s.attrs):
            cell = out.setdefault(b, [0, 0])
            cell[0] += 1
            cell[1] += int(hit)
    return out


def value(k: CohortShare, v: Vector) -> Reading:
    if k.value == "count":
        return Reading(float(v[1]), v[1], v[0])
    return Reading(percent(v[1], v[0]), v[1], v[0])
