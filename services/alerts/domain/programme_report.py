"""The programme's documents as data: the exception report, the monthly highlight
report and the QAG pack.  Built from the programme state (itself folded from events
alone) as of a date, so any past date reproduces the same document."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta

from contracts.programme import Programme
from services.alerts.domain.programme_rules import (
    THREATENING,
    ExceptionCase,
    overdue_recovery_actions,
    pack_audit,
    sub_working_days,
)
from services.alerts.domain.programme_state import Action, ProgrammeState

Cell = str | int | None
RAG = {"complete": "blue", "on_track": "green", "at_risk": "amber", "off_track": "red"}


@dataclass(frozen=True)
class Section:
    title: str
    columns: tuple[str, ...]
    rows: tuple[tuple[Cell, ...], ...]
    note: str = ""


@dataclass(frozen=True)
class Document:
    kind: str
    title: str
    as_of: date
    figures: tuple[tuple[str, Cell], ...] = ()
    sections: tuple[Section, ...] = field(default_factory=tuple)

    def figure(self, label: str) -> Cell:
        return dict(self.figures)[label]


def rag(prog: Programme, st: ProgrammeState, mid: str) -> str:
    """A milestone's RAG: its reported status; past its due date and not complete: red."""
    status = st.milestone_status(mid)
    if status != "complete" and prog.plan[mid].due < st.as_of:
        return "red"
    return RAG.get(status, "grey")


def action_status(a: Action, on: date) -> str:
    if a.completed is not None:
        return "complete"
    return "overdue" if a.overdue(on) else "open"


def figures(
    prog: Programme, st: ProgrammeState, cases: list[ExceptionCase]
) -> tuple[tuple[str, Cell], ...]:
    """The headline figures every document and the API share."""
    on = st.as_of
    open_raid = [r for r in st.raid.values() if r.open]
    by_kind = Counter(r.kind for r in open_raid)
    rags = Counter(rag(prog, st, m) for m in prog.plan)
    return (
        ("milestones", len(prog.plan)),
        ("milestones complete", rags["blue"]),
        ("milestones on track", rags["green"]),
        ("milestones at risk", rags["amber"]),
        ("milestones off track", rags["red"]),
        ("milestones not reported", rags["grey"]),
        ("open risks", by_kind["risk"]),
        ("open assumptions", by_kind["assumption"]),
        ("open issues", by_kind["issue"]),
        ("open dependencies", by_kind["dependency"]),
        ("open exceptions", len(cases)),
        ("exception reports overdue", sum(c.overdue(on) for c in cases)),
        ("exceptions awaiting recovery plan", sum(c.awaiting_report(on) for c in cases)),
        ("escalations", sum(len(c.escalations) for c in cases)),
        ("overdue actions", sum(a.overdue(on) for a in st.actions.values())),
        ("overdue recovery actions", len(overdue_recovery_actions(st))),
    )


def _case_rows(
    prog: Programme, cases: list[ExceptionCase], on: date
) -> tuple[tuple[Cell, ...], ...]:
    rows = []
    for c in cases:
        m = prog.plan[c.milestone]
        report = (
            str(c.report)
            if c.report and c.report <= on
            else ("OVERDUE" if c.overdue(on) else "due")
        )
        top = c.escalations[-1].forum if c.escalations else "-"
        rows.append(
            (
                c.milestone,
                m.objective_title,
                c.raid,
                ", ".join(c.triggers),
                str(c.opened),
                str(c.report_due),
                report,
                top,
            )
        )
    return tuple(rows)


CASE_COLUMNS = (
    "milestone",
    "objective",
    "threatened by",
    "triggers",
    "opened",
    "report due",
    "report",
    "escalated to",
)


def exception_report(
    prog: Programme, st: ProgrammeState, case: ExceptionCase, misses: Mapping[str, date]
) -> Document:
    on = st.as_of
    m = prog.plan[case.milestone]
    item = st.raid[case.raid]
    dep = prog.dependencies.get(item.dependency or "")
    rep = st.reports.get((case.raid, case.milestone))
    recorded = rep is not None and rep.recorded <= on
    actions = [st.actions[a] for a in (rep.actions if rep and recorded else ()) if a in st.actions]
    actions += [
        a for a in st.actions.values() if a.raid == case.raid and a.recovery and a not in actions
    ]
    return Document(
        "exception-report",
        f"Exception report: {m.id} threatened by {case.raid}",
        on,
        (
            ("opened", str(case.opened)),
            ("report due", str(case.report_due)),
            ("recorded", str(rep.recorded) if rep and recorded else None),
            ("overdue", "yes" if case.overdue(on) else "no"),
        ),
        (
            Section(
                "The milestone",
                ("milestone", "objective", "workstream", "owner", "due", "quarter", "RAG"),
                (
                    (
                        m.id,
                        m.title,
                        m.workstream,
                        m.owner,
                        str(m.due),
                        m.quarter,
                        rag(prog, st, m.id),
                    ),
                ),
            ),
            Section(
                "What threatens it",
                (
                    "item",
                    "kind",
                    "dependency",
                    "owner",
                    "status",
                    "reason",
                    "due",
                    "impact",
                    "likelihood",
                    "score",
                ),
                (
                    (
                        item.id,
                        item.kind,
                        dep.title if dep else "-",
                        item.owner,
                        item.status,
                        item.reason,
                        str(item.due),
                        item.impact,
                        item.likelihood,
                        item.score,
                    ),
                ),
                note="Triggers: " + ", ".join(case.triggers),
            ),
            Section(
                "Impact on KPIs",
                ("kpi", "off trajectory since"),
                tuple((k, str(misses[k]) if k in misses else "on trajectory") for k in m.kpis),
            ),
            Section(
                "Options",
                ("option",),
                tuple((o,) for o in (rep.options if rep and recorded else ())),
                note="" if recorded else "Not yet recorded.",
            ),
            Section(
                "Recovery plan",
                ("action", "owner", "due", "status"),
                tuple((a.id, a.owner, str(a.due), action_status(a, on)) for a in actions),
            ),
            Section(
                "Escalation",
                ("level", "forum", "on", "agenda", "acknowledged"),
                tuple(
                    (
                        e.level,
                        e.forum,
                        str(e.on),
                        str(e.meeting),
                        str(e.acknowledged) if e.acknowledged else "no",
                    )
                    for e in case.escalations
                ),
            ),
        ),
    )


def month_bounds(month: str) -> tuple[date, date]:
    y, m = (int(p) for p in month.split("-"))
    first = date(y, m, 1)
    nxt = date(y + (m == 12), m % 12 + 1, 1)
    return first, nxt - timedelta(days=1)


def highlight_report(
    prog: Programme,
    st: ProgrammeState,
    cases: list[ExceptionCase],
    misses: Mapping[str, date],
    month: str,
) -> Document:
    on = st.as_of
    first, _ = month_bounds(month)
    ws_rows = []
    for wid, w in prog.workstreams.items():
        ms = [m for m in prog.plan.values() if m.workstream == wid]
        c = Counter(rag(prog, st, m.id) for m in ms)
        ws_rows.append(
            (wid, w.name, len(ms), c["blue"], c["green"], c["amber"], c["red"], c["grey"])
        )
    slipping = [
        (m.id, m.title, str(m.due), rag(prog, st, m.id), st.milestone_status(m.id))
        for m in prog.plan.values()
        if rag(prog, st, m.id) in ("amber", "red")
    ]
    late_raid = [
        (r.id, r.kind, r.owner, str(r.due), r.status)
        for r in sorted(st.raid.values(), key=lambda x: x.id)
        if r.open and r.due < on
    ]
    required = [
        (
            c.raid,
            c.milestone,
            "recovery plan" if c.awaiting_report(on) else "accept recovery plan",
            c.escalations[-1].forum if c.escalations else "qag",
        )
        for c in cases
        if c.resolved is None or c.resolved > on
    ]
    made = [
        (d.id, d.forum, str(d.date), d.outcome, d.raid or "-")
        for d in st.decisions
        if first <= d.date <= on
    ]
    kpis = sorted({k for m in prog.plan.values() for k in m.kpis})
    recovery = [
        (a.id, a.owner, a.raid or "-", str(a.due), action_status(a, on))
        for a in sorted(st.actions.values(), key=lambda x: x.id)
        if a.recovery
    ]
    return Document(
        "highlight",
        f"Monthly highlight report {month} ({prog.plan_year})",
        on,
        figures(prog, st, cases),
        (
            Section(
                "Status by workstream",
                (
                    "workstream",
                    "name",
                    "milestones",
                    "complete",
                    "green",
                    "amber",
                    "red",
                    "not reported",
                ),
                tuple(ws_rows),
            ),
            Section(
                "Slippage: milestones",
                ("milestone", "title", "due", "RAG", "status"),
                tuple(slipping),
            ),
            Section(
                "Slippage: RAID items past due",
                ("item", "kind", "owner", "due", "status"),
                tuple(late_raid),
            ),
            Section(
                "Decisions required", ("item", "milestone", "decision", "forum"), tuple(required)
            ),
            Section(
                "Decisions made this month",
                ("decision", "forum", "date", "outcome", "item"),
                tuple(made),
            ),
            Section("Impact on milestones", CASE_COLUMNS, _case_rows(prog, cases, on)),
            Section(
                "KPIs against trajectory",
                ("kpi", "status"),
                tuple(
                    (k, f"off trajectory since {misses[k]}" if k in misses else "on trajectory")
                    for k in kpis
                ),
            ),
            Section(
                "Recovery actions", ("action", "owner", "item", "due", "status"), tuple(recovery)
            ),
        ),
    )


def qag_pack(
    prog: Programme,
    st: ProgrammeState,
    cases: list[ExceptionCase],
    misses: Mapping[str, date],
    meeting: date,
) -> Document:
    on = st.as_of
    deps = [
        r for r in sorted(st.raid.values(), key=lambda x: x.id) if r.open and r.kind in THREATENING
    ]
    linked_ms = {m for r in deps for m in r.milestones} | {
        m.id for r in deps if r.dependency for m in prog.relying_on(r.dependency)
    }
    risks = [
        r
        for r in sorted(st.raid.values(), key=lambda x: x.id)
        if r.open and r.kind == "risk" and (set(r.milestones) & linked_ms or not deps)
    ]
    overdue = [a for a in sorted(st.actions.values(), key=lambda x: x.id) if a.overdue(on)]
    awaiting = [c for c in cases if c.awaiting_report(on)]
    audit = [(d, v) for d, v in pack_audit(prog, st) if f"{meeting}" in v]
    issue = sub_working_days(meeting, prog.r("R2", "pack_working_days"))
    return Document(
        "qag-pack",
        f"QAG pack for the meeting of {meeting}",
        on,
        (
            ("meeting", str(meeting)),
            ("issued", str(issue)),
            ("open dependencies and issues", len(deps)),
            ("linked risks", len(risks)),
            ("overdue actions", len(overdue)),
            ("exceptions awaiting recovery plan", len(awaiting)),
            ("KPIs on R10/R11", len(misses)),
        ),
        (
            Section(
                "Open dependencies and issues",
                ("item", "kind", "dependency", "owner", "status", "reason", "due", "score"),
                tuple(
                    (
                        r.id,
                        r.kind,
                        r.dependency or "-",
                        r.owner,
                        r.status,
                        r.reason,
                        str(r.due),
                        r.score,
                    )
                    for r in deps
                ),
            ),
            Section(
                "Linked risks",
                ("item", "owner", "impact", "likelihood", "score", "milestones"),
                tuple(
                    (r.id, r.owner, r.impact, r.likelihood, r.score, ", ".join(r.milestones))
                    for r in risks
                ),
            ),
            Section(
                "Overdue actions",
                ("action", "owner", "due", "item", "recovery"),
                tuple(
                    (a.id, a.owner, str(a.due), a.raid or "-", "yes" if a.recovery else "no")
                    for a in overdue
                ),
            ),
            Section(
                "Exceptions awaiting a recovery plan", CASE_COLUMNS, _case_rows(prog, awaiting, on)
            ),
            Section(
                "KPIs on R10/R11",
                ("kpi", "since"),
                tuple((k, str(d)) for k, d in sorted(misses.items())),
            ),
            Section(
                "Decisions recorded against this pack (audit)", ("decision", "record"), tuple(audit)
            ),
        ),
    )
