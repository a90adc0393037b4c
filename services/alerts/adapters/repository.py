"""Alerts' unit of work: one transaction per consumed batch or API action.

In one transaction: the inbox (ids of the snapshots and milestone alerts applied), the
event-time clock, the closed cycle values of the watched series, the alerts and their
escalation state, the append-only audit, and the outbox of notifications to deliver.
A relay (``notify.Relay``) delivers the outbox after the commit and marks each row sent
as soon as the mail server or webhook has accepted it.

Writes are serialised in-process (one lock) and rows are read ``FOR UPDATE`` on
PostgreSQL, so an acknowledgement arriving while a batch is evaluated is never lost.
"""

from __future__ import annotations

import json
import threading
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine as DbEngine
from sqlmodel import Session

from contracts import cycles
from contracts.escalation import EscalationConfig, Policy
from contracts.kpi_dictionary import KpiDictionary
from contracts.snapshots import KpiSnapshot
from contracts.timeline import MilestoneAlert
from sendwatch.inbox import claim_new
from services.alerts.adapters.orm import (
    AlertRow,
    AlertsInbox,
    AuditRow,
    ClockRow,
    CycleValueRow,
    KpiObservation,
    OutboxRow,
    RecoveryPlanRow,
    SilenceRow,
)
from services.alerts.domain.engine import Engine
from services.alerts.domain.model import (
    OPEN_STATUSES,
    Alert,
    AuditEntry,
    CycleResult,
    MilestoneInput,
    RecoveryPlan,
    Sent,
    Silence,
)
from services.alerts.domain.observations import latest_observations
from services.alerts.domain.series import merge

_CLOCK = "clock"
_WRITE_LOCK = threading.RLock()
_OUTBOX = OutboxRow.__table__  # type: ignore[attr-defined]
_AUDIT = AuditRow.__table__  # type: ignore[attr-defined]

Incoming = KpiSnapshot | MilestoneAlert


def _utcnow() -> datetime:
    return datetime.now(UTC)


# --- rows <-> domain -----------------------------------------------------------------


def to_domain(row: AlertRow) -> Alert:
    return Alert(
        id=row.id,
        fingerprint=row.fingerprint,
        rule=row.rule,
        kind=row.kind,  # type: ignore[arg-type]
        kpi=row.kpi,
        cycle_kind=row.cycle_kind,
        breakdown=row.breakdown,
        cycle=row.cycle,
        title=row.title,
        opened_at=row.opened_at,
        updated_at=row.updated_at,
        status=row.status,  # type: ignore[arg-type]
        episode=row.episode,
        historical=row.historical,
        policy_name=row.policy_name,
        policy=Policy.model_validate_json(row.policy_json) if row.policy_json else None,
        level=row.level,
        level_at=row.level_at,
        level_muted=row.level_muted,
        resolved_at=row.resolved_at,
        resolution=row.resolution,
        acked_by=row.acked_by,
        acked_at=row.acked_at,
        ack_note=row.ack_note,
        follow_up_due=row.follow_up_due,
        plan_due=row.plan_due,
        plan_asked_on=row.plan_asked_on,
        plan_level=row.plan_level,
        plan_document=row.plan_document,
        plan_recorded_at=row.plan_recorded_at,
        plan_overdue_at=row.plan_overdue_at,
        parent_id=row.parent_id,
        facts=json.loads(row.facts),
        notified=[Sent(**s) for s in json.loads(row.notified)],
        next_check_at=row.next_check_at,
    )


def _fill(row: AlertRow, a: Alert) -> None:
    row.fingerprint = a.fingerprint
    row.rule = a.rule
    row.kind = a.kind
    row.kpi = a.kpi
    row.cycle_kind = a.cycle_kind
    row.breakdown = a.breakdown
    row.cycle = a.cycle
    row.title = a.title
    row.status = a.status
    row.episode = a.episode
    row.historical = a.historical
    row.opened_at = a.opened_at
    row.updated_at = a.updated_at
    row.resolved_at = a.resolved_at
    row.resolution = a.resolution
    row.policy_name = a.policy_name
    row.policy_version = a.policy_version
    row.policy_json = a.policy.model_dump_json() if a.policy else None
    row.level = a.level
    row.level_at = a.level_at
    row.level_muted = a.level_muted
    row.acked_by = a.acked_by
    row.acked_at = a.acked_at
    row.ack_note = a.ack_note
    row.follow_up_due = a.follow_up_due
    row.plan_due = a.plan_due
    row.plan_asked_on = a.plan_asked_on
    row.plan_level = a.plan_level
    row.plan_document = a.plan_document
    row.plan_recorded_at = a.plan_recorded_at
    row.plan_overdue_at = a.plan_overdue_at
    row.parent_id = a.parent_id
    row.facts = json.dumps(a.facts, sort_keys=True, default=str)
    row.notified = json.dumps(
        [
            {"level": s.level, "channel": s.channel, "address": s.address, "notice": s.notice}
            for s in a.notified
        ]
    )
    row.next_check_at = a.next_check_at


def _silence(row: SilenceRow) -> Silence:
    assert row.id is not None
    return Silence(row.id, row.kpi, row.breakdown, row.until, row.reason, row.created_by)


def _result(row: CycleValueRow) -> CycleResult:
    return CycleResult(
        kpi=row.kpi,
        cycle_kind=row.cycle_kind,
        breakdown=row.breakdown,
        cycle=row.cycle,
        revision=row.revision,
        value=row.value,
        target=row.target,
        standard=row.standard,
        numerator=row.numerator,
        denominator=row.denominator,
        closed_on=row.closed_on,
    )


# --- the unit of work ----------------------------------------------------------------


@dataclass
class Outcome:
    """What a unit of work did (for metrics and logs)."""

    applied: int = 0
    fired: Counter[str] = field(default_factory=Counter)
    queued: Counter[str] = field(default_factory=Counter)  # by channel
    muted: Counter[str] = field(default_factory=Counter)  # by channel


class AlertStore:
    def __init__(
        self,
        engine: DbEngine,
        config: EscalationConfig,
        dictionary: KpiDictionary,
        *,
        horizon_days: int,
        base_url: str,
    ) -> None:
        self.db = engine
        self.config = config
        self.dictionary = dictionary
        self.horizon_days = horizon_days
        self.base_url = base_url

    # -- helpers --

    def _for_update(self, session: Session) -> bool:
        return self.db.dialect.name == "postgresql"

    def _load(self, session: Session, aid: str) -> Alert | None:
        row = session.get(AlertRow, aid, with_for_update=self._for_update(session))
        return to_domain(row) if row is not None else None

    def _clock(self, session: Session) -> ClockRow:
        clock = session.get(ClockRow, _CLOCK, with_for_update=self._for_update(session))
        if clock is None:
            clock = ClockRow(key=_CLOCK)
            session.add(clock)
        return clock

    def _engine(self, session: Session, now: datetime) -> Engine:
        silences = [
            _silence(r)
            for r in session.execute(select(SilenceRow).where(SilenceRow.until > now)).scalars()
        ]
        return Engine(
            config=self.config,
            dictionary=self.dictionary,
            now=now,
            lookup=lambda aid: self._load(session, aid),
            silences=silences,
            horizon_days=self.horizon_days,
            base_url=self.base_url,
        )

    def _due_ids(self, session: Session, now: datetime) -> list[str]:
        return list(
            session.execute(
                select(AlertRow.id).where(
                    AlertRow.next_check_at <= now,  # type: ignore[operator]
                    AlertRow.status.in_(OPEN_STATUSES),  # type: ignore[attr-defined]
                )
            ).scalars()
        )

    def _write(self, session: Session, e: Engine, out: Outcome) -> None:
        for a in e.changed_alerts():
            row = session.get(AlertRow, a.id)
            if row is None:
                row = AlertRow(id=a.id)
                session.add(row)
            _fill(row, a)
        session.flush()
        recorded = _utcnow()
        self._audit(session, e.audit, recorded)
        for entry in e.audit:
            if entry.kind == "notification_muted" and entry.channel:
                out.muted[entry.channel] += 1
        for n in e.outbox:
            values = {
                "alert_id": n.alert_id,
                "episode": n.episode,
                "level": n.level,
                "notice": n.notice,
                "channel": n.channel,
                "recipient": n.recipient,
                "subject": n.subject,
                "body": n.body,
                "payload": json.dumps(n.payload, sort_keys=True, default=str),
                "status": "pending",
                "attempts": 0,
                "next_attempt_at": recorded,
                "decided_at": n.decided_at,
                "created_at": recorded,
            }
            result = session.execute(self._insert_once(values))
            if getattr(result, "rowcount", 1):
                out.queued[n.channel] += 1
        for rule in e.fired:
            out.fired[rule] += 1

    def _insert_once(self, values: dict[str, Any]) -> Any:
        """INSERT that does nothing if this (alert, episode, level, notice, channel,
        recipient) is already in the outbox: a level notifies at most once."""
        keys = ["alert_id", "episode", "level", "notice", "channel", "recipient"]
        if self.db.dialect.name == "postgresql":
            return (
                postgresql.insert(_OUTBOX)
                .values(**values)
                .on_conflict_do_nothing(index_elements=keys)
            )
        if self.db.dialect.name == "sqlite":
            return (
                sqlite.insert(_OUTBOX).values(**values).on_conflict_do_nothing(index_elements=keys)
            )
        return insert(_OUTBOX).values(**values)

    def _audit(self, session: Session, entries: Iterable[AuditEntry], recorded: datetime) -> None:
        rows = [
            {
                "alert_id": x.alert_id,
                "episode": x.episode,
                "at": x.at,
                "recorded_at": recorded,
                "kind": x.kind,
                "actor": x.actor[:200],
                "message": x.message,
                "channel": x.channel,
                "recipient": x.recipient,
                "outcome": x.outcome,
                "level": x.level,
                "detail": json.dumps(x.detail, sort_keys=True, default=str),
            }
            for x in entries
        ]
        if rows:
            session.execute(insert(_AUDIT), rows)

    # -- consumed batches --

    def apply_batch(self, items: Sequence[Incoming]) -> Outcome:
        """Apply snapshots and milestone alerts idempotently, evaluate the rules and the
        pending escalations at the new event time, and queue notifications."""
        out = Outcome()
        with _WRITE_LOCK, Session(self.db) as session:
            fresh = claim_new(session, AlertsInbox, items)
            if not fresh:
                session.commit()
                return out
            out.applied = len(fresh)
            clock = self._clock(session)
            snaps = sorted(
                (x for x in fresh if isinstance(x, KpiSnapshot)), key=lambda s: s.data.sequence
            )
            milestones = sorted(
                (x for x in fresh if isinstance(x, MilestoneAlert)), key=lambda m: m.time
            )
            now = clock.now
            for s in snaps:
                t = s.data.watermark or s.data.as_of
                if t is not None and (now is None or t > now):
                    now = t
            for m in milestones:
                if now is None or m.time > now:
                    now = m.time
            if now is None:
                now = _utcnow()
            if snaps:
                self._observe(session, snaps)
                clock.last_sequence = max(clock.last_sequence, snaps[-1].data.sequence)
            clock.snapshots += len(snaps)
            clock.milestones += len(milestones)
            clock.now = now
            e = self._engine(session, now)
            for series, results in sorted(self._closed_values(snaps).items()):
                self._evaluate_series(session, e, series, results, now)
            for m in milestones:
                e.milestone(
                    MilestoneInput(
                        event_id=m.id,
                        case=m.subject,
                        at=m.time,
                        milestone=m.data.milestone,
                        kind=m.data.kind,
                        kpi=m.data.kpi,
                        start=m.data.start,
                        due=m.data.due,
                        day=m.data.day,
                        locality=m.data.locality,
                        age_band=m.data.age_band,
                    )
                )
            e.advance(self._due_ids(session, now))
            self._write(session, e, out)
            session.commit()
        return out

    def _observe(self, session: Session, snaps: list[KpiSnapshot]) -> None:
        """The latest observation per (kpi, cycle, breakdown), for /v1/caseload."""
        keys = {(v.kpi, v.cycle, v.breakdown) for s in snaps for v in s.data.values}
        if not keys:
            return
        rows = {
            (r.kpi, r.cycle, r.breakdown): r
            for r in session.execute(
                select(KpiObservation).where(
                    KpiObservation.kpi.in_({k[0] for k in keys})  # type: ignore[attr-defined]
                )
            ).scalars()
        }
        updates = latest_observations({k: r.sequence for k, r in rows.items()}, snaps)
        stamp = _utcnow()
        for (kpi, cycle, breakdown), (sequence, value) in updates.items():
            row = rows.get((kpi, cycle, breakdown))
            if row is None:
                row = KpiObservation(
                    kpi=kpi, cycle=cycle, breakdown=breakdown, sequence=sequence, updated_at=stamp
                )
                session.add(row)
            row.sequence, row.value, row.updated_at = sequence, value, stamp

    def _closed_values(
        self, snaps: list[KpiSnapshot]
    ) -> dict[tuple[str, str, str], list[CycleResult]]:
        out: dict[tuple[str, str, str], list[CycleResult]] = defaultdict(list)
        start = self.dictionary.plan_year_start_month
        for s in snaps:
            for v in s.data.values:
                if not v.closed or v.kpi not in self.dictionary.kpis:
                    continue
                kind = v.cycle_kind if v.cycle_kind != "current" else cycles.kind_of(v.cycle)
                if kind == "current" or not self.config.watched(v.kpi, kind, v.breakdown):
                    continue
                try:
                    closed_on = cycles.closed_on(v.cycle, self.dictionary.grace_days, start)
                except ValueError:
                    continue
                out[(v.kpi, kind, v.breakdown)].append(
                    CycleResult(
                        kpi=v.kpi,
                        cycle_kind=kind,
                        breakdown=v.breakdown,
                        cycle=v.cycle,
                        revision=v.revision,
                        value=v.value,
                        target=v.target,
                        standard=v.standard,
                        numerator=v.numerator,
                        denominator=v.denominator,
                        closed_on=closed_on,
                    )
                )
        return out

    def _evaluate_series(
        self,
        session: Session,
        e: Engine,
        series: tuple[str, str, str],
        results: list[CycleResult],
        now: datetime,
    ) -> None:
        kpi, kind, breakdown = series
        stored_rows = {
            r.cycle: r
            for r in session.execute(
                select(CycleValueRow).where(
                    CycleValueRow.kpi == kpi,
                    CycleValueRow.cycle_kind == kind,
                    CycleValueRow.breakdown == breakdown,
                )
            ).scalars()
        }
        stored = {c: _result(r) for c, r in stored_rows.items()}
        fresh, steps = merge(stored, results, self.dictionary.plan_year_start_month)
        for label, r in fresh.items():
            row = stored_rows.get(label)
            if row is None:
                row = CycleValueRow(
                    kpi=kpi,
                    cycle_kind=kind,
                    breakdown=breakdown,
                    cycle=label,
                    revision=r.revision,
                    closed_on=r.closed_on,
                    seen_at=now,
                )
                session.add(row)
            row.revision, row.value, row.target, row.standard = (
                r.revision,
                r.value,
                r.target,
                r.standard,
            )
            row.numerator, row.denominator, row.closed_on, row.seen_at = (
                r.numerator,
                r.denominator,
                r.closed_on,
                now,
            )
        for step in steps:
            e.closed_cycle(step.cur, step.prev, restated=step.restated)

    # -- people's actions --

    def _act(self, fn: Any) -> tuple[Any, Outcome]:
        out = Outcome()
        with _WRITE_LOCK, Session(self.db) as session:
            clock = self._clock(session)
            now = clock.now or _utcnow()
            e = self._engine(session, now)
            result = fn(session, e, now)
            self._write(session, e, out)
            session.commit()
            return result, out

    def acknowledge(self, aid: str, actor: str, note: str | None) -> tuple[dict[str, Any], Outcome]:
        def run(session: Session, e: Engine, now: datetime) -> dict[str, Any]:
            a = e.acknowledge(aid, actor, note)
            return alert_view(a)

        result, out = self._act(run)
        return dict(result), out

    def record_plan(self, aid: str, plan: RecoveryPlan) -> tuple[dict[str, Any], Outcome]:
        def run(session: Session, e: Engine, now: datetime) -> dict[str, Any]:
            a = e.record_plan(aid, plan)
            session.add(
                RecoveryPlanRow(
                    alert_id=a.id,
                    episode=a.episode,
                    recorded_by=plan.recorded_by[:200],
                    summary=plan.summary,
                    actions=json.dumps(
                        [
                            {"action": x.action, "owner": x.owner, "due": x.due.isoformat()}
                            for x in plan.actions
                        ]
                    ),
                    recorded_at=now,
                    created_at=_utcnow(),
                )
            )
            return alert_view(a)

        result, out = self._act(run)
        return dict(result), out

    def create_silence(
        self, kpi: str | None, breakdown: str | None, until: datetime, reason: str, by: str
    ) -> tuple[dict[str, Any], Outcome]:
        def run(session: Session, e: Engine, now: datetime) -> dict[str, Any]:
            if until <= now:
                raise ValueError(
                    f"`until` must be after the service's current time ({now.isoformat()})"
                )
            row = SilenceRow(
                kpi=kpi,
                breakdown=breakdown,
                until=until,
                reason=reason,
                created_by=by[:200],
                created_at=now,
                recorded_at=_utcnow(),
            )
            session.add(row)
            session.flush()
            e.silence_created(_silence(row))
            return silence_view(row)

        result, out = self._act(run)
        return dict(result), out

    def now(self) -> datetime | None:
        with Session(self.db) as session:
            clock = session.get(ClockRow, _CLOCK)
            return clock.now if clock else None

    def status(self) -> dict[str, Any]:
        """The latest timeliness snapshot applied, and event-time now (for ``--wait``)."""
        with Session(self.db) as session:
            clock = session.get(ClockRow, _CLOCK)
            return {
                "timeliness_sequence": clock.last_sequence if clock else None,
                "now": clock.now if clock else None,
                "snapshots": clock.snapshots if clock else 0,
                "milestones": clock.milestones if clock else 0,
            }

    # -- the outbox relay --

    def due_notifications(self, channels: Sequence[str], limit: int = 100) -> list[OutboxRow]:
        with Session(self.db) as session:
            return list(
                session.execute(
                    select(OutboxRow)
                    .where(
                        OutboxRow.status == "pending",
                        OutboxRow.channel.in_(list(channels)),  # type: ignore[attr-defined]
                        OutboxRow.next_attempt_at <= _utcnow(),
                    )
                    .order_by(OutboxRow.id)  # type: ignore[arg-type]
                    .limit(limit)
                ).scalars()
            )

    def pending_counts(self) -> dict[str, int]:
        with Session(self.db) as session:
            rows = session.execute(
                select(OutboxRow.channel, func.count())
                .where(OutboxRow.status == "pending")
                .group_by(OutboxRow.channel)
            ).all()
            return {str(channel): int(n) for channel, n in rows}

    def mark_delivered(
        self,
        row: OutboxRow,
        outcome: str,
        error: str | None = None,
        retry_at: datetime | None = None,
    ) -> None:
        """Record a delivery attempt: ``sent`` (the server accepted it), ``retry`` (a
        transient failure; next attempt at ``retry_at``) or ``failed`` (permanent)."""
        with _WRITE_LOCK, Session(self.db) as session:
            stamp = _utcnow()
            clock = session.get(ClockRow, _CLOCK)
            at = (clock.now if clock else None) or stamp
            values: dict[str, Any] = {"attempts": _OUTBOX.c.attempts + 1}
            if outcome == "sent":
                values.update(status="sent", sent_at=stamp, last_error=None)
                message = f"Delivered to {row.recipient} by {row.channel}."
            elif outcome == "failed":
                values.update(status="failed", last_error=error)
                message = f"Delivery to {row.recipient} failed permanently: {error}"
            else:
                assert retry_at is not None
                values.update(last_error=error, next_attempt_at=retry_at)
                message = (
                    f"Delivery to {row.recipient} failed ({error}); retrying at "
                    f"{retry_at.isoformat(timespec='seconds')} (wall clock)."
                )
            result = session.execute(
                update(_OUTBOX)
                .where(_OUTBOX.c.id == row.id, _OUTBOX.c.status == "pending")
                .values(**values)
            )
            if getattr(result, "rowcount", 1):
                self._audit(
                    session,
                    [
                        AuditEntry(
                            alert_id=row.alert_id,
                            episode=row.episode,
                            at=at,
                            kind=f"notification_{'sent' if outcome == 'sent' else outcome}",
                            message=message,
                            channel=row.channel,
                            recipient=row.recipient,
                            outcome="delivered" if outcome == "sent" else outcome,
                            level=row.level,
                            detail={"outbox_id": row.id, "notice": row.notice},
                        )
                    ],
                    stamp,
                )
            session.commit()

    # -- reads --

    def list_alerts(
        self,
        *,
        status: str | None = None,
        kpi: str | None = None,
        rule: str | None = None,
        historical: bool | None = None,
        kind: str | None = None,
        limit: int = 200,
        offset: int = 0,
    ) -> tuple[int, list[dict[str, Any]]]:
        with Session(self.db) as session:
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
            total = session.execute(select(func.count()).select_from(stmt.subquery())).scalar_one()
            rows = session.execute(
                stmt.order_by(AlertRow.updated_at.desc(), AlertRow.id)  # type: ignore[attr-defined]
                .limit(limit)
                .offset(offset)
            ).scalars()
            return int(total), [alert_view(to_domain(r)) for r in rows]

    def alert_detail(self, aid: str) -> dict[str, Any] | None:
        with Session(self.db) as session:
            row = session.get(AlertRow, aid)
            if row is None:
                return None
            a = to_domain(row)
            view = alert_view(a)
            audit = session.execute(
                select(AuditRow).where(AuditRow.alert_id == aid).order_by(AuditRow.id)  # type: ignore[arg-type]
            ).scalars()
            view["timeline"] = [audit_view(x) for x in audit]
            view["notifications"] = [
                outbox_view(r, with_body=False)
                for r in session.execute(
                    select(OutboxRow).where(OutboxRow.alert_id == aid).order_by(OutboxRow.id)  # type: ignore[arg-type]
                ).scalars()
            ]
            view["recovery_plans"] = [
                plan_view(r)
                for r in session.execute(
                    select(RecoveryPlanRow)
                    .where(RecoveryPlanRow.alert_id == aid)
                    .order_by(RecoveryPlanRow.id)  # type: ignore[arg-type]
                ).scalars()
            ]
            view["silences"] = [
                silence_view(s)
                for s in session.execute(select(SilenceRow).order_by(SilenceRow.id)).scalars()  # type: ignore[arg-type]
                if (s.kpi is None or s.kpi == a.kpi)
                and (s.breakdown is None or s.breakdown == a.breakdown)
            ]
            if a.parent_id:
                view["parent_id"] = a.parent_id
            return view

    def escalations(self) -> dict[str, Any]:
        with Session(self.db) as session:
            rows = session.execute(
                select(AlertRow)
                .where(
                    AlertRow.kind == "escalation",
                    AlertRow.status.in_(OPEN_STATUSES),  # type: ignore[attr-defined]
                )
                .order_by(AlertRow.opened_at)  # type: ignore[arg-type]
            ).scalars()
            clock = session.get(ClockRow, _CLOCK)
            return {
                "now": clock.now if clock else None,
                "horizon_days": self.horizon_days,
                "policies": {
                    name: p.model_dump(mode="json") for name, p in self.config.policies.items()
                },
                "watch": [w.model_dump(mode="json") for w in self.config.watch],
                "open": [escalation_view(to_domain(r)) for r in rows],
            }

    def outbox(
        self, *, status: str | None, alert_id: str | None, limit: int, offset: int
    ) -> tuple[int, list[dict[str, Any]]]:
        with Session(self.db) as session:
            stmt = select(OutboxRow)
            if status is not None:
                stmt = stmt.where(OutboxRow.status == status)
            if alert_id is not None:
                stmt = stmt.where(OutboxRow.alert_id == alert_id)
            total = session.execute(select(func.count()).select_from(stmt.subquery())).scalar_one()
            rows = session.execute(
                stmt.order_by(OutboxRow.id.desc()).limit(limit).offset(offset)  # type: ignore[union-attr]
            ).scalars()
            return int(total), [outbox_view(r, with_body=True) for r in rows]

    def silences(self) -> list[dict[str, Any]]:
        with Session(self.db) as session:
            return [
                silence_view(s)
                for s in session.execute(select(SilenceRow).order_by(SilenceRow.id)).scalars()  # type: ignore[arg-type]
            ]


# --- views (JSON for the API) ---------------------------------------------------------


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


def escalation_view(a: Alert) -> dict[str, Any]:
    v = alert_view(a)
    return {
        k: v[k]
        for k in (
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
    }


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


def observation(
    engine: DbEngine, kpi: str, cycle: str = "current", breakdown: str = "all"
) -> KpiObservation | None:
    with Session(engine) as session:
        return session.get(KpiObservation, (kpi, cycle, breakdown))
