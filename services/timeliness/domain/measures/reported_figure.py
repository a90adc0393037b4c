"""``reported_figure``: a figure a source reports for a period (attendance %, a survey
score), from events carrying ``period`` (a cycle label), ``value`` and optionally
``responses``.  For each subject and period the latest report wins; reports of several
subjects for one period are averaged.  Below ``min_responses`` the value is withheld;
for percentages the 95% Wilson interval is given.

Vector: [reports, sum of values x 1,000,000, responses, reports with a response count].
"""

from __future__ import annotations

import math

from contracts.cycles import bounds, kind_of
from contracts.kpi_dictionary import ReportedFigure
from services.timeliness.domain.measures.base import Base, Context, Extra, Reading, Vector, add
from services.timeliness.domain.subjects import Fact, SubjectState

MICRO = 1_000_000
Z = 1.96


def contributions(kpi: str, k: ReportedFigure, s: SubjectState, ctx: Context) -> dict[Base, Vector]:
    (m,) = ctx.matchers(kpi, "event")
    latest: dict[str, Fact] = {}
    start = ctx.dictionary.plan_year_start_month
    for f in m.facts(s):
        period = s.value(f, k.period_field)
        if not isinstance(period, str) or kind_of(period) not in k.cycles:
            continue
        try:
            bounds(period, start)
        except (ValueError, IndexError):
            continue  # not a cycle label (a data-quality problem)
        best = latest.get(period)
        if best is None or (f.time, f.canon) > (best.time, best.canon):
            latest[period] = f
    out: dict[Base, Vector] = {}
    for period, f in latest.items():
        figure = s.value(f, k.value_field)
        if not isinstance(figure, int | float) or isinstance(figure, bool):
            continue
        responses = s.value(f, k.responses_field) if k.responses_field else None
        n = responses if isinstance(responses, int) and not isinstance(responses, bool) else None
        vec = [1, round(figure * MICRO), n or 0, int(n is not None)]
        add(out, ctx.at(kpi, period, s), vec)
    return out


def wilson(p: float, n: int) -> tuple[float, float]:
    centre = (p + Z * Z / (2 * n)) / (1 + Z * Z / n)
    half = Z * math.sqrt(p * (1 - p) / n + Z * Z / (4 * n * n)) / (1 + Z * Z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def value(k: ReportedFigure, v: Vector) -> Reading:
    reports, total, responses, with_count = v
    if not reports:
        return Reading(None)
    figure = round(total / reports / MICRO, 2)
    extra: Extra = {"reports": reports}
    if with_count:
        extra["responses"] = responses
        if k.min_responses is not None and responses < k.min_responses:
            extra["too_few_responses"] = True
            return Reading(None, None, responses, extra)
        if k.unit == "percent" and responses > 0:
            low, high = wilson(min(1.0, max(0.0, figure / 100)), responses)
            extra.update(ci_low=round(100 * low, 1), ci_high=round(100 * high, 1))
    return Reading(figure, None, responses if with_count else None, extra)
