"""What the dashboard shows, as plain data: headline tiles, a KPI's trend, its
breakdown tables, its revisions and its benchmark.  Pure functions over published
(suppressed or not) KPI values; the templates only lay them out."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date

from contracts import cycles
from contracts.kpi_dictionary import KpiDef, KpiDictionary
from services.reporting.domain import kinds, periods
from services.reporting.domain.chart_data import (
    BLUE,
    GREY,
    PURPLE,
    Bar,
    BarChart,
    LineChart,
    Marker,
    Series,
)
from services.reporting.domain.suppression import NOT_RECORDED, Published

DIMENSIONS = {
    "locality": "Locality",
    "age_band": "Age band",
    "primary_need": "Primary need",
    "sex": "Sex",
    "ethnicity": "Ethnicity",
    "phase": "Phase",
    "cohort": "Cohort",
}
COHORTS = {"ehcp": "EHC plan", "sen_support": "SEN Support", "sen-support": "SEN Support"}
NEEDS = {
    "ASD": "Autistic spectrum disorder",
    "SLCN": "Speech, language and communication needs",
    "SEMH": "Social, emotional and mental health",
    "MLD": "Moderate learning difficulty",
    "SLD": "Severe learning difficulty",
    "PMLD": "Profound and multiple learning difficulty",
    "SPLD": "Specific learning difficulty",
    "HI": "Hearing impairment",
    "VI": "Vision impairment",
    "MSI": "Multi-sensory impairment",
    "PD": "Physical disability",
    "DS": "Down syndrome",
    "OTH": "Other difficulty or disability",
    "NSA": "No specialist assessment",
}
SEXES = {"F": "Female", "M": "Male", "U": "Not known"}
AGE_ORDER = ["under-5", "5-10", "11-15", "16-19", "20-25"]
RAG_TEXT = {
    "green": "On target",
    "amber": "Close to target",
    "red": "Off target",
    "none": "No target",
}


def group_label(breakdown: str) -> str:
    """``locality=market-drayton`` -> ``Market Drayton``; ``sex=F`` -> ``Female``."""
    if breakdown == "all":
        return "All"
    dim, _, value = breakdown.partition("=")
    if value == NOT_RECORDED:
        return "Not recorded"
    if dim == "primary_need":
        return f"{NEEDS.get(value, value)} ({value})"
    if dim == "sex":
        return SEXES.get(value, value)
    if dim == "cohort" and value in COHORTS:
        return COHORTS[value]
    if dim == "age_band":
        if value == "under-5":
            return "Under 5"
        return value.replace("-", " to ")
    return value.replace("-", " ").title()


def _group_order(breakdown: str) -> tuple[int, int, str]:
    dim, _, value = breakdown.partition("=")
    if value == NOT_RECORDED:
        return (2, 0, "")
    if dim == "age_band" and value in AGE_ORDER:
        return (0, AGE_ORDER.index(value), value)
    return (1, 0, group_label(breakdown))


def fmt_number(value: float | None, unit: str) -> str:
    return kinds.fmt_value(value, unit)


def fmt_target(value: float | None, unit: str) -> str:
    return kinds.fmt_goal(value, unit)


def dimension_label(dim: str) -> str:
    return DIMENSIONS.get(dim) or dim.replace("_", " ").capitalize()


def shown(p: Published | None, name: str, unit: str = "count") -> str:
    """A field of a published value as text: its figure, or the symbol hiding it."""
    if p is None:
        return "-"
    if name in p.suppressed:
        return p.suppressed[name]
    if name == "value":
        return fmt_number(p.value, unit)
    if name in ("numerator", "denominator"):
        n = getattr(p, name)
        return "-" if n is None else f"{n:,}"
    v = p.extra.get(name.removeprefix("extra."))
    if v is None:
        return "-"
    return f"{v:,}" if isinstance(v, int) else str(v)


@dataclass(frozen=True)
class Trend:
    arrow: str  # for the eye only; the text says the same
    direction: str  # up | down | same
    assessment: str  # better | worse | no change | "" (direction-neutral measure)
    text: str


def trend(current: float | None, previous: float | None, k: KpiDef, against: str) -> Trend | None:
    if current is None or previous is None:
        return None
    diff = round(current - previous, 2 if k.unit == "rate" else 1)
    unit = " points" if k.unit == "percent" else ""
    prev_text = fmt_number(previous, k.unit)
    if diff == 0:
        return Trend("→", "same", "no change", f"No change on {against} ({prev_text})")
    up = diff > 0
    better = ""
    if k.direction != "none":
        better = "better" if up == (k.direction == "higher") else "worse"
    size = f"{abs(diff):.1f}" if k.unit == "percent" else fmt_number(abs(diff), k.unit)
    text = f"{'Up' if up else 'Down'} {size}{unit} on {against} ({prev_text})"
    if better:
        text += f": {better}"
    return Trend("↑" if up else "↓", "up" if up else "down", better, text)


@dataclass(frozen=True)
class Tile:
    kpi: str
    name: str
    ref: str
    unit: str
    period: str
    value_text: str
    value: float | None
    detail: str
    rag: str
    rag_text: str
    target_text: str
    baseline_text: str
    standard_text: str
    trend: Trend | None
    data_date: str
    note: str = ""
    target_label: str = "Target this quarter"
    indicator: str = "lagging"


def current_cycle(k: KpiDef, today: date) -> str | None:
    """The cycle a headline figure describes: "current" for a KPI valued now, else the
    cycle of its headline kind in progress (the plan-year quarter where it has quarters)."""
    return kinds.cycle_in_progress(k, today)


def _previous(cycle: str) -> str | None:
    try:
        return periods.previous(cycle)
    except ValueError:  # before the first term of the calendar
        return None


def _has_figure(k: KpiDef, p: Published | None) -> bool:
    """A value to show, or a reason it is withheld."""
    return p is not None and (bool(p.extra.get("too_few_responses")) or _value_text(k, p) is None)


def _latest_with_value(
    k: KpiDef, values: Mapping[tuple[str, str], Published], today: date
) -> tuple[str, Published] | None:
    found: list[tuple[tuple[date, date], str, Published]] = []
    for (cycle, breakdown), p in values.items():
        if breakdown != "all" or cycle == "current" or not _has_figure(k, p):
            continue
        try:
            if periods.kind_of(cycle) not in k.cycles or periods.bounds(cycle)[0] > today:
                continue
            found.append((periods.sort_key(cycle), cycle, p))
        except ValueError:
            continue
    if not found:
        return None
    _, cycle, p = max(found, key=lambda f: f[0])
    return cycle, p


def _value_text(k: KpiDef, p: Published | None) -> tuple[str, str] | None:
    """What a tile says when there is no figure to show (None: there is one)."""
    if p is not None and p.extra.get("too_few_responses"):
        return "Withheld", "too few responses to publish"
    if p is None or (p.value is None and not p.suppressed):
        return "None yet", "nothing counted in this period so far"
    return None


def latest_cycle(k: KpiDef, values: Mapping[tuple[str, str], Published], today: date) -> str | None:
    """For a measure of any kind: its current position if it has one, else the latest
    cycle of the first of its cycle kinds with a value that has begun by ``today``."""
    if "current" in k.cycles and ("current", "all") in values:
        return "current"
    for kind in (c for c in k.cycles if c != "current"):
        found = [
            c
            for (c, b) in values
            if b == "all"
            and c != "current"
            and periods.kind_of(c) == kind
            and periods.bounds(c)[0] <= today
        ]
        if found:
            return max(found, key=periods.sort_key)
    return None


def generic_parts(
    k: KpiDef, values: Mapping[tuple[str, str], Published], today: date
) -> tuple[str, Published | None, str, str, Trend | None]:
    """(period, value, value text, detail, trend) of a measure of any kind."""
    cycle = latest_cycle(k, values, today)
    if cycle is None:
        return "no figure yet", None, "No data yet", "", None
    p = values.get((cycle, "all"))
    period = periods.title(cycle)
    if p is not None and cycle != "current" and not p.source.closed:
        period += ", so far"
    value_text = shown(p, "value", k.unit)
    detail = ""
    if p is not None:
        if p.extra.get("too_few_responses"):
            value_text, detail = "Too few responses", f"{shown(p, 'denominator')} responses"
        elif p.denominator is not None and p.numerator is not None:
            detail = f"{shown(p, 'numerator')} of {shown(p, 'denominator')}"
        elif "responses" in p.extra:
            detail = f"{shown(p, 'extra.responses')} responses"
        if "ci_low" in p.extra:
            detail += f" (95% interval {p.extra['ci_low']}-{p.extra['ci_high']}%)"
        if "p50_days" in p.extra:
            detail += f"; median {shown(p, 'extra.p50_days')} days"
        if "reference" in p.extra and p.extra["reference"] is not None:
            detail = f"{p.extra['figure']}% against {p.extra['reference']}%"
    tr = None
    if cycle != "current":
        prev = values.get((periods.previous(cycle), "all"))
        tr = trend(
            p.value if p else None,
            prev.value if prev else None,
            k,
            periods.short_title(periods.previous(cycle)),
        )
    return period, p, value_text, detail.strip("; "), tr


def tile(
    kpi: str,
    k: KpiDef,
    values: Mapping[tuple[str, str], Published],
    today: date | None,
    *,
    previous_count: tuple[date, Published] | None = None,
) -> Tile:
    data_date = periods.short_date(today) if today else "no data yet"
    baseline = kinds.baseline_text(k)
    standard = fmt_target(k.standard, k.unit) if k.standard is not None else "None"
    kind = kinds.headline_kind(k)
    label = "Target this quarter" if kind in ("current", "quarter") else f"Target this {kind}"
    indicator = k.indicator or "lagging"
    if today is None:
        target = "To be established" if k.target_to_be_established else "None set"
        return Tile(
            kpi, k.name, k.ref, k.unit, "", "No data yet", None, "", "none",
            kinds.rag_text("none", None, k), target, baseline, standard, None, data_date,
            target_label=label, indicator=indicator,
        )  # fmt: skip
    cycle = current_cycle(k, today)
    p = values.get((cycle, "all")) if cycle else None
    if cycle != "current" and not _has_figure(k, p):
        # Nothing yet in the cycle in progress (a survey wave, a termly figure): the
        # latest cycle of any of the KPI's kinds that has begun and has a value.
        cycle, p = _latest_with_value(k, values, today) or (cycle, p)
    note = ""
    tr = None
    if cycle == "current":
        period = "now"
        if previous_count is not None and p is not None:
            when, earlier = previous_count
            tr = trend(p.value, earlier.value, k, periods.short_date(when))
    elif cycle is not None:
        period = f"{periods.title(cycle)}, so far"
        prev_cycle = _previous(cycle)
        prev = values.get((prev_cycle, "all")) if prev_cycle else None
        if prev_cycle is not None:
            tr = trend(
                p.value if p else None,
                prev.value if prev else None,
                k,
                periods.short_title(prev_cycle),
            )
        outlook = values.get(("current", "outlook"))
        if outlook is not None and outlook.extra.get("quarter") == cycle:
            note = str(outlook.extra.get("summary") or "")
    else:
        period = "outside the calendar"
    empty = _value_text(k, p)
    if empty is not None:
        value_text, detail = empty
    else:
        value_text = shown(p, "value", k.unit)
        detail = kinds.detail(k, p, shown(p, "numerator"), shown(p, "denominator"))
    rag = p.rag if p is not None else "none"
    return Tile(
        kpi,
        k.name,
        k.ref,
        k.unit,
        period,
        value_text,
        p.value if p else None,
        detail,
        rag,
        kinds.rag_text(rag, p, k),
        kinds.goal_text(k, p, cycle),
        baseline,
        standard,
        tr,
        data_date,
        note,
        label,
        indicator,
    )


@dataclass
class HeadlineGroup:
    """One of the plan's headline metrics with its outcome and leading indicators."""

    id: str
    title: str
    hint: str
    lagging: list[Tile]
    leading: list[Tile]


def headline_groups(dictionary: KpiDictionary, tiles: Sequence[Tile]) -> list[HeadlineGroup]:
    """The tiles by headline metric (``headline: <id>``; ``true``: the KPI is a headline
    metric of its own), in the dictionary's ``headlines`` order, then as the KPIs come;
    within each, lagging (the outcome; the default) and leading indicators."""
    groups: dict[str, HeadlineGroup] = {}
    for hid, h in dictionary.headlines.items():
        groups[hid] = HeadlineGroup(hid, h.name, h.description or "", [], [])
    for t in tiles:
        k = dictionary.kpis[t.kpi]
        hid = k.headline if isinstance(k.headline, str) else t.kpi
        if hid not in groups:
            title = hid.replace("_", " ").capitalize()
            if hid in dictionary.kpis:
                title = dictionary.kpis[hid].name
            groups[hid] = HeadlineGroup(hid, title, "", [], [])
        (groups[hid].leading if t.indicator == "leading" else groups[hid].lagging).append(t)
    return [g for g in groups.values() if g.lagging or g.leading]


# --- trend chart ------------------------------------------------------------------------


@dataclass(frozen=True)
class TrendRow:
    cycle: str
    title: str
    value_text: str
    detail: str
    target_text: str
    rag_text: str
    status: str  # "final", "revised (revision 2)", "provisional"


@dataclass(frozen=True)
class Revision:
    cycle: str
    title: str
    revision: int
    before: str
    after: str


@dataclass
class TrendView:
    kind: str
    chart: LineChart | None  # None before the first closed cycle
    rows: list[TrendRow]
    revisions: list[Revision] = field(default_factory=list)


def trend_view(
    kpi: str,
    k: KpiDef,
    values: Mapping[tuple[str, str], Published],
    kind: str = "month",
    *,
    first_closed: Mapping[str, Published] | None = None,
    limit: int = 18,
) -> TrendView:
    """Closed cycles of ``kind`` for breakdown ``all`` with the trajectory (or the goal
    before it) and the standard; restated cycles (upstream revision 2 or more) are
    marked."""
    closed = sorted(
        (
            p
            for (c, b), p in values.items()
            if b == "all" and periods.kind_of(c) == kind and p.source.closed
        ),
        key=lambda p: periods.sort_key(p.cycle),
    )[-limit:]
    labels = [periods.short_title(p.cycle) for p in closed]
    unit = "%" if k.unit == "percent" else ""
    actual = Series("Actual", [p.value for p in closed], BLUE, None, "circle")
    series = [actual]
    goals = [p.source.target if p.source.target is not None else p.source.goal for p in closed]
    if any(t is not None for t in goals):
        series.append(Series("Trajectory", goals, PURPLE, "8 5", "square", step=True))
    if k.standard is not None:
        series.append(Series("Standard", [k.standard] * len(closed), GREY, "2 4", None))
    markers = [
        Marker(i, p.value, f"rev {p.source.revision}")
        for i, p in enumerate(closed)
        if p.source.revision >= 2 and p.value is not None
    ]
    rows: list[TrendRow] = []
    revisions: list[Revision] = []
    for p in closed:
        status = "final"
        if p.source.revision >= 2:
            status = f"revised (revision {p.source.revision})"
            first = (first_closed or {}).get(p.cycle)
            if first is not None:
                revisions.append(
                    Revision(
                        p.cycle,
                        periods.title(p.cycle),
                        p.source.revision,
                        shown(first, "value", k.unit),
                        shown(p, "value", k.unit),
                    )
                )
        rows.append(
            TrendRow(
                p.cycle,
                periods.title(p.cycle),
                shown(p, "value", k.unit),
                f"{shown(p, 'numerator')} of {shown(p, 'denominator')}"
                if p.source.denominator is not None
                else "",
                kinds.goal_text(k, p, None) if p.source.goal is not None or
                k.target_to_be_established else "-",
                kinds.rag_text(p.rag, p, k),
                status,
            )
        )  # fmt: skip
    words = "; ".join(f"{r.title}: {r.value_text}" for r in rows) or "no closed cycles yet"
    kind_word = cycles.noun(kind)
    desc = f"{k.name}, by {kind_word}. {words}."
    if k.standard is not None:
        desc += f" Standard {fmt_target(k.standard, k.unit)}."
    chart = LineChart(
        title=f"{k.name} by {kind_word}",
        description=desc,
        x_labels=labels,
        series=series,
        unit=unit,
        y_max=100.0 if k.unit == "percent" else None,
        markers=markers,
        chart_id=f"trend-{kpi}",
    )
    return TrendView(kind, chart if closed else None, rows, revisions)


# --- breakdowns -------------------------------------------------------------------------


@dataclass(frozen=True)
class BreakdownRow:
    label: str
    denominator: str
    numerator: str
    value: str
    rag: str


@dataclass(frozen=True)
class BreakdownTable:
    dimension: str
    caption: str
    rows: list[BreakdownRow]
    total: BreakdownRow | None
    is_count: bool
    label: str = ""
    headings: tuple[str, ...] = ()  # denominator, numerator, value (not for counts)


def breakdown_tables(
    k: KpiDef,
    values: Mapping[tuple[str, str], Published],
    cycle: str,
    dims: Sequence[str] | None = None,
) -> list[BreakdownTable]:
    """One table per breakdown dimension the KPI declares (``dims``; default: those its
    values carry), e.g. locality, phase or cohort."""
    present = [b.partition("=")[0] for (c, b) in values if c == cycle and "=" in b]
    order = list(dims) if dims is not None else sorted(set(present), key=_dimension_order)
    total = values.get((cycle, "all"))
    count = total.source.denominator is None if total else k.kind in _COUNT_KINDS
    den, num = kinds.counted(k)
    headings = () if count else (den, num, kinds.UNIT_NOUN.get(k.unit, "Value"))
    tables = []
    for dim in order:
        members = sorted(
            (p for (c, b), p in values.items() if c == cycle and b.startswith(f"{dim}=")),
            key=lambda p: _group_order(p.breakdown),
        )
        if not members:
            continue
        rows = [_row(p, k) for p in members]
        label = dimension_label(dim)
        caption = f"{k.name} by {label.lower()}, {periods.title(cycle)}"
        tables.append(
            BreakdownTable(
                dim,
                caption,
                rows,
                _row(total, k, "All") if total else None,
                count,
                label,
                headings,
            )
        )
    return tables


_COUNT_KINDS = frozenset({"event_count", "distinct_subjects"})


def _dimension_order(dim: str) -> tuple[int, str]:
    known = list(DIMENSIONS)
    return (known.index(dim), dim) if dim in known else (len(known), dim)


def _row(p: Published, k: KpiDef, label: str | None = None) -> BreakdownRow:
    return BreakdownRow(
        label or group_label(p.breakdown),
        shown(p, "denominator"),
        shown(p, "numerator") if p.source.numerator is not None else shown(p, "value", k.unit),
        shown(p, "value", k.unit),
        kinds.rag_text(p.rag, p, k),
    )


def cycle_choices(
    values: Mapping[tuple[str, str], Published], kinds_: Sequence[str]
) -> list[tuple[str, str]]:
    """Cycles with a breakdown to show, newest first, as (label, title)."""
    found = {c for (c, b) in values if b not in ("all", "outlook") and periods.kind_of(c) in kinds_}
    return [(c, periods.title(c)) for c in sorted(found, key=periods.sort_key, reverse=True)]


# --- benchmark --------------------------------------------------------------------------


def area_key(name: str) -> str:
    """Match area names across DfE files ("Herefordshire, County of" = "Herefordshire")."""
    text = name.lower().replace("&", "and")
    for noise in (", county of", ", city of", "county of ", "city of "):
        text = text.replace(noise, " ")
    return " ".join("".join(ch if ch.isalnum() else " " for ch in text).split())


@dataclass(frozen=True)
class BenchRow:
    name: str
    kind: str  # la | england | region | neighbour | neighbours | sendwatch
    plans: int | None
    value: float | None


@dataclass
class BenchmarkView:
    year: int
    rows: list[BenchRow]
    chart: BarChart
    rank: int | None  # Shropshire's place among itself and its neighbours (1 = best)
    of: int
    neighbour_mean: float | None
    caption: str = "EHC plans issued within 20 weeks"
    count_label: str = "Plans issued"


def benchmark_view(
    la_name: str,
    region_name: str,
    year: int,
    rows: Sequence[tuple[str, str, int | None, float | None]],
    neighbours: Sequence[str],
    own: tuple[str, float | None] | None = None,
    *,
    excluding_exceptions: bool = False,
    caption: str | None = None,
    count_label: str = "Plans issued",
) -> BenchmarkView:
    """``rows`` are (level, area name, plans, percent) from DfE's published data."""
    by_name = {(lvl, area_key(name)): (n, v) for lvl, name, n, v in rows}
    la_name_key, region_key = area_key(la_name), area_key(region_name)
    out: list[BenchRow] = []
    la = by_name.get(("Local authority", la_name_key))
    out.append(BenchRow(f"{la_name} (DfE {year})", "la", *(la or (None, None))))
    eng = next(((n, v) for (lvl, _), (n, v) in by_name.items() if lvl == "National"), None)
    out.append(BenchRow("England", "england", *(eng or (None, None))))
    reg = by_name.get(("Regional", region_key))
    out.append(BenchRow(region_name, "region", *(reg or (None, None))))
    nb = [
        BenchRow(name, "neighbour", *by_name.get(("Local authority", area_key(name)), (None, None)))
        for name in neighbours
    ]
    vals = [r.value for r in nb if r.value is not None]
    mean = round(sum(vals) / len(vals), 1) if vals else None
    out.append(
        BenchRow(f"Statistical neighbours (average of {len(vals)})", "neighbours", None, mean)
    )
    if own is not None:
        out.append(BenchRow(own[0], "sendwatch", None, own[1]))
    out.extend(sorted(nb, key=lambda r: -(r.value if r.value is not None else -1)))
    ranked = [v for v in [la[1] if la else None, *vals] if v is not None]
    rank = None
    if la and la[1] is not None:
        rank = 1 + sum(1 for v in vals if v > la[1])
    measure = "excluding exceptions" if excluding_exceptions else "including exceptions"
    caption = caption or f"EHC plans issued within 20 weeks ({measure})"
    bars = [Bar(r.name, r.value, r.kind in ("la", "sendwatch")) for r in out]
    desc = "; ".join(
        f"{r.name}: {'no data' if r.value is None else f'{r.value:.1f}%'}" for r in out
    )
    chart = BarChart(
        f"{caption}, {year}: {la_name} and comparators",
        desc,
        bars,
        x_max=100.0,
        chart_id="benchmark",
    )
    return BenchmarkView(year, out, chart, rank, len(ranked), mean, caption, count_label)
