"""``occupancy``: at a census date, places filled (subjects with a running clock, e.g. a
placement at an inclusion base) against the capacity in force then (the latest
commissioned-places figure reported on or before the date, per service line).
Breakdowns line up by attribute name (e.g. ``service`` on both).

Vector: [places filled, places commissioned].
"""

from __future__ import annotations

from contracts.kpi_dictionary import Occupancy
from services.timeliness.domain.measures import base
from services.timeliness.domain.measures.base import At, Context, Reading, Vector


def capacity_key(kpi: str) -> str:
    return f"capacity:{kpi}"


def census(kpi: str, k: Occupancy, at: At, ctx: Context) -> dict[str, Vector]:
    out: dict[str, Vector] = {"all": [0, 0]}  # "all" is always counted
    for s in at.members(k.filled.clock):
        if not s.nullified and base.where_holds(k.filled.where, s.attrs):
            for b in ctx.breakdowns(kpi, s.attrs):
                out.setdefault(b, [0, 0])[0] += 1
    for s in at.members(capacity_key(kpi)):
        if s.value:
            for b in ctx.breakdowns(kpi, s.attrs):
                out.setdefault(b, [0, 0])[1] += s.value
    return out


def value(k: Occupancy, v: Vector) -> Reading:
    return Reading(base.percent(v[0], v[1]), v[0], v[1], {"vacant": v[1] - v[0]})
