"""The programme's RAID and dependency log, milestones, actions and decisions as of a
date, folded from programme events alone (so any past date can be reproduced)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import date

from contracts.programme_events import (
    ActionAgreed,
    ActionCompleted,
    ActionUpdated,
    DecisionRecorded,
    EscalationAcknowledged,
    ExceptionReportRecorded,
    MilestoneStatusUpdated,
    Outcome,
    ProgrammeEvent,
    RaidClosed,
    RaidRaised,
    RaidUpdated,
)

ACTIVE = ("at_risk", "off_track")


@dataclass(frozen=True)
class MilestoneStatus:
    status: str
    reason: str
    evidence_date: date
    updated: date
    history: tuple[tuple[date, str], ...] = ()


@dataclass(frozen=True)
class RaidItem:
    id: str
    kind: str
    owner: str
    due: date
    impact: int
    likelihood: int
    milestones: tuple[str, ...]
    dependency: str | None
    status: str
    reason: str
    raised: date
    updated: date
    status_since: date
    closed: date | None = None
    close_reason: str | None = None

    @property
    def score(self) -> int:
        return self.impact * self.likelihood

    @property
    def open(self) -> bool:
        return self.closed is None


@dataclass(frozen=True)
class Action:
    id: str
    owner: str
    due: date
    raid: str | None
    milestone: str | None
    recovery: bool
    agreed: date
    updated: date
    completed: date | None = None

    def overdue(self, on: date) -> bool:
        return self.completed is None and self.due < on


@dataclass(frozen=True)
class Decision:
    id: str
    forum: str
    date: dt.date
    outcome: str
    raid: str | None
    milestone: str | None
    pack: dt.date | None
    recorded: dt.date


@dataclass(frozen=True)
class ExceptionReport:
    raid: str
    milestone: str
    recorded: date
    options: tuple[str, ...]
    actions: tuple[str, ...]


@dataclass
class ProgrammeState:
    as_of: date
    milestones: dict[str, MilestoneStatus] = field(default_factory=dict)
    raid: dict[str, RaidItem] = field(default_factory=dict)
    actions: dict[str, Action] = field(default_factory=dict)
    decisions: list[Decision] = field(default_factory=list)
    reports: dict[tuple[str, str], ExceptionReport] = field(default_factory=dict)
    acks: dict[tuple[str, str], date] = field(default_factory=dict)
    raid_updates: list[date] = field(default_factory=list)

    def resolved_on(self, raid: str) -> date | None:
        """When an exception on ``raid`` stopped needing a forum: the item closed, or a
        forum accepted its recovery plan or recorded it resolved."""
        item = self.raid.get(raid)
        dates = [item.closed] if item and item.closed else []
        dates += [
            d.date
            for d in self.decisions
            if d.raid == raid
            and d.outcome in (Outcome.RESOLVED.value, Outcome.RECOVERY_PLAN_ACCEPTED.value)
        ]
        return min(dates) if dates else None

    def milestone_status(self, mid: str) -> str:
        s = self.milestones.get(mid)
        return s.status if s else "not_reported"


def _day(e: ProgrammeEvent) -> date:
    return e.time.date()


def fold(events: Iterable[ProgrammeEvent], as_of: date) -> ProgrammeState:
    """The state after every event whose time is on or before ``as_of``, applied in
    (time, id) order."""
    st = ProgrammeState(as_of=as_of)
    for e in sorted(events, key=lambda x: (x.time, x.id)):
        day = _day(e)
        if day > as_of:
            continue
        apply(st, e, day)
    return st


def apply(st: ProgrammeState, e: ProgrammeEvent, day: date) -> None:  # noqa: C901
    if isinstance(e, MilestoneStatusUpdated):
        d = e.data
        prev = st.milestones.get(d.milestone)
        hist = (prev.history if prev else ()) + ((day, d.status.value),)
        st.milestones[d.milestone] = MilestoneStatus(
            d.status.value, d.reason.value, d.evidence_date, day, hist
        )
    elif isinstance(e, RaidRaised | RaidUpdated):
        r = e.data
        old = st.raid.get(e.subject)
        status = r.status.value
        since = old.status_since if old is not None and old.status == status else day
        st.raid[e.subject] = RaidItem(
            id=e.subject,
            kind=r.kind.value,
            owner=r.owner,
            due=r.due,
            impact=r.impact,
            likelihood=r.likelihood,
            milestones=tuple(r.milestones),
            dependency=r.dependency,
            status=status,
            reason=r.reason.value,
            raised=old.raised if old is not None else day,
            updated=day,
            status_since=since,
            closed=None,
        )
        st.raid_updates.append(day)
    elif isinstance(e, RaidClosed):
        old = st.raid.get(e.subject)
        if old is not None and old.closed is None:
            st.raid[e.subject] = replace(
                old, closed=day, updated=day, close_reason=e.data.reason.value
            )
        st.raid_updates.append(day)
    elif isinstance(e, ActionAgreed | ActionUpdated):
        a = e.data
        prior = st.actions.get(e.subject)
        st.actions[e.subject] = Action(
            id=e.subject,
            owner=a.owner,
            due=a.due,
            raid=a.raid,
            milestone=a.milestone,
            recovery=a.recovery,
            agreed=prior.agreed if prior is not None else day,
            updated=day,
            completed=prior.completed if prior is not None else None,
        )
    elif isinstance(e, ActionCompleted):
        done = st.actions.get(e.subject)
        if done is not None and done.completed is None:
            st.actions[e.subject] = replace(done, completed=day, updated=day)
    elif isinstance(e, DecisionRecorded):
        d2 = e.data
        st.decisions.append(
            Decision(
                e.subject, d2.forum, d2.date, d2.outcome.value, d2.raid, d2.milestone, d2.pack, day
            )
        )
    elif isinstance(e, ExceptionReportRecorded):
        x = e.data
        key = (x.raid, x.milestone)
        if key not in st.reports:
            st.reports[key] = ExceptionReport(
                x.raid,
                x.milestone,
                day,
                tuple(o.value for o in x.options),
                tuple(x.recovery_actions),
            )
    elif isinstance(e, EscalationAcknowledged):
        st.acks.setdefault((e.data.raid, e.data.forum), day)
