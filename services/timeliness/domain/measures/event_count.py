"""``event_count``: matching events in the cycle, dated by the event day (with
``direction: lower`` and a standard or trajectory, a cap: complaints <= 10 a month).

Vector: [events].
"""

from __future__ import annotations

from contracts.kpi_dictionary import EventCount
from services.timeliness.domain.measures.base import Base, Context, Reading, Vector, add, matched
from services.timeliness.domain.subjects import SubjectState


def contributions(kpi: str, k: EventCount, s: SubjectState, ctx: Context) -> dict[Base, Vector]:
    out: dict[Base, Vector] = {}
    for f in matched(s, ctx.matchers(kpi, "events")):
        add(out, ctx.at(kpi, f.day, s), [1])
    return out


def value(k: EventCount, v: Vector) -> Reading:
    return Reading(float(v[0]), v[0])
