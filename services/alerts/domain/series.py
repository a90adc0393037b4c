"""A KPI series (kpi, cycle kind, breakdown) as the rules see it: which snapshot values
are watched closed cycles, each judged in the goal, direction and unit it carries, and
which rule evaluations a batch of them triggers.

Cycles close in order, so normally each new closed cycle is evaluated once, against the
cycle before it.  A restated cycle (a higher revision: a late event changed a closed
cycle) re-evaluates the latest cycle when it is the latest or the one before it; older
restatements are stored but change no alert.  Redelivered values (same or lower
revision) change nothing.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from contracts import cycles
from contracts.escalation import EscalationConfig
from contracts.kpi_dictionary import KpiDef, KpiDictionary
from contracts.snapshots import KpiSnapshot, KpiValue
from services.alerts.domain.model import CycleResult, judged_goal

Series = tuple[str, str, str]  # kpi, cycle kind, breakdown


def to_be_established(k: KpiDef) -> bool:
    """The dictionary says the KPI's targets are still to be set: no verdict."""
    trajectory: object = k.trajectory
    return trajectory == "to_be_established"


def cycle_result(v: KpiValue, cycle_kind: str, k: KpiDef, d: KpiDictionary) -> CycleResult | None:
    """A closed value as a judged cycle, or None when the calendar cannot place it.

    The value's own ``closes_on`` (the first day the cycle counts as closed), unit, direction and
    goal win; a value from a producer that does not publish them yet is placed with the
    dictionary's grace days and judged against its target, else its standard.  A value
    that carries its direction carries its goal too: none means no verdict."""
    start = d.plan_year_start_month
    try:
        if v.closes_on is not None:
            cycles.bounds(v.cycle, start)  # a cycle the calendar knows
            closed_on = v.closes_on
        else:
            closed_on = cycles.closed_on(v.cycle, d.grace_days, start)
    except ValueError:
        return None
    goal, goal_label = judged_goal(
        target=v.target,
        standard=v.standard,
        carried=v.goal is not None or v.direction is not None,
        goal=v.goal,
        to_be_established=to_be_established(k),
    )
    return CycleResult(
        kpi=v.kpi,
        cycle_kind=cycle_kind,
        breakdown=v.breakdown,
        cycle=v.cycle,
        revision=v.revision,
        value=v.value,
        target=v.target,
        standard=v.standard,
        numerator=v.numerator,
        denominator=v.denominator,
        closed_on=closed_on,
        goal=goal,
        goal_label=goal_label,
        direction=v.direction or k.direction,
        unit=v.unit or k.unit,
    )


def closed_values(
    snapshots: Iterable[KpiSnapshot], config: EscalationConfig, d: KpiDictionary
) -> dict[Series, list[CycleResult]]:
    """The closed cycle values of the watched series in these snapshots, per series."""
    out: dict[Series, list[CycleResult]] = defaultdict(list)
    for s in snapshots:
        for v in s.data.values:
            k = d.kpis.get(v.kpi)
            if not v.closed or k is None:
                continue
            kind = v.cycle_kind if v.cycle_kind != "current" else cycles.kind_of(v.cycle)
            if kind == "current" or not config.watched(v.kpi, kind, v.breakdown):
                continue
            r = cycle_result(v, kind, k, d)
            if r is not None:
                out[(v.kpi, kind, v.breakdown)].append(r)
    return out


@dataclass(frozen=True)
class Step:
    cur: CycleResult
    prev: CycleResult | None
    restated: bool


def merge(
    stored: dict[str, CycleResult], incoming: Iterable[CycleResult], start_month: int = 4
) -> tuple[dict[str, CycleResult], list[Step]]:
    """Return (the values to store, the evaluation steps in order)."""
    fresh: dict[str, CycleResult] = {}
    for r in incoming:
        have = fresh.get(r.cycle) or stored.get(r.cycle)
        if have is None or r.revision > have.revision:
            fresh[r.cycle] = r
    if not fresh:
        return {}, []
    merged = {**stored, **fresh}
    order = sorted(merged, key=lambda c: cycles.bounds(c, start_month)[0])
    cursor = max(stored, key=lambda c: cycles.bounds(c, start_month)[0]) if stored else None
    steps: list[Step] = []

    def step(label: str, restated: bool) -> Step:
        prev = merged.get(cycles.previous(label, start_month))
        return Step(merged[label], prev, restated)

    if cursor is not None and (cursor in fresh or cycles.previous(cursor, start_month) in fresh):
        steps.append(step(cursor, restated=True))
    cursor_start = cycles.bounds(cursor, start_month)[0] if cursor else None
    for label in order:
        if label in fresh and (
            cursor_start is None or cycles.bounds(label, start_month)[0] > cursor_start
        ):
            steps.append(step(label, restated=False))
    return fresh, steps
