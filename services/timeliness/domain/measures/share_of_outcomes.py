"""``share_of_outcomes``: the share of decisions with an outcome (e.g. referrals
accepted as appropriate), dated by the decision day.  With ``count: first`` (the
default) only a subject's first decision counts (earliest day, then the smallest
outcome), as SEN2 does.

Vector: [decisions, with the outcome].
"""

from __future__ import annotations

from contracts.kpi_dictionary import ShareOfOutcomes
from services.timeliness.domain.measures.base import Base, Context, Reading, Vector, add, percent
from services.timeliness.domain.subjects import SubjectState


def contributions(
    kpi: str, k: ShareOfOutcomes, s: SubjectState, ctx: Context
) -> dict[Base, Vector]:
    (m,) = ctx.matchers(kpi, "event")
    facts = m.facts(s)
    if k.count == "first" and facts:
        facts = [min(facts, key=lambda f: (f.day, str(s.value(f, k.field))))]
    out: dict[Base, Vector] = {}
    for f in facts:
        outcome = s.value(f, k.field)
        if k.denominator != "all" and outcome not in k.denominator:
            continue
        add(out, ctx.at(kpi, f.day, s), [1, int(outcome in k.numerator)])
    return out


def value(k: ShareOfOutcomes, v: Vector) -> Reading:
    return Reading(percent(v[1], v[0]), v[1], v[0])
