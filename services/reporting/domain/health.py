"""The dashboard's health section (pure): a tile per community pathway, the waiting
list in the CHS SitRep bands, capacity against demand, the R5 escalations with their
recovery plan actions, and the partnership view of health advice beside the 20-week
outcome it feeds.  Everything is read from the KPI values and the dictionary; the
pathways, the bands' labels and the measures come from ``contracts/referrals.yaml``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from contracts.kpi_dictionary import KpiDictionary, WaitingList
from contracts.referrals import ReferralsConfig
from services.reporting.domain import periods
from services.reporting.domain.chart_data import Bar, BarChart
from services.reporting.domain.dashboard import fmt_number, fmt_target, shown
from services.reporting.domain.insight import Values
from services.reporting.domain.suppression import Published

CURRENT = "current"


@dataclass(frozen=True)
class PathwayTile:
    kpi: str
    service: str
    name: str
    ref: str
    value_text: str
    waiting_text: str
    rag: str
    goal_text: str
    baseline_text: str
    standard_text: str
    percentiles: list[tuple[str, str]]


@dataclass(frozen=True)
class Measure:
    kpi: str
    name: str
    period: str
    value_text: str
    goal_text: str
    rag: str


@dataclass(frozen=True)
class Action:
    n: int
    action: str
    owner: str
    due: str
    state: str  # done | overdue | open


@dataclass(frozen=True)
class R5Row:
    alert_id: str
    kpi_name: str
    status: str
    level_body: str
    plan: str
    actions: list[Action]


@dataclass(frozen=True)
class PartnershipRow:
    month: str
    advice_text: str
    advice_detail: str
    outcome_text: str
    outcome_detail: str


@dataclass
class HealthPage:
    tiles: list[PathwayTile]
    bands_chart: BarChart | None
    band_table: list[tuple[str, list[str]]]
    band_labels: list[str]
    capacity: list[Measure]
    r5: list[R5Row] | None
    r5_error: str = ""
    partnership: list[PartnershipRow] = field(default_factory=list)


def band_names(k: WaitingList) -> list[str]:
    """The waiting-list KPI's band fields (as the measure engine names them)."""
    names, low = [], 0
    for bound in k.day_bands:
        names.append(f"band_{low}_{bound}_days")
        low = bound + 1
    names.append(f"band_{low}_plus_days")
    return names


def band_label(column: str) -> str:
    """waiting_0_1_weeks -> 0-1 weeks; waiting_over_104_weeks -> over 104 weeks."""
    words = column.removeprefix("waiting_").split("_")
    if words[0] == "over":
        return f"over {words[1]} weeks"
    return f"{words[0]}-{words[1]} weeks"


def _goal(p: Published | None, unit: str) -> str:
    if p is None:
        return "-"
    src = p.source
    if src.goal_basis == "to_be_established":
        return "to be established"
    return fmt_target(src.goal, unit)


def _latest_closed(values: Values, kind: str, breakdown: str = "all") -> Published | None:
    found = [
        p
        for (cycle, b), p in values.items()
        if b == breakdown and p.source.closed and periods.kind_of(cycle) == kind
    ]
    return max(found, key=lambda p: periods.sort_key(p.source.cycle)) if found else None


def tiles(
    config: ReferralsConfig, dictionary: KpiDictionary, values: Mapping[str, Values]
) -> list[PathwayTile]:
    out = []
    for service, path in config.pathways.items():
        k = dictionary.kpis.get(path.waiting_kpi)
        if k is None:
            continue
        p = values.get(path.waiting_kpi, {}).get((CURRENT, "all"))
        pct = [
            (
                {50: "median", 92: "92nd", 95: "95th"}.get(n, f"{n}th"),
                f"{shown(p, f'extra.p{n}_weeks')} weeks",
            )
            for n in (k.percentiles if isinstance(k, WaitingList) else [])
        ]
        out.append(
            PathwayTile(
                kpi=path.waiting_kpi,
                service=service,
                name=path.name,
                ref=k.ref,
                value_text=shown(p, "value", k.unit),
                waiting_text=f"{shown(p, 'denominator')} waiting",
                rag=p.rag if p else "none",
                goal_text=_goal(p, k.unit),
                baseline_text=fmt_target(k.baseline, k.unit)
                if k.baseline is not None
                else (k.baseline_note or "none"),
                standard_text=fmt_target(k.standard, k.unit),
                percentiles=pct,
            )
        )
    return out


def bands(
    config: ReferralsConfig, dictionary: KpiDictionary, values: Values
) -> tuple[BarChart | None, list[tuple[str, list[str]]], list[str]]:
    layout = config.chs_waiting_list
    k = dictionary.kpis.get(layout.kpi)
    if not isinstance(k, WaitingList):
        return None, [], []
    names = band_names(k)
    labels = [band_label(c) for c in layout.band_columns]
    every = values.get((CURRENT, "all"))
    chart = None
    if every is not None:
        bars = [
            Bar(label, None if "extra." + n in every.suppressed else float(every.extra.get(n) or 0))
            for label, n in zip(labels, names, strict=True)
        ]
        chart = BarChart(
            title="Community health waiting list by weeks waited (CHS SitRep bands)",
            description="Children and young people waiting now, by weeks since referral: "
            + "; ".join(f"{b.label}: {b.value if b.value is not None else 'hidden'}" for b in bars),
            bars=bars,
            unit="",
            chart_id="chs-bands",
        )
    table = []
    for service in [*config.pathways, "all"]:
        key = "all" if service == "all" else f"{layout.breakdown}={service}"
        p = values.get((CURRENT, key))
        name = config.pathways[service].name if service in config.pathways else "All pathways"
        table.append((name, [shown(p, "extra." + n) for n in names]))
    return chart, table, labels


def capacity(
    config: ReferralsConfig, dictionary: KpiDictionary, values: Mapping[str, Values]
) -> list[Measure]:
    out = []
    for kpi in config.r5_measures:
        k = dictionary.kpis.get(kpi)
        if k is None:
            continue
        p = _latest_closed(values.get(kpi, {}), "week")
        out.append(
            Measure(
                kpi=kpi,
                name=k.name,
                period=periods.title(p.source.cycle) if p else "no closed week yet",
                value_text=shown(p, "value", k.unit),
                goal_text=_goal(p, k.unit),
                rag=p.rag if p else "none",
            )
        )
    return out


def r5_rows(details: Sequence[Mapping[str, Any]], today: date | None) -> list[R5Row]:
    """The R5 escalations (open first) with their recovery plan's actions."""
    rows = []
    for a in sorted(details, key=lambda a: a.get("status") not in ("open", "acknowledged")):
        facts = a.get("facts") or {}
        actions = []
        for x in facts.get("recovery_actions") or []:
            if x.get("done_on"):
                state = "done"
            elif x.get("overdue_alert") or (
                today is not None and str(x["due"]) < today.isoformat()
            ):
                state = "overdue"
            else:
                state = "open"
            actions.append(
                Action(int(x["n"]), str(x["action"]), str(x["owner"]), str(x["due"]), state)
            )
        plan = a.get("recovery_plan") or {}
        if plan.get("recorded_at"):
            plan_text = f"recorded {str(plan['recorded_at'])[:10]}"
        elif plan.get("due"):
            plan_text = f"due {str(plan['due'])[:10]}" + (
                " (overdue)" if plan.get("overdue_at") else ""
            )
        else:
            plan_text = "not asked"
        rows.append(
            R5Row(
                alert_id=str(a.get("id")),
                kpi_name=str(a.get("kpi_name") or a.get("kpi")),
                status=str(a.get("status")),
                level_body=str(a.get("level_body") or ""),
                plan=plan_text,
                actions=actions,
            )
        )
    return rows


def partnership(
    config: ReferralsConfig,
    dictionary: KpiDictionary,
    values: Mapping[str, Values],
    months: int = 6,
) -> list[PartnershipRow]:
    """Health advice within 6 weeks beside the 20-week outcome, month by month."""
    if config.partnership is None:
        return []
    adv_k = dictionary.kpis.get(config.partnership.advice_kpi)
    out_k = dictionary.kpis.get(config.partnership.outcome_kpi)
    if adv_k is None or out_k is None:
        return []
    adv = values.get(config.partnership.advice_kpi, {})
    outc = values.get(config.partnership.outcome_kpi, {})
    labels = sorted(
        {c for (c, b) in {**adv, **outc} if b == "all" and periods.kind_of(c) == "month"},
        key=periods.sort_key,
    )[-months:]
    rows = []
    for m in labels:
        a, o = adv.get((m, "all")), outc.get((m, "all"))
        rows.append(
            PartnershipRow(
                month=periods.title(m),
                advice_text=shown(a, "value", adv_k.unit),
                advice_detail=f"{shown(a, 'numerator')} of {shown(a, 'denominator')}",
                outcome_text=shown(o, "value", out_k.unit),
                outcome_detail=f"{shown(o, 'numerator')} of {shown(o, 'denominator')}",
            )
        )
    return rows


def fmt(value: float | None, unit: str) -> str:
    return fmt_number(value, unit)
