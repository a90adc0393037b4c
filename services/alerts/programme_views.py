"""Reads of the programme (the API and the dashboard): everything is folded from the
stored programme events as of a date."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy.engine import Engine as DbEngine

from contracts.programme import load_programme
from services.alerts.domain.programme_report import (
    Document,
    action_status,
    exception_report,
    figures,
    highlight_report,
    month_bounds,
    qag_pack,
    rag,
)
from services.alerts.domain.programme_rules import (
    ExceptionCase,
    exceptions,
    overdue_recovery_actions,
)
from services.alerts.domain.programme_state import ProgrammeState
from services.alerts.service_layer.programme import programme_now, state_as_of


def today(db: DbEngine) -> date:
    now = programme_now(db)
    return (now or datetime.now(UTC)).date()


def _load(db: DbEngine, as_of: date) -> tuple[ProgrammeState, dict[str, date], list[ExceptionCase]]:
    st, misses, _ = state_as_of(db, as_of)
    return st, misses, exceptions(load_programme(), st, misses)


def _case(c: ExceptionCase, on: date) -> dict[str, Any]:
    return {
        "raid": c.raid,
        "milestone": c.milestone,
        "owner": c.owner,
        "opened": c.opened,
        "triggers": list(c.triggers),
        "kpis": list(c.kpis),
        "report_due": c.report_due,
        "report_recorded": c.report if c.report and c.report <= on else None,
        "overdue": c.overdue(on),
        "qag": c.qag,
        "route": c.route,
        "resolved": c.resolved if c.resolved and c.resolved <= on else None,
        "escalations": [
            {
                "level": e.level,
                "forum": e.forum,
                "on": e.on,
                "agenda": e.meeting,
                "ack_due": e.ack_due,
                "acknowledged": e.acknowledged,
            }
            for e in c.escalations
        ],
    }


def overview(db: DbEngine, as_of: date) -> dict[str, Any]:
    prog = load_programme()
    st, misses, cases = _load(db, as_of)
    threats: dict[str, list[str]] = {}
    for c in cases:
        threats.setdefault(c.milestone, []).append(c.raid)
    quarters: dict[str, list[dict[str, Any]]] = {}
    for m in prog.plan.values():
        s = st.milestones.get(m.id)
        quarters.setdefault(m.quarter, []).append(
            {
                "id": m.id,
                "title": m.title,
                "objective": m.objective_title,
                "workstream": m.workstream,
                "owner": m.owner,
                "due": m.due,
                "status": st.milestone_status(m.id),
                "reason": s.reason if s else None,
                "evidence_date": s.evidence_date if s else None,
                "rag": rag(prog, st, m.id),
                "kpis": list(m.kpis),
                "dependencies": list(m.dependencies),
                "threatened_by": threats.get(m.id, []),
            }
        )
    deps = []
    for did, d in prog.dependencies.items():
        items = [r for r in st.raid.values() if r.dependency == did and r.open]
        deps.append(
            {
                "id": did,
                "title": d.title,
                "owner": d.owner,
                "route": d.route,
                "milestones": [m.id for m in prog.relying_on(did)],
                "items": [
                    {"id": r.id, "kind": r.kind, "status": r.status, "due": r.due} for r in items
                ],
                "threatens": sorted(
                    {c.milestone for c in cases if st.raid[c.raid].dependency == did}
                ),
            }
        )
    overdue = overdue_recovery_actions(st)
    return {
        "as_of": as_of,
        "figures": dict(figures(prog, st, cases)),
        "quarters": quarters,
        "dependencies": deps,
        "exceptions": [_case(c, as_of) for c in cases],
        "overdue_recovery_actions": {
            "count": len(overdue),
            "actions": [
                {"id": a.id, "owner": a.owner, "due": a.due, "raid": a.raid}
                for a in sorted(overdue, key=lambda a: a.id)
            ],
        },
        "actions": [
            {
                "id": a.id,
                "owner": a.owner,
                "due": a.due,
                "raid": a.raid,
                "recovery": a.recovery,
                "status": action_status(a, as_of),
            }
            for a in sorted(st.actions.values(), key=lambda a: a.id)
        ],
        "decisions": [
            {
                "id": d.id,
                "forum": d.forum,
                "date": d.date,
                "outcome": d.outcome,
                "raid": d.raid,
                "pack": d.pack,
            }
            for d in st.decisions
        ],
        "kpis_off_trajectory": misses,
        "next_meetings": {fid: f.next_meeting(as_of) for fid, f in prog.forums.items()},
    }


def raid_log(
    db: DbEngine,
    as_of: date,
    *,
    kind: str | None = None,
    status: str | None = None,
    owner: str | None = None,
    milestone: str | None = None,
) -> dict[str, Any]:
    st, _, cases = _load(db, as_of)
    threatened: dict[str, list[str]] = {}
    for c in cases:
        threatened.setdefault(c.raid, []).append(c.milestone)
    rows = []
    for r in sorted(st.raid.values(), key=lambda x: x.id):
        state = "closed" if r.closed else r.status
        if kind and r.kind != kind:
            continue
        if status and not (state == status or (status == "open" and r.open)):
            continue
        if owner and r.owner != owner:
            continue
        if (
            milestone
            and milestone not in r.milestones
            and milestone not in threatened.get(r.id, [])
        ):
            continue
        rows.append(
            {
                "id": r.id,
                "kind": r.kind,
                "owner": r.owner,
                "due": r.due,
                "impact": r.impact,
                "likelihood": r.likelihood,
                "score": r.score,
                "status": state,
                "reason": r.reason,
                "dependency": r.dependency,
                "milestones": list(r.milestones),
                "threatens": threatened.get(r.id, []),
                "raised": r.raised,
                "updated": r.updated,
                "stale": r.open
                and (as_of - r.updated).days >= load_programme().r("R4", "stale_days"),
            }
        )
    return {"as_of": as_of, "total": len(rows), "items": rows}


def agenda(db: DbEngine, as_of: date, forum: str) -> dict[str, Any]:
    prog = load_programme()
    f = prog.forums[forum]
    meeting = f.next_meeting(as_of)
    st, misses, cases = _load(db, as_of)
    items: list[dict[str, Any]] = []
    for c in cases:
        for e in c.escalations:
            if e.forum == forum and e.meeting == meeting:
                items.append(
                    {
                        "item": "escalation",
                        "raid": c.raid,
                        "milestone": c.milestone,
                        "level": e.level,
                        "since": e.on,
                    }
                )
    if forum == "qag":
        items += [
            {
                "item": "exception",
                "raid": c.raid,
                "milestone": c.milestone,
                "awaiting_report": c.awaiting_report(as_of),
            }
            for c in cases
        ]
        items += [{"item": "kpi", "kpi": k, "since": d} for k, d in sorted(misses.items())]
        items += [
            {"item": "overdue_action", "action": a.id, "owner": a.owner}
            for a in sorted(st.actions.values(), key=lambda a: a.id)
            if a.overdue(as_of)
        ]
    else:
        mine = {m.id for m in prog.plan.values() if m.forum == forum}
        items += [
            {"item": "exception", "raid": c.raid, "milestone": c.milestone}
            for c in cases
            if c.milestone in mine
        ]
        items += [
            {"item": "milestone", "milestone": m, "rag": rag(prog, st, m)}
            for m in sorted(mine)
            if rag(prog, st, m) in ("amber", "red")
        ]
    return {"forum": forum, "name": f.name, "meeting": meeting, "as_of": as_of, "items": items}


def document(
    db: DbEngine,
    kind: str,
    as_of: date | None,
    *,
    month: str | None = None,
    meeting: date | None = None,
    raid: str | None = None,
    milestone: str | None = None,
    today: date,
) -> Document:
    prog = load_programme()
    if kind == "highlight":
        month = month or (as_of or today).strftime("%Y-%m")
        _, last = month_bounds(month)
        on = as_of or min(last, today)
        st, misses, cases = _load(db, on)
        return highlight_report(prog, st, cases, misses, month)
    if kind == "qag-pack":
        meet = meeting or prog.forums["qag"].next_meeting(as_of or today)
        if meet is None or meet not in set(prog.forums["qag"].meetings(meet, meet)):
            raise ValueError(f"no QAG meeting on {meeting}")
        on = as_of or min(meet, today)
        st, misses, cases = _load(db, on)
        return qag_pack(prog, st, cases, misses, meet)
    if raid is None or milestone is None:
        raise ValueError("an exception report needs raid and milestone")
    on = as_of or today
    st, misses, cases = _load(db, on)
    for c in cases:
        if c.raid == raid and c.milestone == milestone:
            return exception_report(prog, st, c, misses)
    raise LookupError(f"no exception for {raid} and {milestone} on {on}")
