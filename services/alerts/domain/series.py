"""Which rule evaluations a batch of closed cycle values triggers in one KPI series
(kpi, cycle kind, breakdown).

Cycles close in order, so normally each new closed cycle is evaluated once, against the
cycle before it.  A restated cycle (a higher revision: a late event changed a closed
cycle) re-evaluates the latest cycle when it is the latest or the one before it; older
restatements are stored but change no alert.  Redelivered values (same or lower
revision) change nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from contracts import cycles
from services.alerts.domain.model import CycleResult


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
