"""Calendar cycles, the vocabulary of every KPI value on the bus: ISO weeks
(``2026-W47``), months (``2026-11``), plan-year quarters (``2026/27-Q3``; Q1 = Apr-Jun),
plan years (``2026/27``, Apr-Mar), calendar years (``2026``, DfE), rolling 12 months
(``R12-2026-11``) and school terms (``2026/27-T1`` autumn, ``-T2`` spring, ``-T3``
summer; dates in ``calendar.yaml``).  Bucketed by calendar, not by epoch-aligned
windows.  Shared by the timeliness service (which writes the labels) and the services
that read them.  Statutory days are English calendar days (:func:`local_date`)."""

from __future__ import annotations

import bisect
import os
from datetime import date, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo

import yaml

LONDON = ZoneInfo("Europe/London")
_CALENDAR = Path(__file__).with_name("calendar.yaml")


def local_date(t: datetime) -> date:
    """The English calendar day of an instant (statutory days are London days)."""
    return t.astimezone(LONDON).date()


@lru_cache(maxsize=4)
def _terms(path: str | None = None) -> tuple[tuple[date, ...], tuple[str, ...], date]:
    """Term starts (sorted), their labels, and the day after the last term ends."""
    file = Path(path or os.environ.get("SENDWATCH_CALENDAR_FILE") or _CALENDAR)
    raw = yaml.safe_load(file.read_text())
    pairs = sorted((date.fromisoformat(str(d)), label) for label, d in raw["terms"].items())
    until = date.fromisoformat(str(raw["until"])) + timedelta(days=1)
    return tuple(d for d, _ in pairs), tuple(label for _, label in pairs), until


def term_label(d: date) -> str | None:
    """The school term containing ``d``: a term runs from its first day to the day before
    the next term starts (holidays belong to the term before).  None outside the
    calendar."""
    starts, labels, until = _terms()
    i = bisect.bisect_right(starts, d) - 1
    if i < 0 or d >= until:
        return None
    return labels[i]


def term_bounds(label: str) -> tuple[date, date]:
    starts, labels, until = _terms()
    i = labels.index(label)
    end = starts[i + 1] if i + 1 < len(starts) else until
    return starts[i], end - timedelta(days=1)


MONTHS = [
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
]


def plan_year_start(d: date, start_month: int = 4) -> int:
    return d.year if d.month >= start_month else d.year - 1


def plan_year_label(year: int) -> str:
    return f"{year}/{(year + 1) % 100:02d}"


def quarter_label(d: date, start_month: int = 4) -> str:
    year = plan_year_start(d, start_month)
    q = ((d.month - start_month) % 12) // 3 + 1
    return f"{plan_year_label(year)}-Q{q}"


def month_label(d: date) -> str:
    return f"{d.year:04d}-{d.month:02d}"


def week_label(d: date) -> str:
    iso = d.isocalendar()
    return f"{iso.year:04d}-W{iso.week:02d}"


def add_months(year: int, month: int, n: int) -> tuple[int, int]:
    idx = year * 12 + (month - 1) + n
    return idx // 12, idx % 12 + 1


def labels_for(kind: str, d: date, start_month: int = 4) -> list[str]:
    """The labels of every cycle of ``kind`` that contains ``d``."""
    return list(cycle_labels(kind, d, start_month))


@lru_cache(maxsize=65536)
def cycle_labels(kind: str, d: date, start_month: int = 4) -> tuple[str, ...]:
    """:func:`labels_for`, cached (the measure engine asks for the same days again and
    again)."""
    return tuple(_labels(kind, d, start_month))


def _labels(kind: str, d: date, start_month: int) -> list[str]:
    if kind == "term":
        term = term_label(d)
        return [term] if term else []
    if kind == "week":
        return [week_label(d)]
    if kind == "month":
        return [month_label(d)]
    if kind == "quarter":
        return [quarter_label(d, start_month)]
    if kind == "plan_year":
        return [plan_year_label(plan_year_start(d, start_month))]
    if kind == "calendar_year":
        return [f"{d.year:04d}"]
    if kind == "rolling_12":
        return [
            f"R12-{y:04d}-{m:02d}" for y, m in (add_months(d.year, d.month, k) for k in range(12))
        ]
    raise ValueError(f"unknown cycle kind {kind!r}")


def cycle_bounds(kind: str, label: str, start_month: int = 4) -> tuple[date, date]:
    """First and last day of a cycle."""
    if kind == "term":
        return term_bounds(label)
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
        year = int(py.split("/")[0])
        sy, sm = add_months(year, start_month, (int(q) - 1) * 3)
        ey, em = add_months(sy, sm, 3)
        return date(sy, sm, 1), date(ey, em, 1) - timedelta(days=1)
    if kind == "plan_year":
        year = int(label.split("/")[0])
        return date(year, start_month, 1), date(year + 1, start_month, 1) - timedelta(days=1)
    if kind == "calendar_year":
        return date(int(label), 1, 1), date(int(label), 12, 31)
    if kind == "rolling_12":
        y, m = map(int, label[4:].split("-"))
        sy, sm = add_months(y, m, -11)
        ny, nm = add_months(y, m, 1)
        return date(sy, sm, 1), date(ny, nm, 1) - timedelta(days=1)
    raise ValueError(f"unknown cycle kind {kind!r}")


def kind_of(label: str) -> str:
    """Recover a cycle's kind from its label (labels are unambiguous by construction)."""
    if label == "current":
        return "current"
    if label.startswith("R12-"):
        return "rolling_12"
    if "-T" in label:
        return "term"
    if "-W" in label:
        return "week"
    if "-Q" in label:
        return "quarter"
    if "/" in label:
        return "plan_year"
    if len(label) == 4:
        return "calendar_year"
    return "month"


def previous(label: str, start_month: int = 4) -> str:
    """The cycle immediately before ``label`` (same kind)."""
    kind = kind_of(label)
    if kind == "rolling_12":
        year, month = (int(x) for x in label[4:].split("-"))
        y, m = add_months(year, month, -1)
        return f"R12-{y:04d}-{m:02d}"
    first, _ = cycle_bounds(kind, label, start_month)
    before = labels_for(kind, first - timedelta(days=1), start_month)
    if not before:
        raise ValueError(f"no cycle before {label!r} in the calendar")
    return before[0]


def bounds(label: str, start_month: int = 4) -> tuple[date, date]:
    """First and last day of a cycle, from its label alone."""
    return cycle_bounds(kind_of(label), label, start_month)


def label_for(kind: str, d: date, start_month: int = 4) -> str:
    """The label of the ``kind`` cycle containing ``d`` (for rolling 12 months: the
    12 months ending with d's month)."""
    if kind == "rolling_12":
        return f"R12-{d.year:04d}-{d.month:02d}"
    labels = labels_for(kind, d, start_month)
    if not labels:
        raise ValueError(f"{d} is in no {kind} of the calendar")
    return labels[0]


def _shift_rolling(label: str, n: int) -> str:
    year, month = (int(x) for x in label[4:].split("-"))
    y, m = add_months(year, month, n)
    return f"R12-{y:04d}-{m:02d}"


def following(label: str, start_month: int = 4) -> str:
    """The cycle of the same kind just after ``label``."""
    if kind_of(label) == "rolling_12":
        return _shift_rolling(label, 1)
    _, last = bounds(label, start_month)
    return label_for(kind_of(label), last + timedelta(days=1), start_month)


def closed_on(label: str, grace_days: dict[str, int], start_month: int = 4) -> date:
    """The first day on which the cycle counts as closed (its end plus grace, passed)."""
    _, last = bounds(label, start_month)
    return last + timedelta(days=grace_days.get(kind_of(label), 0) + 1)


def describe(label: str, start_month: int = 4) -> str:
    """A cycle in plain English: 'June 2026', 'the week of 16 to 22 November 2026'."""
    kind = kind_of(label)
    if kind == "current":
        return "the current position"
    first, last = bounds(label, start_month)
    if kind == "month":
        return f"{MONTHS[first.month - 1]} {first.year}"
    if kind == "week":
        if first.month == last.month:
            return f"the week of {first.day} to {human_date(last)}"
        return f"the week of {first.day} {MONTHS[first.month - 1]} to {human_date(last)}"
    if kind == "quarter":
        q = label.split("-Q")[1]
        return (
            f"quarter {q} of {label.split('-Q')[0]} "
            f"({MONTHS[first.month - 1]} to {MONTHS[last.month - 1]} {last.year})"
        )
    if kind == "plan_year":
        return f"the plan year {label} (April {first.year} to March {last.year})"
    if kind == "calendar_year":
        return f"the calendar year {label}"
    if kind == "term":
        season = {"1": "autumn", "2": "spring", "3": "summer"}.get(label[-1], "")
        return (
            f"the {season} term {label.split('-T')[0]} "
            f"({first.day} {MONTHS[first.month - 1]} to {human_date(last)})"
        )
    return f"the 12 months to {MONTHS[last.month - 1]} {last.year}"


def noun(kind: str) -> str:
    return {
        "week": "week",
        "month": "month",
        "quarter": "quarter",
        "plan_year": "plan year",
        "calendar_year": "year",
        "rolling_12": "rolling 12-month period",
        "term": "term",
    }.get(kind, "cycle")


def human_date(d: date) -> str:
    return f"{d.day} {MONTHS[d.month - 1]} {d.year}"


def human_day(d: date) -> str:
    return f"{d.strftime('%A')} {human_date(d)}"
