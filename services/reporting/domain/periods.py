"""Cycle labels as reporting reads them: kind, bounds, order, nesting and plain names.

The labels are the timeliness service's (``2026-W47``, ``2026-11``, ``2026/27-Q3``,
``2026/27``, ``2026``, ``R12-2026-11``, ``current``).  Reporting keeps its own small copy
of the calendar arithmetic so the two services stay independent.
"""

from __future__ import annotations

import re
from datetime import date, timedelta

PLAN_YEAR_START = 4  # April

CYCLE_PATTERN = (
    r"^(current|\d{4}-W\d{2}|\d{4}-(0[1-9]|1[0-2])|\d{4}/\d{2}-Q[1-4]|\d{4}/\d{2}|\d{4}"
    r"|R12-\d{4}-(0[1-9]|1[0-2]))$"
)
_CYCLE = re.compile(CYCLE_PATTERN)
MONTH_PATTERN = r"^\d{4}-(0[1-9]|1[0-2])$"
QUARTER_PATTERN = r"^\d{4}/\d{2}-Q[1-4]$"

MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


def is_cycle(label: str) -> bool:
    if not _CYCLE.match(label):
        return False
    if "/" in label:  # 2026/27: the second year follows the first
        first = int(label[:4])
        return int(label[5:7]) == (first + 1) % 100
    return True


def kind_of(label: str) -> str:
    if label == "current":
        return "current"
    if label.startswith("R12-"):
        return "rolling_12"
    if "-W" in label:
        return "week"
    if "-Q" in label:
        return "quarter"
    if "/" in label:
        return "plan_year"
    if len(label) == 4:
        return "calendar_year"
    return "month"


def add_months(year: int, month: int, n: int) -> tuple[int, int]:
    idx = year * 12 + (month - 1) + n
    return idx // 12, idx % 12 + 1


def month_label(d: date) -> str:
    return f"{d.year:04d}-{d.month:02d}"


def plan_year_of(d: date) -> int:
    return d.year if d.month >= PLAN_YEAR_START else d.year - 1


def plan_year_label(year: int) -> str:
    return f"{year}/{(year + 1) % 100:02d}"


def quarter_label(d: date) -> str:
    q = ((d.month - PLAN_YEAR_START) % 12) // 3 + 1
    return f"{plan_year_label(plan_year_of(d))}-Q{q}"


def bounds(label: str) -> tuple[date, date]:
    """First and last day of a cycle (``current`` has none)."""
    kind = kind_of(label)
    if kind == "week":
        iso_year, iso_week = label.split("-W")
        first = date.fromisocalendar(int(iso_year), int(iso_week), 1)
        return first, first + timedelta(days=6)
    if kind == "month":
        y, m = map(int, label.split("-"))
        ny, nm = add_months(y, m, 1)
        return date(y, m, 1), date(ny, nm, 1) - timedelta(days=1)
    if kind == "quarter":
        py, q = label.split("-Q")
        sy, sm = add_months(int(py[:4]), PLAN_YEAR_START, (int(q) - 1) * 3)
        ey, em = add_months(sy, sm, 3)
        return date(sy, sm, 1), date(ey, em, 1) - timedelta(days=1)
    if kind == "plan_year":
        year = int(label[:4])
        return date(year, PLAN_YEAR_START, 1), date(year + 1, PLAN_YEAR_START, 1) - timedelta(
            days=1
        )
    if kind == "calendar_year":
        return date(int(label), 1, 1), date(int(label), 12, 31)
    if kind == "rolling_12":
        y, m = map(int, label[4:].split("-"))
        sy, sm = add_months(y, m, -11)
        ny, nm = add_months(y, m, 1)
        return date(sy, sm, 1), date(ny, nm, 1) - timedelta(days=1)
    raise ValueError(f"cycle {label!r} has no calendar bounds")


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
    kind = kind_of(label)
    if kind == "rolling_12":
        y, m = add_months(int(label[4:8]), int(label[9:11]), -1)
        return f"R12-{y:04d}-{m:02d}"
    first, _ = bounds(label)
    before = first - timedelta(days=1)
    if kind == "month":
        return month_label(before)
    if kind == "quarter":
        return quarter_label(before)
    if kind == "plan_year":
        return plan_year_label(plan_year_of(before))
    if kind == "calendar_year":
        return str(before.year)
    iso = before.isocalendar()
    return f"{iso.year:04d}-W{iso.week:02d}"


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
