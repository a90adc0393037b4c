"""Milestone alerts: what a subject's running clocks owe on a day (MS2 early warning from
the warning day, MS1 slipped after the due day), and the deadline due soonest.

Each (subject, milestone, kind) alert is raised once: the subject remembers what it has
raised, so a replay of the ticks raises exactly the same alerts.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Literal

from contracts.working_days import add_working_days, working_days_between
from services.timeliness.domain.clocks import Clock

AlertKind = Literal["early_warning", "slipped"]


@dataclass(frozen=True)
class MilestoneAlert:
    subject: str
    milestone: str
    kind: AlertKind
    start: date
    due: date
    day: int  # elapsed days on the day it fired
    fired_on: date
    kpi: str
    has_exception: bool

    @property
    def key(self) -> str:
        return f"{self.milestone}:{self.kind}"


@dataclass(frozen=True)
class MilestoneStatus:
    milestone: str
    start: date
    due: date

    def days_left(self, today: date) -> int:
        return (self.due - today).days


@dataclass(frozen=True, slots=True)
class Milestone:
    """One due day of an alerting clock, with the keys its alerts are recorded under."""

    name: str
    due: int
    warn: int | None
    slipped: str
    early_warning: str


def _milestones(clock: Clock) -> tuple[Milestone, ...]:
    """The milestones of an alerting clock (worked out once per policy version)."""
    assert clock.version is not None
    found: tuple[Milestone, ...] | None = clock.version.memo.get("milestones")
    if found is not None:
        return found
    rule = clock.version.rule
    names = [
        (clock.policy if i == 0 else f"{clock.policy}_day{due}", due, rule.warn_day(i))
        for i, due in enumerate(rule.due_days)
    ]
    found = tuple(Milestone(n, d, w, f"{n}:slipped", f"{n}:early_warning") for n, d, w in names)
    clock.version.memo["milestones"] = found
    return found


def alerting(clock: Clock) -> bool:
    """A clock that can still raise milestone alerts (by what is known)."""
    return (
        clock.measured
        and clock.version is not None
        and clock.version.rule.alerting
        and not clock.no_alerts
    )


def alerts_due(
    subject: str, clocks: Iterable[Clock], today: date, already: frozenset[str]
) -> list[MilestoneAlert]:
    """Alerts the subject's clocks owe as of the end of ``today`` and have not raised.

    A milestone slips when its due day has passed with the clock still running (due day
    140: day 140 is on time, day 141 slips); an early warning fires from its warning day.
    A clock that has stopped or ended by ``today`` raises nothing new.
    """
    out: list[MilestoneAlert] = []
    for clock in clocks:
        if not alerting(clock) or clock.start is None:
            continue
        closed = clock.closed_on
        if closed is not None and closed <= today:
            continue
        working = clock.version is not None and clock.version.rule.working_days
        day = working_days_between(clock.start, today) if working else clock.elapsed(today)
        shift = (today - clock.start).days - day  # paused days push the due date back
        kpi = clock.version.rule.kpi if clock.version else None
        for ms in _milestones(clock):
            name, due, warn = ms.name, ms.due, ms.warn
            kind: AlertKind | None = None
            if day > due:
                kind = "slipped"
            elif warn is not None and day >= warn:
                kind = "early_warning"
            if kind is None or (ms.slipped if kind == "slipped" else ms.early_warning) in already:
                continue
            out.append(
                MilestoneAlert(
                    subject,
                    name,
                    kind,
                    clock.start,
                    add_working_days(clock.start, due)
                    if working
                    else clock.start + timedelta(days=due + shift),
                    day,
                    today,
                    kpi or clock.policy,
                    clock.has_exception,
                )
            )
    return out


def next_alert_on(
    clocks: Iterable[Clock], already: frozenset[str], today: date | None
) -> date | None:
    """The earliest day on which :func:`alerts_due` could owe an alert not in
    ``already`` (None: never, by what is known).  A lower bound: a clock's elapsed days
    grow by at most one a day (pauses only hold them back), so on no earlier day can a
    threshold be reached.  A tick evaluates only the subjects whose day has come."""
    best: date | None = None
    for clock in clocks:
        if not alerting(clock) or clock.start is None:
            continue
        closed = clock.closed_on
        elapsed = clock.elapsed(today) if today is not None and today >= clock.start else None
        for ms in _milestones(clock):
            due, warn = ms.due, ms.warn
            pending: list[int] = []
            if ms.slipped not in already:
                pending.append(due + 1)
            open_window = elapsed is None or elapsed <= due  # warnings stop at the due day
            if warn is not None and open_window and ms.early_warning not in already:
                pending.append(warn)
            for threshold in pending:
                day = clock.start + timedelta(days=threshold)
                if elapsed is not None and today is not None:
                    day = max(day, today + timedelta(days=max(0, threshold - elapsed)))
                if closed is not None and closed <= day:
                    continue
                best = day if best is None or day < best else best
    return best


def next_deadline(clocks: Iterable[Clock], today: date) -> MilestoneStatus | None:
    """The running milestone due soonest (for the cases-at-risk list)."""
    pending: list[MilestoneStatus] = []
    for clock in clocks:
        if not alerting(clock) or clock.start is None or clock.start > today:
            continue
        closed = clock.closed_on
        if closed is not None and closed <= today:
            continue
        shift = clock.paused_days(today) if clock.pauses else 0
        working = clock.version is not None and clock.version.rule.working_days
        for ms in _milestones(clock):
            name, due = ms.name, ms.due
            when = (
                add_working_days(clock.start, due)
                if working
                else clock.start + timedelta(due + shift)
            )
            pending.append(MilestoneStatus(name, clock.start, when))
    return min(pending, key=lambda m: m.due) if pending else None
