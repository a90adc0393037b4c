"""``reported_figure``: a figure a source reports for a period (attendance %, a survey
score), from events carrying ``period`` (a cycle label), ``value`` and optionally
``responses``.  For each subject and period the latest report wins; reports of several
subjects for one period are averaged.  Below ``min_responses`` the value is withheld;
for percentages the 95% Wilson interval is given.

With ``relative_to`` (a reference series, e.g. the statistical neighbours' average for
the same cohort and period) the value is the figure as a percentage of the reference
(100: in line; 95: 5% below); ``extra`` keeps the figure and the reference.

Vector: [reports, sum of values x 1,000,000, responses, reports with a response count],
then with ``relative_to`` [reference reports, sum of reference values x 1,000,000].
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
    out = _series(kpi, k, s, ctx, "event", reference=False)
    if k.relative_to is not None:
        for key, vec in _series(kpi, k, s, ctx, "relative_to", reference=True).items():
            add(out, key, vec)
    return out


def _series(
    kpi: str, k: ReportedFigure, s: SubjectState, ctx: Context, what: str, reference: bool
) -> dict[Base, Vector]:
    (m,) = ctx.matchers(kpi, what)
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
        if reference:
            add(out, ctx.at(kpi, period, s), [0, 0, 0, 0, 1, round(figure * MICRO)])
            continue
        responses = s.value(f, k.responses_field) if k.responses_field else None
        n = responses if isinstance(responses, int) and not isinstance(responses, bool) else None
        vec = [1, round(figure * MICRO), n or 0, int(n is not None)]
        if k.relative_to is not None:
            vec += [0, 0]
        add(out, ctx.at(kpi, period, s), vec)
    return out


def wilson(p: float, n: int) -> tuple[float, float]:
    centre = (p + Z * Z / (2 * n)) / (1 + Z * Z / n)
    half = Z * math.sqrt(p * (1 - p) / n + Z * Z / (4 * n * n)) / (1 + Z * Z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def value(k: ReportedFigure, v: Vector) -> Reading:
    reports, total, responses, with_count = v[:4]
    if not reports:
        return Reading(None)
    figure = round(total / reports / MICRO, 2)
    extra: Extra = {"reports": reports}
    if k.relative_to is not None:
        ref_reports, ref_total = v[4:6]
        extra["figure"] = figure
        if not ref_reports or not ref_total:
            extra["reference"] = None
            return Reading(None, None, None, extra)
        reference = round(ref_total / ref_reports / MICRO, 2)
        extra["reference"] = reference
        extra["difference"] = round(figure - reference, 2)
        return Reading(round(100 * figure / reference, 1), None, None, extra)
    if with_count:
        extra["responses"] = responses
        if k.min_responses is not None and responses < k.min_responses:
            extra["too_few_responses"] = True
            return Reading(None, None, responses, extra)
        if k.unit == "percent" and responses > 0:
            low, high = wilson(min(1.0, max(0.0, figure / 100)), responses)
            extra.update(ci_low=round(100 * low, 1), ci_high=round(100 * high, 1))
    return Reading(figure, None, responses if with_count else None, extra)
