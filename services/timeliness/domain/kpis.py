"""KPI arithmetic: what each case contributes to each (kpi, cycle, breakdown), and the
values, targets and RAG built from the sums.

A case's contribution is a pure function of its state, so the streaming aggregate is
kept exact by adding (new contribution - old contribution) whenever a case changes, and
always equals a batch recomputation from the raw events.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import NamedTuple

from contracts.cycles import cycle_bounds, kind_of, labels_for
from contracts.kpi_dictionary import KpiDef, KpiDictionary, Rag
from services.timeliness.domain.case import CaseState

Key = tuple[str, str, str]  # (kpi, cycle label, breakdown)
OVER_A_YEAR_DAYS = 365  # DfE: "over 52 weeks" is 365 days or more


class Agg(NamedTuple):
    num: int = 0  # completions within the limit
    den: int = 0  # completions
    days: int = 0  # sum of elapsed days (for the average)
    over_year: int = 0  # completions after 52 weeks or more

    def __add__(self, other: tuple[int, ...]) -> Agg:  # type: ignore[override]
        return Agg(self[0] + other[0], self[1] + other[1], self[2] + other[2], self[3] + other[3])

    def __sub__(self, other: tuple[int, ...]) -> Agg:
        return Agg(self[0] - other[0], self[1] - other[1], self[2] - other[2], self[3] - other[3])

    @property
    def is_zero(self) -> bool:
        return not (self[0] or self[1] or self[2] or self[3])

    @property
    def percent(self) -> float | None:
        return round(100.0 * self.num / self.den, 1) if self.den else None


ZERO = Agg()


def breakdown_labels(case: CaseState, dims: Iterable[str]) -> list[str]:
    return ["all"] + [f"{d}={getattr(case, d) or 'unknown'}" for d in dims]


def contributions(case: CaseState, dictionary: KpiDictionary) -> dict[Key, Agg]:
    """Everything one case adds to the within-days KPIs."""
    if case.historical or case.received is None:
        return {}
    out: dict[Key, Agg] = {}
    labels = breakdown_labels(case, dictionary.breakdowns)
    for kpi_id, k in dictionary.kpis.items():
        if k.measure != "within_days" or k.start is None or k.end is None:
            continue
        if k.exceptions == "exclude" and case.has_exception:
            continue
        start, end = case.date_of(k.start), case.date_of(k.end)
        if start is None or end is None or end < start:
            continue  # not complete, or a data-quality problem (end before start)
        days = (end - start).days
        agg = Agg(int(days <= (k.limit_days or 0)), 1, days, int(days >= OVER_A_YEAR_DAYS))
        for kind in k.cycles:
            for cycle in labels_for(kind, end, dictionary.plan_year_start_month):
                for breakdown in labels if kind != "rolling_12" else ["all"]:
                    out[(kpi_id, cycle, breakdown)] = agg
    return out


def delta(old: CaseState | None, new: CaseState, dictionary: KpiDictionary) -> dict[Key, Agg]:
    """What changes in the aggregates when a case goes from ``old`` to ``new``."""
    after = contributions(new, dictionary)
    if old is None:
        return after
    before = contributions(old, dictionary)
    if before == after:
        return {}
    out: dict[Key, Agg] = {}
    for key, a in after.items():
        b = before.get(key)
        if b is None:
            out[key] = a
        elif a != b:
            out[key] = a - b
    for key, b in before.items():
        if key not in after:
            out[key] = ZERO - b
    return out


def recompute(cases: Iterable[CaseState], dictionary: KpiDictionary) -> dict[Key, Agg]:
    """Batch recomputation from case states (the reference the stream must equal)."""
    totals: dict[Key, Agg] = defaultdict(Agg)
    for case in cases:
        for key, agg in contributions(case, dictionary).items():
            totals[key] = totals[key] + agg
    return {k: v for k, v in totals.items() if not v.is_zero}


# --- targets and RAG ---------------------------------------------------------------


def target_for(k: KpiDef, cycle: str, start_month: int = 4) -> float | None:
    """The trajectory target in force at the end of ``cycle`` (None before the first)."""
    if not k.trajectory or cycle == "current":
        return None
    _, cycle_end = cycle_bounds(kind_of(cycle), cycle, start_month)
    best: tuple[date, float] | None = None
    for label, value in k.trajectory.items():
        first, _ = cycle_bounds(kind_of(label), label, start_month)
        if first <= cycle_end and (best is None or first > best[0]):
            best = (first, value)
    return best[1] if best else None


def rag(k: KpiDef, value: float | None, target: float | None, amber_margin: float) -> Rag:
    goal = target if target is not None else k.standard
    if value is None or goal is None or k.direction == "none":
        return "none"
    if k.direction == "higher":
        if value >= goal:
            return "green"
        return "amber" if value >= goal - amber_margin else "red"
    if value <= goal:
        return "green"
    return "amber" if value <= goal + amber_margin else "red"


# --- the cycle outcome already decided ----------------------------------------------


@dataclass(frozen=True)
class Outlook:
    """For the current cycle of a 20-week KPI: what is already decided."""

    cycle: str
    issued: int
    on_time: int
    open_cases: int
    certain_breaches: int  # open and already past the limit: late whenever issued
    best_achievable: float | None
    target: float | None

    @property
    def target_still_possible(self) -> bool | None:
        if self.target is None or self.best_achievable is None:
            return None
        return self.best_achievable >= self.target

    def sentence(self, kpi_name: str) -> str:
        if self.best_achievable is None:
            return f"No plans issued or open for {kpi_name} in {self.cycle} yet."
        text = (
            f"{self.certain_breaches} open case(s) are already past 20 weeks and will be late "
            f"whenever issued. If every other open case is issued on time, the best "
            f"achievable for {self.cycle} is {self.best_achievable:.1f}%"
        )
        if self.target is None:
            return text + "."
        verdict = "can still be met" if self.target_still_possible else "can no longer be met"
        return f"{text}; the trajectory target of {self.target:.0f}% {verdict}."


def outlook(
    k: KpiDef,
    cycle: str,
    so_far: Agg,
    open_cases: list[CaseState],
    today: date,
    target: float | None,
) -> Outlook:
    limit = k.limit_days or 0
    eligible = [
        c
        for c in open_cases
        if not c.historical and not (k.exceptions == "exclude" and c.has_exception)
    ]
    late = sum(1 for c in eligible if (c.day_of(today) or 0) > limit)
    return outlook_from_counts(cycle, so_far, len(eligible), late, target)


def outlook_from_counts(
    cycle: str, so_far: Agg, open_cases: int, late: int, target: float | None
) -> Outlook:
    """The same, from counts: ``open_cases`` eligible open cases of which ``late`` are
    already past the limit."""
    could = open_cases - late
    den = so_far.den + open_cases
    best = round(100.0 * (so_far.num + could) / den, 1) if den else None
    return Outlook(cycle, so_far.den, so_far.num, open_cases, late, best, target)
