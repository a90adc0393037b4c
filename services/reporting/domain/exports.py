"""The quarterly data return (Reform Plan: "quarterly data returns to DfE on selected key
metrics"): one row per KPI per plan-year quarter, suppressed like every published
output.  The layout is documented in the README ("Quarterly data return").

Data cells (value, numerator, denominator) use the explore-education-statistics symbols
exactly, never a blank or a home-made symbol: ``c`` confidential (every suppressed
figure, small or secondary), ``x`` unavailable (no data yet), ``z`` not applicable (a
rate with no completions, the denominator of a count), ``low`` (rounds to zero but is
not zero: figures are written unrounded, so it does not arise) and ``u`` (low
reliability: not used)."""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date

from contracts.kpi_dictionary import TO_BE_ESTABLISHED, KpiDef, KpiDictionary
from services.reporting.domain import kinds, periods
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
    "goal",
    "goal_basis",
    "direction",
)


@dataclass(frozen=True)
class Authority:
    la_name: str
    new_la_code: str


def _num(v: float | None) -> str:
    if v is None:
        return ""
    return f"{v:g}"


EES_SYMBOLS = ("c", "x", "z", "low", "u")
CONFIDENTIAL, UNAVAILABLE, NOT_APPLICABLE = "c", "x", "z"


def _field(p: Published, name: str, missing: str = UNAVAILABLE) -> str:
    if name in p.suppressed:
        return CONFIDENTIAL  # "<5" on the pages; exports use EES's one symbol
    v = getattr(p, name)
    return missing if v is None else _num(float(v)) if name == "value" else str(v)


def _target(k: KpiDef, p: Published | None) -> str:
    if k.target_to_be_established:
        return "to be established"
    return _num(p.source.target) if p is not None else ""


def quarterly_rows(
    quarters: Sequence[str],
    dictionary: KpiDictionary,
    values: Mapping[str, Mapping[tuple[str, str], Published]],
    counts_at: Mapping[tuple[str, str], Published | None],
    la: Authority,
    today: date | None,
) -> list[dict[str, str]]:
    """One row per quarter for each KPI with quarters (``values``: its published values
    by (cycle, breakdown)) and each KPI valued now (``counts_at``: its published value at
    the end of each quarter, or now for the quarter in progress, by (kpi, quarter)).
    KPIs with neither (termly or yearly only) are not in the return."""
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
                "direction": k.direction,
                "goal_basis": TO_BE_ESTABLISHED if k.target_to_be_established else "",
            }
            if "quarter" in k.cycles:
                p = values.get(kpi, {}).get((quarter, "all"))
                if p is None:
                    empty = "0" if k.kind == "completed_within" else NOT_APPLICABLE
                    rows.append(
                        {
                            **base,
                            "value": NOT_APPLICABLE,
                            "numerator": empty,
                            "denominator": empty,
                            "trajectory_target": _target(k, None),
                            "rag": "none",
                            "status": kinds.empty_status(k),
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
                        "trajectory_target": _target(k, p),
                        "rag": p.suppressed.get("rag") or p.rag,
                        "status": status,
                        "revision": str(p.source.revision),
                        "goal": _num(p.source.goal),
                        "goal_basis": p.source.goal_basis,
                    }
                )
            elif kinds.point_in_time(k):
                c = counts_at.get((kpi, quarter))
                ended = today is not None and today > last
                rows.append(
                    {
                        **base,
                        "value": _field(c, "value") if c else UNAVAILABLE,
                        "numerator": _field(c, "numerator") if c else UNAVAILABLE,
                        "denominator": NOT_APPLICABLE,
                        "trajectory_target": _target(k, c),
                        "rag": (c.suppressed.get("rag") or c.rag) if c else "none",
                        "status": ("at quarter end" if ended else "so far") if c else "no data",
                        "revision": "",
                        "goal": _num(c.source.goal) if c else "",
                        "goal_basis": c.source.goal_basis if c else base["goal_basis"],
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
