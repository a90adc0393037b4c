"""Published values: a cell's reading with its target, goal and RAG, as a ``KpiValue``
alerts and reporting can render and judge without naming a KPI; and the outlook of a
cycle under way (what is already decided).

The goal a cycle is judged against is its trajectory target when one is in force; before
the first target, ``goal_before_trajectory`` decides: interpolated from the baseline at
the plan's start to the first target, the standard, the baseline, or none.  A target
"to be established" is shown as such: no goal, no RAG.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Literal, NamedTuple

from contracts.cycles import closed_on, cycle_bounds, kind_of
from contracts.kpi_dictionary import KpiBase, KpiDictionary, Rag
from contracts.snapshots import KpiValue
from services.timeliness.domain.measures import reading
from services.timeliness.domain.measures.base import Extra, Key, Reading, Vector


def target_for(
    k: KpiBase, cycle: str, start_month: int = 4, today: date | None = None
) -> float | None:
    """The trajectory target in force at the end of ``cycle`` (None before the first);
    for the current position, the target in force ``today``."""
    if not k.targets:
        return None
    if cycle == "current":
        if today is None:
            return None
        cycle_end = today
    else:
        _, cycle_end = cycle_bounds(kind_of(cycle), cycle, start_month)
    best: tuple[date, float] | None = None
    for label, value in k.targets.items():
        first, _ = cycle_bounds(kind_of(label), label, start_month)
        if first <= cycle_end and (best is None or first > best[0]):
            best = (first, value)
    return best[1] if best else None


GoalBasis = Literal[
    "trajectory", "interpolated", "standard", "baseline", "none", "to_be_established"
]


@dataclass(frozen=True)
class Goal:
    target: float | None  # the trajectory target in force
    goal: float | None  # what the value is judged against
    basis: GoalBasis


def goal_for(k: KpiBase, cycle: str, dictionary: KpiDictionary, today: date | None = None) -> Goal:
    start = dictionary.plan_year_start_month
    if k.target_to_be_established:
        return Goal(None, None, "to_be_established")
    target = target_for(k, cycle, start, today)
    if target is not None:
        return Goal(target, target, "trajectory")
    rule = k.goal_rule
    if not k.targets or rule == "standard":
        return Goal(None, k.standard, "standard" if k.standard is not None else "none")
    if rule == "baseline":
        return Goal(None, k.baseline, "baseline" if k.baseline is not None else "none")
    if rule == "none" or k.baseline is None:
        return Goal(None, None, "none")
    # interpolate from the baseline at the plan's start to the first target
    if cycle == "current":
        if today is None:
            return Goal(None, None, "none")
        cycle_end = today
    else:
        _, cycle_end = cycle_bounds(kind_of(cycle), cycle, start)
    plan = dictionary.plan_start
    first_label, first_target = min(
        k.targets.items(), key=lambda kv: cycle_bounds(kind_of(kv[0]), kv[0], start)[0]
    )
    first_day, _ = cycle_bounds(kind_of(first_label), first_label, start)
    if cycle_end < plan or first_day <= plan:
        return Goal(None, None, "none")  # before the plan: nothing to judge against
    share = (cycle_end - plan).days / (first_day - plan).days
    goal = round(k.baseline + (first_target - k.baseline) * share, 1)
    return Goal(None, goal, "interpolated")


def rag(k: KpiBase, value: float | None, goal: float | None, amber_margin: float) -> Rag:
    """Green at or beyond the goal in the KPI's direction, amber within the margin."""
    if value is None or goal is None or k.direction == "none":
        return "none"
    if k.direction == "higher":
        if value >= goal:
            return "green"
        return "amber" if value >= goal - amber_margin else "red"
    if value <= goal:
        return "green"
    return "amber" if value <= goal + amber_margin else "red"


def kpi_value(
    dictionary: KpiDictionary,
    key: Key,
    vector: Vector,
    *,
    closed: bool,
    revision: int,
    today: date | None = None,
    memo: dict[tuple[str, str], CycleFacts] | None = None,
) -> KpiValue:
    k = dictionary.kpis[key[0]]
    return published(dictionary, key, reading(k, vector), closed, revision, today, memo=memo)


# What every value of one KPI and cycle shares on one day: its goal, when the cycle
# closes, its kind, the KPI's RAG margin.
CycleFacts = tuple[Goal, date | None, str, float]


def cycle_facts(
    dictionary: KpiDictionary, kpi_id: str, cycle: str, today: date | None
) -> CycleFacts:
    k = dictionary.kpis[kpi_id]
    start = dictionary.plan_year_start_month
    closes = None if cycle == "current" else closed_on(cycle, dictionary.grace_days, start)
    return (
        goal_for(k, cycle, dictionary, today),
        closes,
        kind_of(cycle),
        dictionary.margin_of(kpi_id),
    )


def published(
    dictionary: KpiDictionary,
    key: Key,
    r: Reading,
    closed: bool,
    revision: int,
    today: date | None,
    goal: Goal | None = None,
    memo: dict[tuple[str, str], CycleFacts] | None = None,
) -> KpiValue:
    """A reading as published: with its cycle, goal, RAG and what the dictionary says
    about the KPI (every consumer renders and judges from this alone).  ``memo`` keeps
    each KPI and cycle's :func:`cycle_facts` for values rendered together (one day)."""
    kpi_id, cycle, breakdown = key
    k = dictionary.kpis[kpi_id]
    facts = memo.get((kpi_id, cycle)) if memo is not None else None
    if facts is None:
        facts = cycle_facts(dictionary, kpi_id, cycle, today)
        if memo is not None:
            memo[(kpi_id, cycle)] = facts
    shared_goal, closes, cycle_kind, margin = facts
    g = goal or shared_goal
    return KpiValue.model_validate(
        {"kpi": kpi_id, "cycle": cycle, "cycle_kind": cycle_kind, "breakdown": breakdown}
        | {"value": r.value, "numerator": r.numerator, "denominator": r.denominator}
        | {"closed": closed, "revision": revision, "closes_on": closes, "extra": r.extra}
        | {"target": g.target, "goal": g.goal, "goal_basis": g.basis}
        | {"rag": rag(k, r.value, g.goal, margin)}
        | {"baseline": k.baseline, "standard": k.standard, "kind": k.kind, "unit": k.unit}
        | {"direction": k.direction}
    )


# --- the cycle outcome already decided ----------------------------------------------


@dataclass(frozen=True)
class Outlook:
    """For the current cycle of a completed-within KPI: what is already decided."""

    cycle: str
    issued: int
    on_time: int
    open_cases: int
    certain_breaches: int  # open and already past the limit: late whenever completed
    best_achievable: float | None
    target: float | None

    @property
    def target_still_possible(self) -> bool | None:
        if self.target is None or self.best_achievable is None:
            return None
        return self.best_achievable >= self.target

    def sentence(self, kpi_name: str, limit_weeks: int = 20) -> str:
        if self.best_achievable is None:
            return f"No plans issued or open for {kpi_name} in {self.cycle} yet."
        text = (
            f"{self.certain_breaches} open case(s) are already past {limit_weeks} weeks and "
            f"will be late whenever issued. If every other open case is issued on time, the "
            f"best achievable for {self.cycle} is {self.best_achievable:.1f}%"
        )
        if self.target is None:
            return text + "."
        verdict = "can still be met" if self.target_still_possible else "can no longer be met"
        return f"{text}; the trajectory target of {self.target:.0f}% {verdict}."


def outlook_from_counts(
    cycle: str, on_time: int, issued: int, open_cases: int, late: int, target: float | None
) -> Outlook:
    """``open_cases`` eligible open cases of which ``late`` are already past the limit."""
    could = open_cases - late
    den = issued + open_cases
    best = round(100.0 * (on_time + could) / den, 1) if den else None
    return Outlook(cycle, issued, on_time, open_cases, late, best, target)


def outlook_value(
    dictionary: KpiDictionary, kpi_id: str, quarter: str, o: Outlook, today: date
) -> KpiValue:
    """The outlook as a value: judged against the quarter's goal."""
    k = dictionary.kpis[kpi_id]
    extra: Extra = {
        "quarter": quarter,
        "open_cases": o.open_cases,
        "certain_breaches": o.certain_breaches,
        "target_still_possible": o.target_still_possible,
        "summary": o.sentence(k.name, round((k.limit_days or 0) / 7)),
    }
    g = goal_for(k, quarter, dictionary, today)
    r = Reading(o.best_achievable, o.on_time, o.issued, extra)
    return published(dictionary, (kpi_id, "current", OUTLOOK), r, False, 0, today, g)


# --- cells as published values -----------------------------------------------------------


class Written(NamedTuple):
    """A stored cell: its counts, whether its cycle has closed, its revision."""

    counts: Vector
    closed: bool
    revision: int


OUTLOOK = "outlook"


def quarter_of(number: int) -> str:
    """The quarter an outlook cell is for (stored as plan year * 10 + quarter)."""
    year, q = divmod(number, 10)
    return f"{year}/{(year + 1) % 100:02d}-Q{q}"


def quarter_number(label: str) -> int:
    year, q = label.split("-Q")
    return int(year.split("/")[0]) * 10 + int(q)


def render(
    dictionary: KpiDictionary, cells: Mapping[Key, Written], today: date | None
) -> list[KpiValue]:
    """Published values of stored cells, in key order (unknown KPIs and cells carried
    over without counts are skipped)."""
    out: list[KpiValue] = []
    memo: dict[tuple[str, str], CycleFacts] = {}
    for key in sorted(cells):
        cell = cells[key]
        kpi, cycle, breakdown = key
        if kpi not in dictionary.kpis or not cell.counts:
            continue
        if breakdown == OUTLOOK:
            if today is None:
                continue
            issued, on_time, open_cases, late, q = cell.counts
            quarter = quarter_of(q)
            k = dictionary.kpis[kpi]
            target = target_for(k, quarter, dictionary.plan_year_start_month)
            o = outlook_from_counts(quarter, on_time, issued, open_cases, late, target)
            out.append(outlook_value(dictionary, kpi, quarter, o, today))
            continue
        out.append(
            kpi_value(
                dictionary,
                key,
                cell.counts,
                closed=cell.closed,
                revision=cell.revision,
                today=today,
                memo=memo,
            )
        )
    return out
