"""The read side of the alerts service: queries for the API, and the JSON views of
alerts, escalations, the audit trail, the outbox, recovery plans and silences."""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any

from sqlalchemy import func
from sqlalchemy.engine import Engine as DbEngine
from sqlmodel import Session, col, select

from contracts.escalation import EscalationConfig
from contracts.kpi_dictionary import KpiDictionary
from services.alerts.adapters.orm import (
    AlertRow,
    AuditRow,
    ClockRow,
    KpiObservation,
    OutboxRow,
    RecoveryPlanRow,
    SilenceRow,
)
from services.alerts.adapters.repository import CLOCK_KEY, silence, to_domain
from services.alerts.domain.model import OPEN_STATUSES, Alert

# --- queries -------------------------------------------------------------------------

CASE_LEVEL_KINDS = ("milestone",)  # alerts that name a case (the ``cases`` role)


def list_alerts(
    db: DbEngine,
    *,
    status: str | None = None,
    kpi: str | None = None,
    rule: str | None = None,
    historical: bool | None = None,
    kind: str | None = None,
    exclude_kinds: tuple[str, ...] = (),
    limit: int = 200,
    offset: int = 0,
) -> tuple[int, list[dict[str, Any]]]:
    with Session(db) as session:
        stmt = select(AlertRow)
        if status is not None:
            stmt = stmt.where(AlertRow.status == status)
        if kpi is not None:
            stmt = stmt.where(AlertRow.kpi == kpi)
        if rule is not None:
            stmt = stmt.where(AlertRow.rule == rule)
        if historical is not None:
            stmt = stmt.where(AlertRow.historical == historical)
        if kind is not None:
            stmt = stmt.where(AlertRow.kind == kind)
        if exclude_kinds:
            stmt = stmt.where(col(AlertRow.kind).not_in(exclude_kinds))
        total = session.exec(select(func.count()).select_from(stmt.subquery())).one()
        page = stmt.order_by(col(AlertRow.updated_at).desc(), col(AlertRow.id))
        rows = session.exec(page.limit(limit).offset(offset))
        return int(total), [alert_view(to_domain(r)) for r in rows]


def alert_detail(db: DbEngine, aid: str) -> dict[str, Any] | None:
    with Session(db) as session:
        row = session.get(AlertRow, aid)
        if row is None:
            return None
        a = to_domain(row)
        view = alert_view(a)
        audit = session.exec(
            select(AuditRow).where(AuditRow.alert_id == aid).order_by(col(AuditRow.id))
        )
        view["timeline"] = [audit_view(x) for x in audit]
        view["notifications"] = [
            outbox_view(r, with_body=False)
            for r in session.exec(
                select(OutboxRow).where(OutboxRow.alert_id == aid).order_by(col(OutboxRow.id))
            )
        ]
        view["recovery_plans"] = [
            plan_view(r)
            for r in session.exec(
                select(RecoveryPlanRow)
                .where(RecoveryPlanRow.alert_id == aid)
                .order_by(col(RecoveryPlanRow.id))
            )
        ]
        view["silences"] = [
            silence_view(s)
            for s in session.exec(select(SilenceRow).order_by(col(SilenceRow.id)))
            if silence(s).covers(a.kpi, a.breakdown)
        ]
        if a.parent_id:
            view["parent_id"] = a.parent_id
        return view


def escalations(db: DbEngine, config: EscalationConfig, horizon_days: int) -> dict[str, Any]:
    with Session(db) as session:
        rows = session.exec(
            select(AlertRow)
            .where(AlertRow.kind == "escalation", col(AlertRow.status).in_(OPEN_STATUSES))
            .order_by(col(AlertRow.opened_at))
        )
        clock = session.get(ClockRow, CLOCK_KEY)
        return {
            "now": clock.now if clock else None,
            "horizon_days": horizon_days,
            "policies": {name: p.model_dump(mode="json") for name, p in config.policies.items()},
            "watch": [w.model_dump(mode="json") for w in config.watch],
            "open": [escalation_view(to_domain(r)) for r in rows],
        }


def outbox(
    db: DbEngine, *, status: str | None, alert_id: str | None, limit: int, offset: int
) -> tuple[int, list[dict[str, Any]]]:
    with Session(db) as session:
        stmt = select(OutboxRow)
        if status is not None:
            stmt = stmt.where(OutboxRow.status == status)
        if alert_id is not None:
            stmt = stmt.where(OutboxRow.alert_id == alert_id)
        total = session.exec(select(func.count()).select_from(stmt.subquery())).one()
        rows = session.exec(stmt.order_by(col(OutboxRow.id).desc()).limit(limit).offset(offset))
        return int(total), [outbox_view(r, with_body=True) for r in rows]


def silences(db: DbEngine) -> list[dict[str, Any]]:
    with Session(db) as session:
        return [
            silence_view(s) for s in session.exec(select(SilenceRow).order_by(col(SilenceRow.id)))
        ]


def silence_by_id(db: DbEngine, silence_id: int) -> dict[str, Any] | None:
    with Session(db) as session:
        row = session.get(SilenceRow, silence_id)
        return silence_view(row) if row is not None else None


def now(db: DbEngine) -> datetime | None:
    with Session(db) as session:
        clock = session.get(ClockRow, CLOCK_KEY)
        return clock.now if clock else None


def status(db: DbEngine) -> dict[str, Any]:
    """The latest timeliness snapshot applied, and event-time now (for ``--wait``)."""
    with Session(db) as session:
        clock = session.get(ClockRow, CLOCK_KEY)
        return {
            "timeliness_sequence": clock.last_sequence if clock else None,
            "now": clock.now if clock else None,
            "snapshots": clock.snapshots if clock else 0,
            "milestones": clock.milestones if clock else 0,
        }


def observation(
    db: DbEngine, kpi: str, cycle: str = "current", breakdown: str = "all"
) -> KpiObservation | None:
    with Session(db) as session:
        return session.get(KpiObservation, (kpi, cycle, breakdown))


def caseload(db: DbEngine, dictionary: KpiDictionary) -> dict[str, Any]:
    """The current open caseload: the dictionary's point-in-time count of open
    assessments, as last observed."""
    kpi = next((i for i, k in dictionary.kpis.items() if k.measure == "open_count"), None)
    obs = observation(db, kpi) if kpi is not None else None
    return {
        str(kpi): int(obs.value) if obs and obs.value is not None else None,
        "sequence": obs.sequence if obs else None,
    }


# --- JSON views ------------------------------------------------------------------------


def _iso(value: datetime | date | None) -> str | None:
    return value.isoformat() if value is not None else None


def alert_view(a: Alert) -> dict[str, Any]:
    levels = a.policy.levels if a.policy else []
    current = levels[a.level - 1].body if 1 <= a.level <= len(levels) else None
    nxt = a.next_escalation_at()
    return {
        "id": a.id,
        "rule": a.rule,
        "kind": a.kind,
        "title": a.title,
        "status": a.status,
        "episode": a.episode,
        "historical": a.historical,
        "kpi": a.kpi,
        "kpi_name": a.facts.get("kpi_name"),
        "cycle": a.cycle,
        "cycle_kind": a.cycle_kind,
        "breakdown": a.breakdown,
        "owner": a.facts.get("owner"),
        "opened_at": _iso(a.opened_at),
        "updated_at": _iso(a.updated_at),
        "resolved_at": _iso(a.resolved_at),
        "resolution": a.resolution,
        "policy": a.policy_name,
        "policy_version": a.policy_version,
        "level": a.level,
        "level_body": current,
        "levels": len(levels),
        "muted": a.level_muted,
        "next_escalation_at": _iso(nxt),
        "next_level_body": levels[a.level].body if nxt is not None else None,
        "acknowledged_by": a.acked_by,
        "acknowledged_at": _iso(a.acked_at),
        "acknowledgement_note": a.ack_note,
        "follow_up_due": _iso(a.follow_up_due),
        "recovery_plan": {
            "document": a.plan_document,
            "due": _iso(a.plan_due),
            "asked_on": _iso(a.plan_asked_on),
            "level": a.plan_level,
            "recorded_at": _iso(a.plan_recorded_at),
            "overdue_at": _iso(a.plan_overdue_at),
        }
        if a.plan_due or a.plan_recorded_at
        else None,
        "parent_id": a.parent_id,
        "facts": a.facts,
        "notified": [
            {"level": s.level, "channel": s.channel, "to": s.address, "notice": s.notice}
            for s in a.notified
        ],
    }


_ESCALATION_KEYS = (
    "id",
    "rule",
    "title",
    "status",
    "episode",
    "kpi",
    "cycle",
    "breakdown",
    "policy",
    "policy_version",
    "level",
    "levels",
    "level_body",
    "muted",
    "next_escalation_at",
    "next_level_body",
    "acknowledged_by",
    "acknowledged_at",
    "recovery_plan",
    "historical",
)


def escalation_view(a: Alert) -> dict[str, Any]:
    v = alert_view(a)
    return {k: v[k] for k in _ESCALATION_KEYS}


def audit_view(x: AuditRow) -> dict[str, Any]:
    return {
        "id": x.id,
        "at": _iso(x.at),
        "recorded_at": _iso(x.recorded_at),
        "episode": x.episode,
        "kind": x.kind,
        "actor": x.actor,
        "message": x.message,
        "channel": x.channel,
        "recipient": x.recipient,
        "outcome": x.outcome,
        "level": x.level,
        "detail": json.loads(x.detail),
    }


def outbox_view(r: OutboxRow, *, with_body: bool) -> dict[str, Any]:
    v: dict[str, Any] = {
        "id": r.id,
        "alert_id": r.alert_id,
        "episode": r.episode,
        "level": r.level,
        "notice": r.notice,
        "channel": r.channel,
        "to": r.recipient,
        "subject": r.subject,
        "status": r.status,
        "attempts": r.attempts,
        "last_error": r.last_error,
        "decided_at": _iso(r.decided_at),
        "created_at": _iso(r.created_at),
        "next_attempt_at": _iso(r.next_attempt_at) if r.status == "pending" else None,
        "sent_at": _iso(r.sent_at),
        # alerting: held for quiet hours or a daily digest (event time); who sends it
        "held_until": _iso(r.hold_until),
        "held_for": r.hold_reason,
        "claimed_by": r.claimed_by if r.status == "pending" else None,
    }
    if with_body:
        v["body"] = r.body
    return v


def plan_view(r: RecoveryPlanRow) -> dict[str, Any]:
    return {
        "id": r.id,
        "alert_id": r.alert_id,
        "episode": r.episode,
        "recorded_by": r.recorded_by,
        "summary": r.summary,
        "actions": json.loads(r.actions),
        "recorded_at": _iso(r.recorded_at),
        "created_at": _iso(r.created_at),
    }


def silence_view(s: SilenceRow) -> dict[str, Any]:
    return {
        "id": s.id,
        "kpi": s.kpi,
        "breakdown": s.breakdown,
        "until": _iso(s.until),
        "reason": s.reason,
        "created_by": s.created_by,
        "created_at": _iso(s.created_at),
        "recorded_at": _iso(s.recorded_at),
    }
