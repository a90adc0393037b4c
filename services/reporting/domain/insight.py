"""The monthly insight summary (Reform Plan: "reporting automated where possible, with a
monthly insight summary"): each headline KPI with its value, RAG and movement on the
month before; the exceptions raised in the month and where they stand; what is due.

Built from published (suppressed) values only: the summary goes to the partnership
board.  Case-level alerts appear as counts, never by case.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from contracts.kpi_dictionary import KpiDef, KpiDictionary
from services.reporting.domain import kinds, periods
from services.reporting.domain.chart_data import LineChart
from services.reporting.domain.dashboard import (
    Trend,
    group_label,
    shown,
    trend,
    trend_view,
)
from services.reporting.domain.suppression import Published, SuppressionPolicy

LONDON = ZoneInfo("Europe/London")
Values = Mapping[tuple[str, str], Published]


@dataclass(frozen=True)
class InsightKpi:
    kpi: str
    name: str
    ref: str
    unit: str
    period: str
    value: float | None
    value_text: str
    detail: str
    rag: str
    rag_text: str
    target_text: str
    movement: Trend | None
    status: str  # final | provisional | revised | at month end


@dataclass(frozen=True)
class InsightException:
    id: str
    title: str
    kpi: str | None
    breakdown: str
    status: str
    opened: str
    level: str
    acknowledged: str
    recovery_plan: str


@dataclass(frozen=True)
class DueItem:
    what: str
    when: str
    who: str = ""


@dataclass
class InsightSummary:
    month: str
    title: str
    data_as_of: str
    kpis: list[InsightKpi]
    exceptions: list[InsightException] | None  # None: alerts service unavailable
    milestones: list[tuple[str, str]]  # (what, count text) for case-level alerts
    due: list[DueItem]
    outlook: str
    suppression: str
    charts: dict[str, LineChart] = field(default_factory=dict)  # kpi -> its trend chart
    notes: list[str] = field(default_factory=list)
    trends: dict[str, list[tuple[str, str]]] = field(default_factory=dict)  # the charts' data

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("charts")
        return d


def _local_date(text: str | None) -> date | None:
    if not text:
        return None
    try:
        dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        try:
            return date.fromisoformat(text[:10])
        except ValueError:
            return None
    if dt.tzinfo is None:
        return dt.date()
    return dt.astimezone(LONDON).date()


def _small(n: int, policy: SuppressionPolicy) -> str:
    return policy.small_symbol if policy.is_small(n) else str(n)


def build_insight(
    month: str,
    dictionary: KpiDictionary,
    values: Mapping[str, Values],
    counts: Mapping[str, tuple[Published | None, Published | None]],
    alerts: Sequence[Mapping[str, Any]] | None,
    cases: Sequence[Mapping[str, Any]] | None,
    today: date | None,
    policy: SuppressionPolicy,
) -> InsightSummary:
    """``values``: each KPI's published values by (cycle, breakdown).  ``counts``: for
    count KPIs, the published value at the end of the month and of the month before.
    ``alerts``: the alerts service's list (None when it did not answer).  ``cases``: open
    cases with their next deadline (None when unavailable)."""
    first, last = periods.bounds(month)
    rows: list[InsightKpi] = []
    charts: dict[str, LineChart] = {}
    trends: dict[str, list[tuple[str, str]]] = {}
    for kpi, k in dictionary.kpis.items():
        if not k.headline:
            continue
        if kinds.point_in_time(k):
            rows.append(_at_month_end(kpi, k, counts.get(kpi, (None, None)), first, last))
            continue
        vals = values.get(kpi, {})
        kind = "month" if "month" in k.cycles else kinds.headline_kind(k)
        cycle = month if kind == "month" else kinds.cycle_of(kind, last)
        p = vals.get((cycle, "all")) if cycle else None
        prev_cycle = periods.previous(cycle) if cycle else None
        prev = vals.get((prev_cycle, "all")) if prev_cycle else None
        status = kinds.empty_status(k)
        if p is not None:
            status = "final" if p.source.closed else "provisional"
            if p.source.revision >= 2:
                status = f"revised (revision {p.source.revision})"
        rows.append(
            InsightKpi(
                kpi,
                k.name,
                k.ref,
                k.unit,
                periods.title(cycle) if cycle else periods.title(month),
                p.value if p else None,
                shown(p, "value", k.unit) if p else "No data",
                f"{shown(p, 'numerator')} of {shown(p, 'denominator')}"
                if p is not None and p.source.denominator is not None
                else "",
                p.rag if p else "none",
                kinds.rag_text(p.rag, p, k) if p else "No data",
                kinds.goal_text(k, p, None) if p is not None else kinds.goal_text(k, None, None),
                trend(
                    p.value if p else None,
                    prev.value if prev else None,
                    k,
                    periods.title(prev_cycle) if prev_cycle else "",
                ),
                status,
            )
        )
        tv = trend_view(
            kpi,
            k,
            {key: v for key, v in vals.items() if periods.sort_key(key[0]) <= (last, first)},
            kind,
            limit=12,
        )
        if tv.chart is not None:
            charts[kpi] = tv.chart
            trends[kpi] = [(r.title, r.value_text) for r in tv.rows[-6:]]
    exceptions: list[InsightException] | None = None
    milestones: list[tuple[str, str]] = []
    due: list[DueItem] = []
    if alerts is not None:
        exceptions = []
        seen: Counter[str] = Counter()
        for a in alerts:
            opened = _local_date(a.get("opened_at"))
            if a.get("kind") == "milestone":
                if opened is not None and first <= opened <= last:
                    facts = a.get("facts") or {}
                    what = str(facts.get("milestone_kind") or "alert").replace("_", " ")
                    milestone = str(facts.get("milestone") or "milestone").replace("_", " ")
                    seen[f"{milestone}: {what}"] += 1
                continue
            if opened is not None and first <= opened <= last:
                exceptions.append(_exception(a, dictionary))
            if a.get("status") in ("open", "acknowledged"):
                due.extend(_due_from_alert(a, dictionary))
        milestones = [(what, _small(n, policy)) for what, n in sorted(seen.items())]
    quarter = periods.quarter_label(first)
    q_first, q_last = periods.bounds(quarter)
    grace = dictionary.grace_days.get("quarter", 21)
    if last == q_last:
        due.append(
            DueItem(
                f"Quarterly data return to DfE for {quarter.replace('-Q', ' Q')}",
                f"after the quarter closes on {periods.short_date(q_last + timedelta(days=grace))}",
                "Principal EP (WS3 lead)",
            )
        )
    if cases is not None:
        horizon = (today or last) + timedelta(days=31)
        soon: Counter[str] = Counter()
        overdue = 0
        for c in cases:
            due_on = _local_date(str(c.get("due") or ""))
            if due_on is None:
                continue
            if due_on < (today or last):
                overdue += 1
            elif due_on <= horizon:
                soon[str(c.get("milestone") or "deadline").replace("_", " ")] += 1
        for what, n in sorted(soon.items()):
            due.append(
                DueItem(
                    f"Statutory deadline ({what}) for {_small(n, policy)} open case(s)",
                    f"by {periods.short_date(horizon)} (as at {periods.short_date(today or last)})",
                    "EHCP Team Manager",
                )
            )
        if overdue:
            due.append(
                DueItem(
                    f"{_small(overdue, policy)} open case(s) already past a statutory deadline",
                    "now",
                    "EHCP Team Manager",
                )
            )
    nxt = periods.month_label(last + timedelta(days=1))
    due.append(DueItem(f"Next insight summary ({periods.title(nxt)})", "early next month"))
    outlook = ""
    for kpi in dictionary.kpis:
        o = values.get(kpi, {}).get(("current", "outlook"))
        if o is not None and o.extra.get("summary"):
            outlook = f"{dictionary.kpis[kpi].name}: {o.extra['summary']}"
            break
    notes = []
    if exceptions is None:
        notes.append("The alerts service was unavailable: exceptions are not included.")
    if cases is None:
        notes.append(
            "The timeliness service was unavailable: statutory deadlines due are not included."
        )
    return InsightSummary(
        month=month,
        title=f"SEND partnership monthly insight summary: {periods.title(month)}",
        data_as_of=periods.short_date(today) if today else "no data yet",
        kpis=rows,
        exceptions=exceptions,
        milestones=milestones,
        due=due,
        outlook=outlook,
        suppression=policy.describe(),
        charts=charts,
        notes=notes,
        trends=trends,
    )


def _at_month_end(
    kpi: str,
    k: KpiDef,
    ends: tuple[Published | None, Published | None],
    first: date,
    last: date,
) -> InsightKpi:
    """A KPI valued now, at the month's end, moved on the end of the month before."""
    end, before = ends
    return InsightKpi(
        kpi,
        k.name,
        k.ref,
        k.unit,
        f"at {periods.short_date(last)}",
        end.value if end else None,
        shown(end, "value", k.unit) if end else "No data",
        "",
        end.rag if end else "none",
        kinds.rag_text(end.rag, end, k) if end else "No data",
        kinds.goal_text(k, end, None) if end else kinds.goal_text(k, None, None),
        trend(
            end.value if end else None,
            before.value if before else None,
            k,
            f"{periods.short_date(first - timedelta(days=1))}",
        ),
        "at month end",
    )


def _exception(a: Mapping[str, Any], dictionary: KpiDictionary) -> InsightException:
    kpi = a.get("kpi")
    name = dictionary.kpis[kpi].name if kpi in dictionary.kpis else (kpi or "")
    level = a.get("level") or 0
    levels = a.get("levels") or 0
    level_text = f"level {level} of {levels}" if level else "not escalated"
    if a.get("level_body"):
        level_text += f" ({a['level_body']})"
    ack = "not acknowledged"
    if a.get("acknowledged_at"):
        ack = f"acknowledged {(_local_date(a['acknowledged_at']) or '')}"
    plan = a.get("recovery_plan") or {}
    plan_text = "none asked"
    if plan.get("recorded_at"):
        plan_text = f"recorded {_local_date(plan['recorded_at'])}"
    elif plan.get("due"):
        plan_text = f"due {plan['due']}"
    opened = _local_date(a.get("opened_at"))
    return InsightException(
        str(a.get("id", "")),
        str(a.get("title") or name),
        kpi,
        group_label(str(a.get("breakdown") or "all")),
        str(a.get("status", "")),
        periods.short_date(opened) if opened else "",
        level_text,
        ack,
        plan_text,
    )


def _due_from_alert(a: Mapping[str, Any], dictionary: KpiDictionary) -> list[DueItem]:
    out = []
    title = str(a.get("title") or a.get("kpi") or "alert")
    owner = str(a.get("owner") or "")
    plan = a.get("recovery_plan") or {}
    if plan.get("due") and not plan.get("recorded_at"):
        out.append(DueItem(f"Recovery plan: {title}", f"due {plan['due']}", owner))
    if a.get("follow_up_due"):
        out.append(DueItem(f"Follow-up review: {title}", f"due {a['follow_up_due']}", owner))
    if a.get("next_escalation_at"):
        body = a.get("next_level_body") or "next level"
        when = _local_date(a["next_escalation_at"])
        out.append(
            DueItem(f"Escalation to {body} unless acknowledged: {title}", f"on {when}", owner)
        )
    return out


def to_markdown(s: InsightSummary) -> str:
    lines = [f"# {s.title}", "", f"Data as of {s.data_as_of}.", ""]
    lines += ["## Headline measures", ""]
    lines += [
        "| Measure | Period | Value | Detail | RAG | Target | Movement | Status |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for k in s.kpis:
        move = k.movement.text if k.movement else "-"
        lines.append(
            f"| {k.name} ({k.ref}) | {k.period} | {k.value_text} | {k.detail or '-'} | "
            f"{k.rag_text} | {k.target_text} | {move} | {k.status} |"
        )
    if s.outlook:
        lines += ["", f"**This quarter:** {s.outlook}"]
    lines += ["", "## Exceptions raised this month", ""]
    if s.exceptions is None:
        lines.append("Not available: the alerts service did not answer.")
    elif not s.exceptions:
        lines.append("No KPI exceptions were raised this month.")
    else:
        lines += [
            "| Exception | Group | Opened | Status | Escalation | Acknowledged | Recovery plan |",
            "|---|---|---|---|---|---|---|",
        ]
        for e in s.exceptions:
            lines.append(
                f"| {e.title} | {e.breakdown} | {e.opened} | {e.status} | {e.level} | "
                f"{e.acknowledged} | {e.recovery_plan} |"
            )
    if s.milestones:
        lines += ["", "Case-level milestone alerts raised this month (counts):", ""]
        lines += [f"- {what}: {n}" for what, n in s.milestones]
    lines += ["", "## What is due", ""]
    for d in s.due:
        who = f" ({d.who})" if d.who else ""
        lines.append(f"- {d.what}: {d.when}{who}")
    if s.notes:
        lines += ["", "## Notes", ""] + [f"- {n}" for n in s.notes]
    names = {k.kpi: k.name for k in s.kpis}
    for kpi, rows in s.trends.items():
        lines += ["", f"### {names.get(kpi, kpi)}: closed months", ""]
        lines += ["| Month | Value |", "|---|---|"]
        lines += [f"| {title} | {value} |" for title, value in rows]
    lines += ["", f"_Small numbers: {s.suppression}_", ""]
    return "\n".join(lines)
