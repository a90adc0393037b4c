"""How reporting reads any KPI from the dictionary and its values, whatever its measure
kind: which cycle its headline figure describes, how its figures are written (percent,
count, days, rate, score), what its numerator and denominator are called, its target
or goal (including "to be established"), its baseline, and the kind-specific detail a
value carries in ``extra`` (bands, percentiles, intervals ...).  Pure; no KPI is named
here, only the engine's measure kinds and units."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date

from contracts import cycles
from contracts.kpi_dictionary import KpiDef
from services.reporting.domain import periods
from services.reporting.domain.suppression import Published

PLAN_YEAR_START = 4
# The cycle a headline figure describes, for KPIs not valued "now": the plan reports
# quarterly, so the quarter in progress where the KPI has quarters, else its first cycle.
HEADLINE_KINDS = ("quarter", "term", "month", "week", "plan_year", "calendar_year")
TREND_KINDS = ("month", "quarter", "week", "term", "plan_year")

# What a value's numerator and denominator count, by measure kind: (denominator,
# numerator, the phrase joining them).
_COUNTED: dict[str, tuple[str, str, str]] = {
    "completed_within": ("Completed", "Within the time limit", "within the time limit"),
    "waiting_list": ("Waiting", "Within the time limit", "waiting within the time limit"),
    "share_of_outcomes": ("Decisions", "With the outcome", "decisions with the outcome"),
    "cohort_share": ("Population", "In the cohort", "in the cohort"),
    "occupancy": ("Places", "Filled", "places filled"),
    "rate_per": ("Denominator events", "Events", "events against"),
    "reported_figure": ("Responses", "Reports", "responses"),
}
_COUNT_DETAIL: dict[str, str] = {
    "waiting_list": "waiting now",
    "cohort_share": "in the cohort now",
    "event_count": "events in the period",
    "distinct_subjects": "people with a contact in the period",
}
UNIT_NOUN = {
    "percent": "Per cent",
    "count": "Number",
    "days": "Days",
    "rate": "Rate",
    "score": "Score",
}
_EXTRA_LABELS = {
    "average_days": "Average (days)",
    "average_weeks": "Average (weeks)",
    "mean_days": "Mean wait (days)",
    "waiting": "Waiting",
    "within_threshold": "Waiting within the time limit",
    "over_threshold": "Waiting past the time limit",
    "events": "Events",
    "vacant": "Places vacant",
    "reports": "Reports",
    "responses": "Responses",
    "ci_low": "95% interval, lower",
    "ci_high": "95% interval, upper",
    "within_20_weeks": "Within 20 weeks",
    "weeks_20_to_52": "20 to 52 weeks",
    "over_52_weeks": "Over 52 weeks",
}
# Detail about the value itself (not a figure of its own) or shown elsewhere on the page.
_NOT_DETAIL = {"summary", "quarter", "target_still_possible", "per", "too_few_responses"}


def point_in_time(k: KpiDef) -> bool:
    """Valued now (a census KPI with the ``current`` cycle), not by the cycle's events."""
    return "current" in k.cycles


def headline_kind(k: KpiDef) -> str:
    if point_in_time(k):
        return "current"
    for kind in ("quarter", *k.cycles):
        if kind in k.cycles:
            return kind
    return "current"


def cycle_of(kind: str, day: date) -> str | None:
    """The ``kind`` cycle containing ``day`` (None for a day outside the term calendar)."""
    if kind == "current":
        return "current"
    try:
        return cycles.label_for(kind, day, PLAN_YEAR_START)
    except (ValueError, KeyError):
        return None


def cycle_in_progress(k: KpiDef, today: date) -> str | None:
    return cycle_of(headline_kind(k), today)


def trend_kinds(k: KpiDef) -> list[str]:
    """The kinds of closed cycle a KPI's trend can be shown by, the usual first."""
    return [c for c in TREND_KINDS if c in k.cycles]


def _trim(value: float, places: int) -> str:
    text = f"{value:,.{places}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


_FORMATS: dict[str, Callable[[float], str]] = {
    "percent": lambda v: f"{v:.1f}%",
    "count": lambda v: f"{v:,.0f}",
    "days": lambda v: f"{_trim(v, 1)} days",
    "rate": lambda v: _trim(v, 2),
    "score": lambda v: _trim(v, 1),
}


def fmt_value(value: float | None, unit: str) -> str:
    """A figure in its unit: '28.1%', '1,234', '12.5 days', '0.25', '3.5'."""
    if value is None:
        return "-"
    return _FORMATS.get(unit, _FORMATS["score"])(value)


def fmt_goal(value: float | None, unit: str) -> str:
    if value is None:
        return "None set"
    if unit == "percent":
        return f"{value:g}%"
    return fmt_value(value, unit)


def baseline_text(k: KpiDef) -> str:
    """The baseline, or its note when it is still to be set ("to be set in Q2")."""
    if k.baseline is not None:
        return fmt_goal(k.baseline, k.unit)
    return k.baseline_note or "Not set"


def goal_text(k: KpiDef, p: Published | None, cycle: str | None) -> str:
    """What a value is judged against, and where it comes from."""
    if k.target_to_be_established:
        return "To be established"
    src = p.source if p is not None else None
    if src is None:
        return "None set"
    if src.goal_basis == "to_be_established":
        return "To be established"
    if src.target is not None:
        text = fmt_goal(src.target, k.unit)
        if cycle and cycle != "current":
            text += f" ({periods.short_title(cycle)} trajectory)"
        return text
    if src.goal is not None:
        basis = {
            "interpolated": "interim goal, interpolated from the baseline",
            "standard": "the standard",
            "baseline": "the baseline",
        }.get(src.goal_basis, src.goal_basis)
        return f"{fmt_goal(src.goal, k.unit)} ({basis})"
    return "None set"


def rag_text(rag: str, p: Published | None, k: KpiDef) -> str:
    if p is not None and "rag" in p.suppressed:
        return p.suppressed["rag"]
    if rag in ("green", "amber", "red"):
        return {"green": "On target", "amber": "Close to target", "red": "Off target"}[rag]
    established = p is not None and p.source.goal_basis == "to_be_established"
    if k.target_to_be_established or established:
        return "No RAG: target to be established"
    return "No target"


def counted(k: KpiDef) -> tuple[str, str]:
    """Column headings for a value's denominator and numerator."""
    den, num, _ = _COUNTED.get(k.kind, ("Of", "Counted", "of"))
    return den, num


def detail(k: KpiDef, p: Published | None, shown_num: str, shown_den: str) -> str:
    """The sentence under a figure: "36 of 128 within the time limit", "waiting now"."""
    if p is None:
        return ""
    if p.source.denominator is None:
        return _COUNT_DETAIL.get(k.kind, "")
    if k.kind == "reported_figure":
        return f"from {shown_den} responses"
    if k.kind == "rate_per":
        per = p.extra.get("per")
        return f"{shown_num} events against {shown_den}" + (f" (per {per:,})" if per else "")
    return f"{shown_num} of {shown_den} {_COUNTED.get(k.kind, ('', '', ''))[2]}".rstrip()


_BAND = re.compile(r"^band_(\d+)_(\d+|plus)_days$")
_PCT = re.compile(r"^p(\d+)_(days|weeks)$")
_WITHIN = re.compile(r"^(pc_|standard_)?within_(\d+)_days$")


def extra_label(name: str) -> str:
    """A plain label for a kind-specific detail field."""
    if name in _EXTRA_LABELS:
        return _EXTRA_LABELS[name]
    if m := _BAND.match(name):
        low, high = m.groups()
        return f"Waiting {low} days or more" if high == "plus" else f"Waiting {low} to {high} days"
    if m := _PCT.match(name):
        n, unit = m.groups()
        which = "Median" if n == "50" else f"{n}th percentile"
        return f"{which} wait ({unit})"
    if m := _WITHIN.match(name):
        prefix, days = m.groups()
        what = {"pc_": "% within", "standard_": "Standard within"}.get(prefix or "", "Within")
        return f"{what} {days} days"
    return name.replace("_", " ").capitalize()


def detail_fields(p: Published | None) -> list[str]:
    """The ``extra`` fields of a value shown as its detail, in the order it sends them."""
    if p is None:
        return []
    return [n for n in p.source.extra if n not in _NOT_DETAIL]


def empty_status(k: KpiDef) -> str:
    """The status of a cycle with no value yet."""
    return "no completions" if k.kind == "completed_within" else "no data"
