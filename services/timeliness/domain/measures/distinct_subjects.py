"""``distinct_subjects``: distinct subjects (persons, when the events are keyed by
person) with at least one matching event in the cycle, e.g. Experts at Hand reach in a
term.  A subject counts once per cycle, in its current breakdown.

Vector: [subjects, events].
"""

from __future__ import annotations

from contracts.cycles import cycle_labels
from contracts.kpi_dictionary import DistinctSubjects
from services.timeliness.domain.measures.base import Base, Context, Reading, Vector, add, matched
from services.timeliness.domain.subjects import SubjectState


def contributions(
    kpi: str, k: DistinctSubjects, s: SubjectState, ctx: Context
) -> dict[Base, Vector]:
    start = ctx.dictionary.plan_year_start_month
    events: dict[str, int] = {}
    for f in matched(s, ctx.matchers(kpi, "events")):
        for kind in k.cycles:
            for cycle in cycle_labels(kind, f.day, start):
                events[cycle] = events.get(cycle, 0) + 1
    out: dict[Base, Vector] = {}
    for cycle, n in events.items():
        add(out, ctx.at(kpi, cycle, s), [1, n])
    return out


def value(k: DistinctSubjects, v: Vector) -> Reading:
    return Reading(float(v[0]), v[0], None, {"events": v[1]})
