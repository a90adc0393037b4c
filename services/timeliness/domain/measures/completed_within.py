"""``completed_within``: the share of clocks stopped within a threshold of their start
(EHC plans within 20 weeks, decisions within 6 weeks), dated by the stop day.

Vector: [completions, within threshold 1, ..., within threshold n, sum of days,
band 1, ..., band m, then with ``percentiles`` a histogram of days 0 ..
percentile_max_days (longer times in the last bin)].  A subject that matches
``exclude_if`` is left out.
"""

from __future__ import annotations

import math

from contracts.kpi_dictionary import CompletedWithin
from services.timeliness.domain.clocks import any_match
from services.timeliness.domain.measures.base import Base, Context, Extra, Reading, Vector, percent
from services.timeliness.domain.subjects import SubjectState


def band_of(k: CompletedWithin, days: int) -> int:
    for i, band in enumerate(k.bands):
        if band.max_days is None or days <= band.max_days:
            return i
    return len(k.bands) - 1


def contributions(
    kpi: str, k: CompletedWithin, s: SubjectState, ctx: Context
) -> dict[Base, Vector]:
    clock = ctx.clock(s, k.clock)
    if not clock.completed or clock.stop is None:
        return {}
    if k.exclude_if and any_match(s, ctx.matchers(kpi, "exclude_if")):
        return {}
    days = clock.elapsed(clock.stop)
    vec = [1, *(int(days <= t.days) for t in k.thresholds), days]
    if k.bands:
        flags = [0] * len(k.bands)
        flags[band_of(k, days)] = 1
        vec += flags
    if k.percentiles:
        histogram = [0] * (k.percentile_max_days + 1)
        histogram[min(days, k.percentile_max_days)] = 1
        vec += histogram
    return {ctx.at(kpi, clock.stop, s): vec}


def percentile_days(histogram: list[int], p: int) -> int | None:
    """The p-th percentile of the completion times (nearest rank), from the histogram."""
    total = sum(histogram)
    if not total:
        return None
    rank = max(1, math.ceil(p / 100 * total))
    seen = 0
    for day, n in enumerate(histogram):
        seen += n
        if seen >= rank:
            return day
    return len(histogram) - 1


def value(k: CompletedWithin, v: Vector) -> Reading:
    n = len(k.thresholds)
    den, days = v[0], v[1 + n]
    extra: Extra = {"average_days": round(days / den, 1) if den else None}
    if n > 1:
        for i, t in enumerate(k.thresholds):
            extra[f"within_{t.days}_days"] = v[1 + i]
            extra[f"pc_within_{t.days}_days"] = percent(v[1 + i], den)
            if t.standard is not None:
                extra[f"standard_within_{t.days}_days"] = t.standard
    if k.bands:
        for i, band in enumerate(k.bands):
            extra[band.name] = v[2 + n + i]
        extra["average_weeks"] = round(days / den / 7, 1) if den else None
    if k.percentiles:
        histogram = v[2 + n + len(k.bands) :]
        for p in k.percentiles:
            extra[f"p{p}_days"] = percentile_days(histogram, p)
    return Reading(percent(v[1], den), v[1], den, extra)
