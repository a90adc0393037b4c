"""Statutory clocks in event time: which milestones of a case have slipped, or are
about to, on a given day.

Time advances by clock ticks, so a slip is noticed even when no further case event
arrives.  Each (case, milestone, kind) alert is emitted once: the case remembers what it
has raised, which makes a replay of history raise exactly the same alerts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Literal

from contracts.clock_rules import ClockRules, MilestoneRule
from services.timeliness.domain.case import CaseState

AlertKind = Literal["early_warning", "slipped"]


@dataclass(frozen=True)
class MilestoneAlert:
    case_id: str
    milestone: str
    kind: AlertKind
    start: date
    due: date
    day: int  # elapsed days on the day it fired
    fired_on: date
    kpi: str

    @property
    def key(self) -> str:
        return f"{self.milestone}:{self.kind}"


@dataclass(frozen=True)
class MilestoneStatus:
    milestone: str
    start: date
    due: date
    done: date | None

    def days_left(self, today: date) -> int:
        return (self.due - today).days


def _applies(case: CaseState, rule: MilestoneRule) -> bool:
    if case.historical:
        return False
    if "assessing" in rule.requires and case.decision_outcome in ("N", "W"):
        return False
    return not ("issuing" in rule.requires and case.assessment_outcome in ("N", "W"))


def statuses(case: CaseState, rules: ClockRules) -> list[MilestoneStatus]:
    """Every milestone that applies to the case, with its due date and completion."""
    out: list[MilestoneStatus] = []
    for name, rule in rules.milestones.items():
        start = case.date_of(rule.start)
        if start is None or not _applies(case, rule):
            continue
        done_dates = [d for d in (case.date_of(f) for f in rule.done) if d is not None]
        out.append(
            MilestoneStatus(
                name,
                start,
                start + timedelta(days=rule.due_day),
                min(done_dates) if done_dates else None,
            )
        )
    return out


def alerts_due(
    case: CaseState, rules: ClockRules, today: date, already: frozenset[str]
) -> list[MilestoneAlert]:
    """Alerts the case owes as of the end of ``today`` and has not raised yet.

    A milestone slips when its due day has passed with no completion (due day 140: day
    140 is on time, day 141 slips).  An early warning fires from ``warn_day`` on.  A case
    that has concluded (plan issued, not assessed, withdrawn...) raises nothing new.
    """
    if case.closed_on is not None and case.closed_on <= today:
        return []
    out: list[MilestoneAlert] = []
    for st in statuses(case, rules):
        rule = rules.milestones[st.milestone]
        if st.done is not None and st.done <= today:
            continue
        day = (today - st.start).days
        kind: AlertKind | None = None
        if today > st.due:
            kind = "slipped"
        elif rule.warn_day is not None and day >= rule.warn_day:
            kind = "early_warning"
        if kind is None or f"{st.milestone}:{kind}" in already:
            continue
        out.append(
            MilestoneAlert(case.case_id, st.milestone, kind, st.start, st.due, day, today, rule.kpi)
        )
    return out


def next_deadline(case: CaseState, rules: ClockRules, today: date) -> MilestoneStatus | None:
    """The open milestone due soonest (for the cases-at-risk list)."""
    pending = [s for s in statuses(case, rules) if s.done is None or s.done > today]
    return min(pending, key=lambda s: s.due) if pending and case.open_on(today) else None
