"""Calendar cycles: ISO weeks, months, plan-year quarters (Q1 = Apr-Jun), plan years
(Apr-Mar), calendar years (DfE) and rolling 12 months.  Bucketed by calendar, not by
epoch-aligned windows."""

from __future__ import annotations

from datetime import date, timedelta


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


def _add_months(year: int, month: int, n: int) -> tuple[int, int]:
    idx = year * 12 + (month - 1) + n
    return idx // 12, idx % 12 + 1


def labels_for(kind: str, d: date, start_month: int = 4) -> list[str]:
    """The labels of every cycle of ``kind`` that contains ``d``."""
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
            f"R12-{y:04d}-{m:02d}" for y, m in (_add_months(d.year, d.month, k) for k in range(12))
        ]
    raise ValueError(f"unknown cycle kind {kind!r}")


def cycle_bounds(kind: str, label: str, start_month: int = 4) -> tuple[date, date]:
    """First and last day of a cycle."""
    if kind == "week":
        iso_year, iso_week = label.split("-W")
        first = date.fromisocalendar(int(iso_year), int(iso_week), 1)
        return first, first + timedelta(days=6)
    if kind == "month":
        y, m = map(int, label.split("-"))
        ny, nm = _add_months(y, m, 1)
        return date(y, m, 1), date(ny, nm, 1) - timedelta(days=1)
    if kind == "quarter":
        py, q = label.split("-Q")
        year = int(py.split("/")[0])
        sy, sm = _add_months(year, start_month, (int(q) - 1) * 3)
        ey, em = _add_months(sy, sm, 3)
        return date(sy, sm, 1), date(ey, em, 1) - timedelta(days=1)
    if kind == "plan_year":
        year = int(label.split("/")[0])
        return date(year, start_month, 1), date(year + 1, start_month, 1) - timedelta(days=1)
    if kind == "calendar_year":
        return date(int(label), 1, 1), date(int(label), 12, 31)
    if kind == "rolling_12":
        y, m = map(int, label[4:].split("-"))
        sy, sm = _add_months(y, m, -11)
        ny, nm = _add_months(y, m, 1)
        return date(sy, sm, 1), date(ny, nm, 1) - timedelta(days=1)
    raise ValueError(f"unknown cycle kind {kind!r}")


def kind_of(label: str) -> str:
    """Recover a cycle's kind from its label (labels are unambiguous by construction)."""
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


def previous(label: str, start_month: int = 4) -> str:
    """The cycle immediately before ``label`` (same kind)."""
    kind = kind_of(label)
    if kind == "rolling_12":
        year, month = (int(x) for x in label[4:].split("-"))
        y, m = _add_months(year, month, -1)
        return f"R12-{y:04d}-{m:02d}"
    first, _ = cycle_bounds(kind, label, start_month)
    return labels_for(kind, first - timedelta(days=1), start_month)[0]
