"""Programme rules R1-R4 (Reform Plan §11), judged on the programme state as of a date.

* **R1** a dependency or issue threatening a quarter-end milestone (marked at risk or
  off track, past its own due date, or the milestone's KPI off its trajectory) opens an
  exception: alert to the item's owner, the milestone's owner and forum; an exception
  report and recovery plan are due within N working days, with an overdue alert.
* **R2** every QAG meeting gets a pack; decisions recorded against a pack are audited.
* **R3** an exception unresolved after its QAG meeting goes to the next forum of its
  route, one level at a time, each level once, with acknowledgement.
* **R4** the weekly PMO update; a RAID item not updated in a week, or an action past
  its due date: one reminder to its owner, then the PMO lead.

Every notice has a stable key, so deciding again (after a restart, a replay) never
produces a second one.  Pure: dates in, notices out.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta

from contracts.programme import Milestone, Programme
from services.alerts.domain.programme_state import ACTIVE, Action, ProgrammeState, RaidItem
from services.alerts.domain.workdays import add_working_days, is_working_day

THREATENING = ("dependency", "issue")
DEFAULT_ROUTE = "partnership-board"


@dataclass(frozen=True)
class Notice:
    key: str
    rule: str
    kind: str
    on: date
    to: tuple[str, ...]  # owner role ids and forum ids
    subject: str
    lines: tuple[str, ...]

    @property
    def id(self) -> str:
        """At most 32 characters (the outbox's alert id)."""
        if len(self.key) <= 32:
            return self.key
        return "pg-" + hashlib.sha256(self.key.encode()).hexdigest()[:29]


@dataclass(frozen=True)
class Escalation:
    level: int
    forum: str
    on: date
    meeting: date | None  # the agenda it lands on
    ack_due: date
    acknowledged: date | None


@dataclass(frozen=True)
class ExceptionCase:
    raid: str
    owner: str
    milestone: str
    opened: date
    triggers: tuple[str, ...]  # status, missed_due, kpi_trajectory
    kpis: tuple[str, ...]
    report_due: date
    report: date | None
    resolved: date | None
    qag: date | None
    route: str
    escalations: tuple[Escalation, ...]

    @property
    def key(self) -> str:
        return f"{self.raid}:{self.milestone}"

    def awaiting_report(self, on: date) -> bool:
        return self.report is None or self.report > on

    def overdue(self, on: date) -> bool:
        return self.awaiting_report(on) and on > self.report_due


def sub_working_days(d: date, n: int) -> date:
    while n > 0:
        d -= timedelta(days=1)
        if is_working_day(d):
            n -= 1
    return d


def threatened(prog: Programme, item: RaidItem, opened: date) -> list[Milestone]:
    """The milestones an item threatens: those it names, else the next quarter-end
    milestones relying on its dependency."""
    plan = prog.plan
    if item.milestones:
        return [plan[m] for m in item.milestones if m in plan]
    if item.dependency is None:
        return []
    relying = [m for m in prog.relying_on(item.dependency) if m.due >= opened]
    if not relying:
        return []
    first = min(m.due for m in relying)
    return [m for m in relying if m.due == first]


def _triggers(
    item: RaidItem, m: Milestone, as_of: date, kpi_misses: Mapping[str, date]
) -> dict[str, date]:
    found: dict[str, date] = {}
    if item.status in ACTIVE:
        found["status"] = item.status_since
    if item.due < as_of:
        found["missed_due"] = item.due + timedelta(days=1)
    missed = [kpi_misses[k] for k in m.kpis if k in kpi_misses and kpi_misses[k] <= as_of]
    if missed:
        found["kpi_trajectory"] = max(min(missed), item.raised)
    return found


def exceptions(
    prog: Programme, st: ProgrammeState, kpi_misses: Mapping[str, date] | None = None
) -> list[ExceptionCase]:
    """R1 exceptions open as of ``st.as_of`` (with their R3 escalations)."""
    misses = kpi_misses or {}
    as_of = st.as_of
    qag = prog.forums["qag"]
    out: list[ExceptionCase] = []
    for item in sorted(st.raid.values(), key=lambda r: r.id):
        if item.kind not in THREATENING or not item.open:
            continue
        provisional = min(item.status_since, item.due + timedelta(days=1))
        candidates = threatened(prog, item, max(provisional, item.raised))
        for m in candidates:
            if st.milestone_status(m.id) == "complete":
                continue
            found = _triggers(item, m, as_of, misses)
            if not found:
                continue
            opened = min(found.values())
            report = st.reports.get((item.id, m.id))
            due = add_working_days(opened, prog.r("R1", "report_working_days"))
            dep = prog.dependencies.get(item.dependency or "")
            route = dep.route if dep is not None else DEFAULT_ROUTE
            meeting = qag.next_meeting(opened + timedelta(days=1))
            resolved = st.resolved_on(item.id)
            case = ExceptionCase(
                raid=item.id,
                owner=item.owner,
                milestone=m.id,
                opened=opened,
                triggers=tuple(sorted(found)),
                kpis=tuple(k for k in m.kpis if k in misses),
                report_due=due,
                report=report.recorded if report else None,
                resolved=resolved,
                qag=meeting,
                route=route,
                escalations=(),
            )
            out.append(_escalate(prog, st, case))
    return out


def _escalate(prog: Programme, st: ProgrammeState, case: ExceptionCase) -> ExceptionCase:
    """R3: after its QAG meeting (or a QAG decision to escalate), one level at a time."""
    as_of = st.as_of
    ack_days = prog.r("R3", "acknowledge_working_days")
    asked = [
        d.date
        for d in st.decisions
        if d.forum == "qag"
        and d.raid == case.raid
        and d.outcome == "escalate"
        and d.date >= case.opened
    ]
    start: date | None = None
    if asked:
        start = min(asked)
    if case.qag is not None and as_of > case.qag:
        start = min(start, case.qag + timedelta(days=1)) if start else case.qag + timedelta(days=1)
    levels: list[Escalation] = []
    ladder = prog.routes[case.route]
    on = start
    for level, forum_id in enumerate(ladder, start=1):
        if on is None or on > as_of:
            break
        if case.resolved is not None and case.resolved < on:
            break
        forum = prog.forums[forum_id]
        meeting = forum.next_meeting(on)
        ack = st.acks.get((case.raid, forum_id))
        levels.append(Escalation(level, forum_id, on, meeting, add_working_days(on, ack_days), ack))
        on = meeting + timedelta(days=1) if meeting is not None else None
    return ExceptionCase(**{**case.__dict__, "escalations": tuple(levels)})


# --- notices --------------------------------------------------------------------------


def r1_notices(prog: Programme, cases: list[ExceptionCase], as_of: date) -> list[Notice]:
    pmo = prog.pmo.lead
    out: list[Notice] = []
    for c in cases:
        m = prog.plan[c.milestone]
        owner = c.owner
        head = f"{c.raid} threatens milestone {m.id} ({m.objective_title}, due {m.due})"
        out.append(
            Notice(
                f"R1:{c.key}",
                "R1",
                "exception",
                c.opened,
                _unique((owner, m.owner, m.forum)),
                f"R1 exception: {head}",
                (
                    head + ".",
                    f"Triggers: {', '.join(c.triggers)}.",
                    f"Exception report and recovery plan due by {c.report_due} "
                    f"({prog.r('R1', 'report_working_days')} working days).",
                ),
            )
        )
        if c.overdue(as_of):
            on = c.report_due + timedelta(days=1)
            out.append(
                Notice(
                    f"R1o:{c.key}",
                    "R1",
                    "overdue",
                    on,
                    _unique((owner, pmo, m.forum)),
                    f"R1 overdue: exception report for {c.raid} / {m.id}",
                    (
                        f"The exception report and recovery plan for {head} were due by "
                        f"{c.report_due} and have not been recorded.",
                    ),
                )
            )
        if c.report is not None and c.report <= as_of:
            out.append(
                Notice(
                    f"R1r:{c.key}",
                    "R1",
                    "recorded",
                    c.report,
                    _unique((m.forum, pmo)),
                    f"R1 exception report recorded: {c.raid} / {m.id}",
                    (
                        f"The exception report and recovery plan for {head} were recorded on "
                        f"{c.report} (due {c.report_due}).",
                    ),
                )
            )
    return out


def r3_notices(prog: Programme, cases: list[ExceptionCase], as_of: date) -> list[Notice]:
    out: list[Notice] = []
    for c in cases:
        for e in c.escalations:
            forum = prog.forums[e.forum]
            out.append(
                Notice(
                    f"R3:{c.key}:L{e.level}",
                    "R3",
                    "escalation",
                    e.on,
                    _unique((e.forum, prog.pmo.lead)),
                    f"R3 escalation to {forum.name}: {c.raid} / {c.milestone}",
                    (
                        f"Unresolved after QAG ({c.qag}); route {c.route}, level {e.level}.",
                        f"On the agenda of {forum.name} on {e.meeting}.",
                        f"Please acknowledge by {e.ack_due}.",
                    ),
                )
            )
            if (e.acknowledged is None or e.acknowledged > e.ack_due) and as_of > e.ack_due:
                out.append(
                    Notice(
                        f"R3a:{c.key}:L{e.level}",
                        "R3",
                        "unacknowledged",
                        e.ack_due + timedelta(days=1),
                        _unique((e.forum, prog.pmo.lead)),
                        f"R3 escalation not acknowledged: {c.raid} / {c.milestone}",
                        (f"{forum.name} has not acknowledged the escalation of {e.on}.",),
                    )
                )
    return out


def qag_packs(prog: Programme, start: date, end: date) -> list[tuple[date, date]]:
    """(meeting, issue date) of every QAG meeting whose pack is issued in [start, end]."""
    days = prog.r("R2", "pack_working_days")
    out = []
    for meeting in prog.forums["qag"].meetings(start, end + timedelta(days=40)):
        issue = sub_working_days(meeting, days)
        if start <= issue <= end:
            out.append((meeting, issue))
    return out


def r2_notices(prog: Programme, start: date, as_of: date) -> list[Notice]:
    return [
        Notice(
            f"R2:{meeting}",
            "R2",
            "pack",
            issue,
            ("qag", prog.pmo.lead),
            f"R2 QAG pack for the meeting of {meeting}",
            (
                f"The QAG pack for {meeting} is ready: open dependencies and linked risks, "
                "overdue actions, exceptions awaiting a recovery plan, KPIs on R10/R11.",
            ),
        )
        for meeting, issue in qag_packs(prog, start, as_of)
    ]


def pack_audit(prog: Programme, st: ProgrammeState) -> list[tuple[str, str]]:
    """R2: every decision recorded against a pack, and whether that pack exists."""
    out: list[tuple[str, str]] = []
    qag = prog.forums["qag"]
    for d in st.decisions:
        if d.pack is None:
            continue
        meetings = list(qag.meetings(d.pack, d.pack))
        if d.forum != "qag":
            out.append((d.id, f"recorded by {d.forum} against the QAG pack of {d.pack}"))
        elif not meetings:
            out.append((d.id, f"no QAG meeting on {d.pack}: not a pack"))
        else:
            out.append((d.id, f"{d.outcome} against the QAG pack of {d.pack}"))
    return out


def _chase(
    prog: Programme, key: str, kind: str, what: str, owner: str, on: date, as_of: date
) -> list[Notice]:
    out = [
        Notice(
            f"R4:{key}", "R4", kind, on, (owner,), f"R4 reminder: {what}", (f"Reminder: {what}.",)
        )
    ]
    chase = add_working_days(on, prog.r("R4", "reminder_working_days"))
    if as_of >= chase:
        out.append(
            Notice(
                f"R4p:{key}",
                "R4",
                f"{kind}_pmo",
                chase,
                (prog.pmo.lead,),
                f"R4 chase: {what}",
                (f"{owner} was reminded on {on}; still outstanding.",),
            )
        )
    return out


def r4_notices(prog: Programme, st: ProgrammeState, start: date) -> list[Notice]:
    as_of = st.as_of
    out: list[Notice] = []
    weekday = prog.weekly_update_weekday()
    d = start + timedelta(days=(weekday - start.weekday()) % 7)
    while d <= as_of:
        done = any(d - timedelta(days=7) < u <= d for u in st.raid_updates)
        if not done:
            out.append(
                Notice(
                    f"R4w:{d}",
                    "R4",
                    "weekly",
                    d,
                    (prog.pmo.lead,),
                    f"R4 weekly PMO update due ({d})",
                    (
                        "The weekly update of the RAID and dependency log is due; "
                        "no RAID item was updated this week.",
                    ),
                )
            )
        d += timedelta(days=7)
    stale = prog.r("R4", "stale_days")
    for item in sorted(st.raid.values(), key=lambda r: r.id):
        on = item.updated + timedelta(days=stale)
        if item.open and as_of >= on:
            out += _chase(
                prog,
                f"{item.id}:{item.updated}",
                "stale",
                f"RAID item {item.id} not updated since {item.updated}",
                item.owner,
                on,
                as_of,
            )
    for a in sorted(st.actions.values(), key=lambda x: x.id):
        if a.overdue(as_of):
            out += _chase(
                prog,
                f"{a.id}:{a.due}",
                "action_due",
                f"action {a.id} was due on {a.due}",
                a.owner,
                a.due + timedelta(days=1),
                as_of,
            )
    return out


def overdue_recovery_actions(st: ProgrammeState) -> list[Action]:
    """The KPI of its own: recovery actions past their due date and not completed."""
    return [a for a in st.actions.values() if a.recovery and a.overdue(st.as_of)]


def decide(
    prog: Programme,
    st: ProgrammeState,
    kpi_misses: Mapping[str, date] | None = None,
    since: date | None = None,
) -> list[Notice]:
    """Every notice due on or before ``st.as_of`` (and on or after ``since``)."""
    cases = exceptions(prog, st, kpi_misses)
    start = since or (st.as_of - timedelta(days=60))
    notices = (
        r1_notices(prog, cases, st.as_of)
        + r2_notices(prog, start, st.as_of)
        + r3_notices(prog, cases, st.as_of)
        + r4_notices(prog, st, start)
    )
    return sorted((n for n in notices if start <= n.on <= st.as_of), key=lambda n: (n.on, n.key))


def _unique(who: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(who))
