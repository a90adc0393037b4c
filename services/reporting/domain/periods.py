"""Cycle labels as reporting reads them: kind, bounds, order, nesting and plain names.

The labels are the timeliness service's (``2026-W47``, ``2026-11``, ``2026/27-Q3``,
``2026/27``, ``2026``, ``R12-2026-11``, ``current``); the calendar arithmetic is the
shared one in ``contracts/cycles.py``, with reporting's validation and wording on top.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

from contracts import cycles
from contracts.plausibility import load_window

PLAN_YEAR_START = 4  # April

CYCLE_PATTERN = (
    r"^(current|\d{4}-W\d{2}|\d{4}-(0[1-9]|1[0-2])|\d{4}/\d{2}-Q[1-4]|\d{4}/\d{2}|\d{4}"
    r"|R12-\d{4}-(0[1-9]|1[0-2]))$"
)
_CYCLE = re.compile(CYCLE_PATTERN)
MONTH_PATTERN = r"^\d{4}-(0[1-9]|1[0-2])$"
QUARTER_PATTERN = r"^\d{4}/\d{2}-Q[1-4]$"

MONTHS = cycles.MONTHS


def is_cycle(label: str, now: datetime | None = None) -> bool:
    """A valid cycle label, in a year the plausibility window reaches (a label like
    ``9999-12`` would take the calendar arithmetic past the last date)."""
    if not _CYCLE.match(label):
        return False
    if label != "current":
        year = int(label[4:8] if label.startswith("R12-") else label[:4])
        window = load_window()
        if not window.earliest.year <= year <= window.latest(now or datetime.now(UTC)).year:
            return False
    if "/" in label:  # 2026/27: the second year follows the first
        first = int(label[:4])
        return int(label[5:7]) == (first + 1) % 100
    return True


def kind_of(label: str) -> str:
    return cycles.kind_of(label)


def add_months(year: int, month: int, n: int) -> tuple[int, int]:
    return cycles.add_months(year, month, n)


def month_label(d: date) -> str:
    return cycles.month_label(d)


def plan_year_of(d: date) -> int:
    return cycles.plan_year_start(d, PLAN_YEAR_START)


def plan_year_label(year: int) -> str:
    return cycles.plan_year_label(year)


def quarter_label(d: date) -> str:
    return cycles.quarter_label(d, PLAN_YEAR_START)


def bounds(label: str) -> tuple[date, date]:
    """First and last day of a cycle (``current`` has none: ValueError)."""
    if label == "current":
        raise ValueError("cycle 'current' has no calendar bounds")
    return cycles.bounds(label, PLAN_YEAR_START)


def months_in(label: str) -> list[str]:
    """The month labels a quarter, plan year, calendar year or rolling year is made of."""
    first, last = bounds(label)
    out = []
    y, m = first.year, first.month
    while date(y, m, 1) <= last:
        out.append(f"{y:04d}-{m:02d}")
        y, m = add_months(y, m, 1)
    return out


def quarters_in(plan_year: str) -> list[str]:
    return [f"{plan_year}-Q{q}" for q in range(1, 5)]


def previous(label: str) -> str:
    return cycles.previous(label, PLAN_YEAR_START)


def sort_key(label: str) -> tuple[date, date]:
    if label == "current":
        return (date.max, date.max)
    first, last = bounds(label)
    return (last, first)


def short_date(d: date) -> str:
    return f"{d.day} {MONTHS[d.month - 1]} {d.year}"


def title(label: str) -> str:
    """A cycle as people say it: "October 2026", "2026/27 Q3 (October to December 2026)"."""
    kind = kind_of(label)
    if kind == "current":
        return "now"
    if kind == "month":
        y, m = map(int, label.split("-"))
        return f"{MONTHS[m - 1]} {y}"
    first, last = bounds(label)
    if kind == "quarter":
        span = f"{MONTHS[first.month - 1]} to {MONTHS[last.month - 1]} {last.year}"
        if first.year != last.year:
            span = f"{MONTHS[first.month - 1]} {first.year} to {MONTHS[last.month - 1]} {last.year}"
        return f"{label.replace('-Q', ' Q')} ({span})"
    if kind == "plan_year":
        return f"plan year {label} (April {first.year} to March {last.year})"
    if kind == "calendar_year":
        return f"calendar year {label}"
    if kind == "rolling_12":
        return f"12 months to {MONTHS[last.month - 1]} {last.year}"
    if kind == "term":
        season = {"T1": "autumn", "T2": "spring", "T3": "summer"}[label[-2:]]
        return f"{season} term {label[:7]}"
    return f"week {label[-2:]} of {label[:4]} (from {short_date(first)})"


def short_title(label: str) -> str:
    """Compact label for chart axes: "Oct 2026", "Q3 26/27"."""
    kind = kind_of(label)
    if kind == "month":
        y, m = map(int, label.split("-"))
        return f"{MONTHS[m - 1][:3]} {y}"
    if kind == "quarter":
        return f"Q{label[-1]} {label[2:7]}"
    return label
