"""What the dashboard shows, as plain data: headline tiles, a KPI's trend, its
breakdown tables, its revisions and its benchmark.  Pure functions over published
(suppressed or not) KPI values; the templates only lay them out."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date

from contracts.kpi_dictionary import KpiDef
from services.reporting.domain import periods
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
}
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
    if value is None:
        return "-"
    if unit == "percent":
        return f"{value:.1f}%"
    return f"{value:,.0f}"


def fmt_target(value: float | None, unit: str) -> str:
    if value is None:
        return "None set"
    if unit == "percent":
        return f"{value:g}%"
    return f"{value:,.0f}"


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
    diff = round(current - previous, 1)
    unit = " points" if k.unit == "percent" else ""
    prev_text = fmt_number(previous, k.unit)
    if diff == 0:
        return Trend("→", "same", "no change", f"No change on {against} ({prev_text})")
    up = diff > 0
    better = ""
    if k.direction != "none":
        better = "better" if up == (k.direction == "higher") else "worse"
    size = f"{abs(diff):.1f}" if k.unit == "percent" else f"{abs(diff):,.0f}"
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


# The measures the first release's tiles describe; any other kind is shown generically.
EHCNA_MEASURES = ("within_days", "open_count", "backlog")


def current_cycle(k: KpiDef, today: date) -> str:
    """The cycle a headline figure describes: the plan-year quarter in progress for a
    rate, "current" for a count."""
    if k.measure == "within_days":
        return periods.quarter_label(today)
    return "current"


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
    baseline = fmt_target(k.baseline, k.unit) if k.baseline is not None else "Not set"
    standard = fmt_target(k.standard, k.unit) if k.standard is not None else "None"
    if today is None:
        return Tile(
            kpi,
            k.name,
            k.ref,
            k.unit,
            "",
            "No data yet",
            None,
            "",
            "none",
            RAG_TEXT["none"],
            "None set",
            baseline,
            standard,
            None,
            data_date,
        )
    cycle = current_cycle(k, today)
    p = values.get((cycle, "all"))
    note = ""
    if k.measure not in EHCNA_MEASURES:
        period, p, value_text, detail, tr = generic_parts(k, values, today)
        target = p.source.target if p is not None else None
        if k.target_to_be_established:
            note = f"Target to be established; baseline {k.baseline_note or 'to be set'}."
        elif k.baseline is None and k.baseline_note:
            note = f"Baseline {k.baseline_note}."
    elif k.measure == "within_days":
        period = f"{periods.title(cycle)}, so far"
        prev_cycle = periods.previous(cycle)
        prev = values.get((prev_cycle, "all"))
        tr = trend(
            p.value if p else None,
            prev.value if prev else None,
            k,
            periods.short_title(prev_cycle),
        )
        if p is None or (p.value is None and not p.suppressed):
            value_text, detail = "No plans yet", "None completed this quarter so far"
        else:
            value_text = shown(p, "value", k.unit)
            detail = f"{shown(p, 'numerator')} of {shown(p, 'denominator')} within the time limit"
        outlook = values.get(("current", "outlook"))
        if outlook is not None and outlook.extra.get("quarter") == cycle:
            note = str(outlook.extra.get("summary") or "")
        target = p.source.target if p is not None else None
    else:
        period = "now"
        value_text = shown(p, "value", k.unit) if p else "-"
        detail = "open now" if k.measure == "open_count" else "open past the time limit now"
        tr = None
        if previous_count is not None and p is not None:
            when, prev = previous_count
            tr = trend(p.value, prev.value, k, periods.short_date(when))
        target = None
    rag = p.rag if p is not None else "none"
    target_text = fmt_target(target, k.unit)
    if target is not None and k.measure == "within_days":
        target_text += f" ({periods.short_title(cycle)} trajectory)"
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
        RAG_TEXT.get(rag, rag),
        target_text,
        baseline,
        standard,
        tr,
        data_date,
        note,
    )


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
    """Closed cycles of ``kind`` for breakdown ``all`` with the trajectory and standard;
    restated cycles (upstream revision 2 or more) are marked."""
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
    targets = [p.source.target for p in closed]
    if any(t is not None for t in targets):
        series.append(Series("Trajectory", targets, PURPLE, "8 5", "square", step=True))
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
                fmt_target(p.source.target, k.unit) if p.source.target is not None else "-",
                RAG_TEXT.get(p.rag, p.rag) if "rag" not in p.suppressed else p.suppressed["rag"],
                status,
            )
        )
    words = "; ".join(f"{r.title}: {r.value_text}" for r in rows) or "no closed cycles yet"
    kind_word = {"month": "month", "quarter": "quarter", "week": "week"}.get(kind, kind)
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


def breakdown_tables(
    k: KpiDef, values: Mapping[tuple[str, str], Published], cycle: str
) -> list[BreakdownTable]:
    tables = []
    count = k.measure != "within_days"
    for dim, label in DIMENSIONS.items():
        members = sorted(
            (p for (c, b), p in values.items() if c == cycle and b.startswith(f"{dim}=")),
            key=lambda p: _group_order(p.breakdown),
        )
        if not members:
            continue
        rows = [_row(p, k) for p in members]
        total = values.get((cycle, "all"))
        caption = f"{k.name} by {label.lower()}, {periods.title(cycle)}"
        tables.append(
            BreakdownTable(dim, caption, rows, _row(total, k, "All") if total else None, count)
        )
    return tables


def _row(p: Published, k: KpiDef, label: str | None = None) -> BreakdownRow:
    rag = p.suppressed.get("rag") or RAG_TEXT.get(p.rag, p.rag)
    return BreakdownRow(
        label or group_label(p.breakdown),
        shown(p, "denominator"),
        shown(p, "numerator"),
        shown(p, "value", k.unit),
        rag,
    )


def cycle_choices(
    values: Mapping[tuple[str, str], Published], kinds: Sequence[str]
) -> list[tuple[str, str]]:
    """Cycles with a breakdown to show, newest first, as (label, title)."""
    found = {c for (c, b) in values if b not in ("all", "outlook") and periods.kind_of(c) in kinds}
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
