"""The quarterly data return (Reform Plan: "quarterly data returns to DfE on selected key
metrics"): one row per KPI per plan-year quarter, suppressed like every published
output.  The layout is documented in the README ("Quarterly data return")."""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date

from contracts.kpi_dictionary import KpiDictionary
from services.reporting.domain import periods
from services.reporting.domain.suppression import Published

QUARTERLY_COLUMNS: tuple[str, ...] = (
    "la_code",
    "la_name",
    "quarter",
    "quarter_start",
    "quarter_end",
    "kpi",
    "kpi_ref",
    "kpi_name",
    "unit",
    "value",
    "numerator",
    "denominator",
    "baseline",
    "trajectory_target",
    "standard",
    "rag",
    "status",
    "revision",
    "data_as_of",
)


@dataclass(frozen=True)
class Authority:
    la_name: str
    new_la_code: str


def _num(v: float | None) -> str:
    if v is None:
        return ""
    return f"{v:g}"


def _field(p: Published, name: str) -> str:
    if name in p.suppressed:
        return p.suppressed[name]
    v = getattr(p, name)
    return "" if v is None else _num(float(v)) if name == "value" else str(v)


def quarterly_rows(
    quarters: Sequence[str],
    dictionary: KpiDictionary,
    values: Mapping[str, Mapping[tuple[str, str], Published]],
    counts_at: Mapping[tuple[str, str], Published | None],
    la: Authority,
    today: date | None,
) -> list[dict[str, str]]:
    """``values``: each rate KPI's published values by (cycle, breakdown).  ``counts_at``:
    each count KPI's published value at the end of each quarter (or now, for the quarter
    in progress), keyed by (kpi, quarter)."""
    rows: list[dict[str, str]] = []
    for quarter in sorted(quarters, key=periods.sort_key):
        first, last = periods.bounds(quarter)
        for kpi, k in dictionary.kpis.items():
            base = {
                "la_code": la.new_la_code,
                "la_name": la.la_name,
                "quarter": quarter,
                "quarter_start": first.isoformat(),
                "quarter_end": last.isoformat(),
                "kpi": kpi,
                "kpi_ref": k.ref,
                "kpi_name": k.name,
                "unit": k.unit,
                "baseline": _num(k.baseline),
                "standard": _num(k.standard),
                "data_as_of": today.isoformat() if today else "",
            }
            if not k.census:  # dated by events (completions, decisions, reports ...)
                if "quarter" not in k.cycles:  # e.g. termly figures, yearly reach
                    rows.append(
                        {
                            **base,
                            "value": "",
                            "numerator": "",
                            "denominator": "",
                            "trajectory_target": "",
                            "rag": "none",
                            "status": "not measured quarterly",
                            "revision": "",
                        }
                    )
                    continue
                p = values.get(kpi, {}).get((quarter, "all"))
                if p is None:
                    rows.append(
                        {
                            **base,
                            "value": "",
                            "numerator": "0",
                            "denominator": "0",
                            "trajectory_target": "",
                            "rag": "none",
                            "status": "no completions",
                            "revision": "",
                        }
                    )
                    continue
                status = "final" if p.source.closed else "provisional"
                if p.source.revision >= 2:
                    status = "revised"
                rows.append(
                    {
                        **base,
                        "value": _field(p, "value"),
                        "numerator": _field(p, "numerator"),
                        "denominator": _field(p, "denominator"),
                        "trajectory_target": _num(p.source.target),
                        "rag": p.suppressed.get("rag") or p.rag,
                        "status": status,
                        "revision": str(p.source.revision),
                    }
                )
            else:
                c = counts_at.get((kpi, quarter))
                ended = today is not None and today > last
                rows.append(
                    {
                        **base,
                        "value": _field(c, "value") if c else "",
                        "numerator": _field(c, "numerator") if c else "",
                        "denominator": "",
                        "trajectory_target": "",
                        "rag": (c.suppressed.get("rag") or c.rag) if c else "none",
                        "status": ("at quarter end" if ended else "so far") if c else "no data",
                        "revision": "",
                    }
                )
    return rows


def to_csv(rows: Sequence[Mapping[str, str]], columns: Sequence[str]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(columns), lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({c: row.get(c, "") for c in columns})
    return buf.getvalue()
