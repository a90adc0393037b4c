"""``occupancy``: at a census date, places filled (subjects with a running clock, e.g. a
placement at an inclusion base) against the capacity in force then (the latest
commissioned-places figure reported on or before the date, per service line).
Breakdowns line up by attribute name (e.g. ``service`` on both).

Vector: [places filled, places commissioned].
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date

from contracts.kpi_dictionary import Occupancy
from services.timeliness.domain.measures.base import (
    Context,
    Reading,
    Span,
    Vector,
    percent,
    where_holds,
)


def capacity_key(kpi: str) -> str:
    return f"capacity:{kpi}"


def census(
    kpi: str,
    k: Occupancy,
    day: date,
    current: bool,
    spans: Mapping[str, Iterable[Span]],
    ctx: Context,
) -> dict[str, Vector]:
    assert k.filled.clock is not None
    out: dict[str, Vector] = {"all": [0, 0]}  # "all" is always counted
    for s in spans.get(k.filled.clock, ()):
        if s.member(day, current) and not s.nullified and where_holds(k.filled.where, s.attrs):
            for b in ctx.breakdowns(kpi, s.attrs):
                out.setdefault(b, [0, 0])[0] += 1
    for s in spans.get(capacity_key(kpi), ()):
        if s.member(day, current) and s.value:
            for b in ctx.breakdowns(kpi, s.attrs):
                out.setdefault(b, [0, 0])[1] += s.value
    return out


def value(k: Occupancy, v: Vector) -> Reading:
    return Reading(percent(v[0], v[1]), v[0], v[1], {"vacant": v[1] - v[0]})
