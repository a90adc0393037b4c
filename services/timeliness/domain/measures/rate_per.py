"""``rate_per``: numerator events per ``per`` denominator events in the cycle (e.g.
tribunal appeals per 100 appealable decisions), both dated by the event day.

Vector: [numerator events, denominator events].
"""

from __future__ import annotations

from contracts.kpi_dictionary import RatePer
from services.timeliness.domain.measures.base import Base, Context, Reading, Vector, add, matched
from services.timeliness.domain.subjects import SubjectState


def contributions(kpi: str, k: RatePer, s: SubjectState, ctx: Context) -> dict[Base, Vector]:
    out: dict[Base, Vector] = {}
    for f in matched(s, ctx.matchers(kpi, "numerator")):
        add(out, ctx.at(kpi, f.day, s), [1, 0])
    for f in matched(s, ctx.matchers(kpi, "denominator")):
        add(out, ctx.at(kpi, f.day, s), [0, 1])
    return out


def value(k: RatePer, v: Vector) -> Reading:
    rate = round(v[0] * k.per / v[1], 2) if v[1] else None
    return Reading(rate, v[0], v[1], {"per": k.per})
