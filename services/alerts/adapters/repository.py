"""Rows <-> domain objects for the alerts tables, the alert repository, and the small
SQL helpers the unit of work runs inside its transaction.

The domain ``Alert`` is mapped onto ``alerts_alert`` from one field list (the
dataclass's own fields; a few are converted: policy, facts, notified).
"""

from __future__ import annotations

import abc
import json
import threading
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import asdict, fields
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import CursorResult, Table, insert
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql import Executable
from sqlmodel import Session, col, select

from contracts.escalation import Policy
from contracts.kpi_dictionary import KpiDef
from contracts.snapshots import KpiSnapshot
from services.alerts.adapters.orm import (
    AlertRow,
    AuditRow,
    ClockRow,
    CycleValueRow,
    KpiObservation,
    OutboxRow,
    RecoveryPlanRow,
    SilenceRow,
)
from services.alerts.domain.clock import Clock
from services.alerts.domain.model import (
    OPEN_STATUSES,
    Alert,
    AlertKind,
    AuditEntry,
    CycleResult,
    Notification,
    RecoveryPlan,
    Sent,
    Silence,
    Status,
    judged_goal,
)
from services.alerts.domain.observations import latest_observations
from services.alerts.domain.series import Series, to_be_established

# Writes are serialised in-process (the unit of work and the relay's delivery marks).
WRITE_LOCK = threading.RLock()
CLOCK_KEY = "clock"
OUTBOX = cast(Table, OutboxRow.__table__)  # type: ignore[attr-defined]
AUDIT = cast(Table, AuditRow.__table__)  # type: ignore[attr-defined]
OBSERVATION = cast(Table, KpiObservation.__table__)  # type: ignore[attr-defined]


def utcnow() -> datetime:
    return datetime.now(UTC)


# --- rows <-> domain -----------------------------------------------------------------

_CONVERTED = {"id", "kind", "status", "policy", "facts", "notified"}
ALERT_FIELDS = tuple(f.name for f in fields(Alert) if f.name not in _CONVERTED)


def to_domain(row: AlertRow) -> Alert:
    return Alert(
        id=row.id,
        kind=cast(AlertKind, row.kind),
        status=cast(Status, row.status),
        policy=Policy.model_validate_json(row.policy_json) if row.policy_json else None,
        facts=json.loads(row.facts),
        notified=[Sent(**s) for s in json.loads(row.notified)],
        **{name: getattr(row, name) for name in ALERT_FIELDS},
    )


def row_values(a: Alert) -> dict[str, Any]:
    """The ``alerts_alert`` columns of an alert (all but the id)."""
    values = {name: getattr(a, name) for name in ALERT_FIELDS}
    values.update(
        kind=a.kind,
        status=a.status,
        policy_version=a.policy_version,
        policy_json=a.policy.model_dump_json() if a.policy else None,
        facts=json.dumps(a.facts, sort_keys=True, default=str),
        notified=json.dumps([asdict(s) for s in a.notified]),
    )
    return values


def silence(row: SilenceRow) -> Silence:
    assert row.id is not None
    return Silence(row.id, row.kpi, row.breakdown, row.until, row.reason, row.created_by)


def cycle_result(row: CycleValueRow, k: KpiDef) -> CycleResult:
    """A stored closed cycle; rows written before goals, directions and units were
    stored take them from the dictionary, as they were judged then."""
    if row.goal_label is None:
        goal, label = judged_goal(
            target=row.target, standard=row.standard, to_be_established=to_be_established(k)
        )
    else:
        goal, label = row.goal, row.goal_label
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
        goal=goal,
        goal_label=label,
        direction=row.direction or k.direction,
        unit=row.unit or k.unit,
    )


_CYCLE_VALUES = (
    "revision",
    "value",
    "target",
    "standard",
    "numerator",
    "denominator",
    "closed_on",
    "goal",
    "goal_label",
    "direction",
    "unit",
)


# --- the alert repository ------------------------------------------------------------


class AlertRepository(abc.ABC):
    @abc.abstractmethod
    def get(self, aid: str) -> Alert | None:
        """The stored alert (locked for the transaction where the database can)."""

    @abc.abstractmethod
    def due(self, now: datetime) -> list[str]:
        """Ids of open alerts whose next check time has come."""

    @abc.abstractmethod
    def save(self, a: Alert) -> None: ...

    def preload(self, ids: Iterable[str]) -> None:  # noqa: B027 - optional
        """Read these alerts ahead of ``get`` (a batch's in one statement), if it helps."""


class SqlAlertRepository(AlertRepository):
    """Alert rows of one transaction.  Each row is read once (``preload`` reads a batch's
    in one statement); saves reuse the rows read and flush nothing on the way, so a
    batch of new alerts costs no query per alert."""

    def __init__(self, session: Session, *, for_update: bool) -> None:
        self.session = session
        self.for_update = for_update
        self._rows: dict[str, AlertRow | None] = {}

    def preload(self, ids: Iterable[str]) -> None:
        """Read (and lock) the rows of these alerts at once; absent ones are noted."""
        wanted = sorted({i for i in ids if i not in self._rows})
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            stmt = select(AlertRow).where(col(AlertRow.id).in_(chunk))
            if self.for_update:
                stmt = stmt.with_for_update()
            found = {r.id: r for r in self.session.exec(stmt)}
            for i in chunk:
                self._rows[i] = found.get(i)

    def _row(self, aid: str) -> AlertRow | None:
        if aid not in self._rows:
            with self.session.no_autoflush:
                self._rows[aid] = self.session.get(AlertRow, aid, with_for_update=self.for_update)
        return self._rows[aid]

    def get(self, aid: str) -> Alert | None:
        row = self._row(aid)
        return to_domain(row) if row is not None else None

    def due(self, now: datetime) -> list[str]:
        stmt = select(AlertRow.id).where(
            col(AlertRow.next_check_at) <= now, col(AlertRow.status).in_(OPEN_STATUSES)
        )
        return list(self.session.exec(stmt))

    def save(self, a: Alert) -> None:
        row = self._row(a.id)
        values = row_values(a)
        if row is None:
            row = AlertRow(id=a.id, **values)
            self._rows[a.id] = row
            self.session.add(row)
            return
        for name, value in values.items():
            setattr(row, name, value)


# --- the other tables, inside the caller's transaction --------------------------------


def read_clock(session: Session, *, for_update: bool) -> ClockRow:
    row = session.get(ClockRow, CLOCK_KEY, with_for_update=for_update)
    if row is None:
        row = ClockRow(key=CLOCK_KEY)
        session.add(row)
    return row


def to_clock(row: ClockRow) -> Clock:
    return Clock(row.now, row.snapshots, row.milestones, row.last_sequence)


def write_clock(row: ClockRow, clock: Clock) -> None:
    row.now, row.snapshots = clock.now, clock.snapshots
    row.milestones, row.last_sequence = clock.milestones, clock.last_sequence


def observe(session: Session, snaps: Sequence[KpiSnapshot]) -> None:
    """The latest observation per (kpi, cycle, breakdown), for /v1/caseload.  One upsert
    per key that keeps the newer sequence, so nothing is read first: a snapshot holds
    thousands of values, and loading every stored observation of their KPIs as ORM rows
    was a third of the time alerts spent on a snapshot."""
    updates = latest_observations({}, list(snaps))
    if not updates:
        return
    stamp = utcnow()
    rows = [
        {"kpi": k, "cycle": c, "breakdown": b, "sequence": seq, "value": v, "updated_at": stamp}
        for (k, c, b), (seq, v) in sorted(updates.items())  # one lock order everywhere
    ]
    session.execute(_upsert_newer(session.get_bind().dialect.name), rows)


def _upsert_newer(dialect: str) -> Executable:
    keys = ["kpi", "cycle", "breakdown"]
    if dialect not in ("postgresql", "sqlite"):
        raise NotImplementedError(f"observations on {dialect}")
    ins = (postgresql if dialect == "postgresql" else sqlite).insert(OBSERVATION)
    upsert: Executable = ins.on_conflict_do_update(
        index_elements=keys,
        set_={n: ins.excluded[n] for n in ("sequence", "value", "updated_at")},
        where=OBSERVATION.c.sequence < ins.excluded.sequence,
    )
    return upsert


def _series_rows(session: Session, series: Series) -> dict[str, CycleValueRow]:
    kpi, kind, breakdown = series
    stmt = select(CycleValueRow).where(
        CycleValueRow.kpi == kpi,
        CycleValueRow.cycle_kind == kind,
        CycleValueRow.breakdown == breakdown,
    )
    return {r.cycle: r for r in session.exec(stmt)}


def cycle_values(session: Session, series: Series, k: KpiDef) -> dict[str, CycleResult]:
    return {c: cycle_result(r, k) for c, r in _series_rows(session, series).items()}


def save_cycle_values(session: Session, results: Iterable[CycleResult], seen_at: datetime) -> None:
    by_series: dict[Series, list[CycleResult]] = {}
    for r in results:
        by_series.setdefault((r.kpi, r.cycle_kind, r.breakdown), []).append(r)
    for series, rs in by_series.items():
        stored = _series_rows(session, series)
        for r in rs:
            row = stored.get(r.cycle)
            if row is None:
                row = CycleValueRow(
                    kpi=r.kpi,
                    cycle_kind=r.cycle_kind,
                    breakdown=r.breakdown,
                    cycle=r.cycle,
                    revision=r.revision,
                    closed_on=r.closed_on,
                    seen_at=seen_at,
                )
                session.add(row)
            for name in _CYCLE_VALUES:
                setattr(row, name, getattr(r, name))
            row.seen_at = seen_at


def active_silences(session: Session, now: datetime) -> list[Silence]:
    return [silence(r) for r in session.exec(select(SilenceRow).where(SilenceRow.until > now))]


def add_silence(session: Session, s: Silence, created_at: datetime) -> Silence:
    row = SilenceRow(
        kpi=s.kpi,
        breakdown=s.breakdown,
        until=s.until,
        reason=s.reason,
        created_by=s.created_by,
        created_at=created_at,
        recorded_at=utcnow(),
    )
    session.add(row)
    session.flush()
    return silence(row)


def add_plan(session: Session, a: Alert, plan: RecoveryPlan, at: datetime) -> None:
    actions = [
        {"action": x.action, "owner": x.owner, "due": x.due.isoformat()} for x in plan.actions
    ]
    session.add(
        RecoveryPlanRow(
            alert_id=a.id,
            episode=a.episode,
            recorded_by=plan.recorded_by[:200],
            summary=plan.summary,
            actions=json.dumps(actions),
            recorded_at=at,
            created_at=utcnow(),
        )
    )


def insert_audit(session: Session, entries: Iterable[AuditEntry], recorded: datetime) -> None:
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
        session.execute(insert(AUDIT), rows)


def insert_once(dialect: str, values: dict[str, Any]) -> Executable:
    """INSERT that does nothing if this (alert, episode, level, notice, channel,
    recipient) is already in the outbox: a level notifies at most once.  It returns the
    new row's id, so an insert that did nothing is seen as such (PostgreSQL gives no
    row count for it)."""
    keys = ["alert_id", "episode", "level", "notice", "channel", "recipient"]
    if dialect == "postgresql":
        pg = postgresql.insert(OUTBOX).values(**values).on_conflict_do_nothing(index_elements=keys)
        return pg.returning(OUTBOX.c.id)
    if dialect == "sqlite":
        lite = sqlite.insert(OUTBOX).values(**values).on_conflict_do_nothing(index_elements=keys)
        return lite.returning(OUTBOX.c.id)
    return insert(OUTBOX).values(**values)


def queue(session: Session, outbox: Iterable[Notification], recorded: datetime) -> Counter[str]:
    """Put the notifications in the outbox; the number queued per channel."""
    queued: Counter[str] = Counter()
    dialect = session.get_bind().dialect.name
    for n in outbox:
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
            "hold_until": n.hold_until,
            "hold_reason": n.hold_reason,
        }
        result = cast(CursorResult[Any], session.execute(insert_once(dialect, values)))
        if result.first() is not None if result.returns_rows else result.rowcount:
            queued[n.channel] += 1
    return queued
