"""``rate_per``: numerator events per ``per`` denominator events in the cycle (e.g.
tribunal appeals per 100 appealable decisions), both dated by the event day.  Either
side may sum a numeric field of its events instead of counting them (``field``: e.g.
sessions delivered per 100 sessions commissioned).

Vector: [numerator events, denominator events].
"""

from __future__ import annotations

from contracts.kpi_dictionary import RatePer
from services.timeliness.domain.measures.base import Base, Context, Reading, Vector, add, matched
from services.timeliness.domain.subjects import Fact, SubjectState


def _weight(f: Fact, name: str | None) -> int:
    """1 for counting; with a ``field``, its value (whole numbers; absent counts 0)."""
    if name is None:
        return 1
    v = f.fields.get(name)
    return int(v) if isinstance(v, int | float) and not isinstance(v, bool) else 0


def contributions(kpi: str, k: RatePer, s: SubjectState, ctx: Context) -> dict[Base, Vector]:
    out: dict[Base, Vector] = {}
    for f in matched(s, ctx.matchers(kpi, "numerator")):
        add(out, ctx.at(kpi, f.day, s), [_weight(f, k.numerator.field), 0])
    for f in matched(s, ctx.matchers(kpi, "denominator")):
        add(out, ctx.at(kpi, f.day, s), [0, _weight(f, k.denominator.field)])
    return out


def value(k: RatePer, v: Vector) -> Reading:
    rate = round(v[0] * k.per / v[1], 2) if v[1] else None
    return Reading(rate, v[0], v[1], {"per": k.per})
