"""Units of work: one transaction per consumed batch or API action.

In one transaction: the inbox (ids of the snapshots and milestone alerts applied), the
event-time clock, the closed cycle values of the watched series, the alerts and their
escalation state, the append-only audit, and the outbox of notifications to deliver.
A relay (``adapters/notify.Relay``) delivers the outbox after the commit.

``SqlUnitOfWork`` serialises writes in-process (one lock) and reads rows ``FOR UPDATE``
on PostgreSQL, so an acknowledgement arriving while a batch is evaluated is never
lost.  ``FakeUnitOfWork`` keeps the same state in memory, for the handler tests.
"""

from __future__ import annotations

import abc
import copy
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Protocol, Self, TypeVar

from sqlalchemy.engine import Engine as DbEngine
from sqlmodel import Session

from contracts.kpi_dictionary import KpiDef
from contracts.snapshots import KpiSnapshot
from sendwatch.inbox import claim_new
from services.alerts.adapters import repository as sql
from services.alerts.adapters.orm import AlertsInbox, ClockRow
from services.alerts.domain.clock import Clock
from services.alerts.domain.ledger import Ledger
from services.alerts.domain.model import (
    Alert,
    AuditEntry,
    CycleResult,
    Notification,
    RecoveryPlan,
    Silence,
)
from services.alerts.domain.observations import latest_observations
from services.alerts.domain.series import Series


class HasId(Protocol):
    @property
    def id(self) -> str: ...


E = TypeVar("E", bound=HasId)


@dataclass
class Outcome:
    """What a unit of work committed (for metrics and logs)."""

    applied: int = 0
    fired: Counter[str] = field(default_factory=Counter)  # by rule
    queued: Counter[str] = field(default_factory=Counter)  # by channel
    muted: Counter[str] = field(default_factory=Counter)  # by channel

    def add(self, other: Outcome) -> None:
        self.applied += other.applied
        self.fired.update(other.fired)
        self.queued.update(other.queued)
        self.muted.update(other.muted)


class AbstractUnitOfWork(abc.ABC):
    alerts: sql.AlertRepository
    outcome: Outcome  # everything committed through this unit of work so far
    _pending: Outcome

    def __enter__(self) -> Self:
        self._pending = Outcome()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.rollback()

    def commit(self) -> None:
        self._commit()
        self.outcome.add(self._pending)
        self._pending = Outcome()

    def rollback(self) -> None:
        self._rollback()
        self._pending = Outcome()

    def record(self, led: Ledger, applied: int = 0) -> list[Alert]:
        """Write a decision's changed alerts, audit entries and notifications; return
        the changed alerts."""
        changed = led.changed_alerts()
        for a in changed:
            self.alerts.save(a)
        queued = self._write_effects(led.audit, led.outbox)
        self._pending.applied += applied
        self._pending.queued.update(queued)
        self._pending.fired.update(led.fired)
        self._pending.muted.update(
            x.channel for x in led.audit if x.kind == "notification_muted" and x.channel
        )
        return changed

    def wall_clock(self) -> datetime:
        return datetime.now(UTC)

    @abc.abstractmethod
    def claim_new(self, items: Sequence[E]) -> list[E]:
        """The items not applied before (first occurrence wins), now recorded."""

    @abc.abstractmethod
    def clock(self) -> Clock: ...

    @abc.abstractmethod
    def save_clock(self, clock: Clock) -> None: ...

    @abc.abstractmethod
    def observe(self, snapshots: Sequence[KpiSnapshot]) -> None:
        """Keep the latest value per (kpi, cycle, breakdown)."""

    @abc.abstractmethod
    def cycle_values(self, series: Series, k: KpiDef) -> dict[str, CycleResult]: ...

    @abc.abstractmethod
    def save_cycle_values(self, results: Iterable[CycleResult], seen_at: datetime) -> None: ...

    @abc.abstractmethod
    def active_silences(self, now: datetime) -> list[Silence]: ...

    @abc.abstractmethod
    def add_silence(self, s: Silence, created_at: datetime) -> Silence:
        """Store a new silence; it comes back with its id."""

    @abc.abstractmethod
    def add_plan(self, a: Alert, plan: RecoveryPlan, at: datetime) -> None: ...

    @abc.abstractmethod
    def _write_effects(
        self, audit: Sequence[AuditEntry], outbox: Sequence[Notification]
    ) -> Counter[str]:
        """Append the audit entries and queue the notifications (each level notifies a
        recipient at most once per episode); the number queued per channel."""

    @abc.abstractmethod
    def _commit(self) -> None: ...

    @abc.abstractmethod
    def _rollback(self) -> None: ...


class SqlUnitOfWork(AbstractUnitOfWork):
    def __init__(self, db: DbEngine) -> None:
        self.db = db
        self.outcome = Outcome()
        self.for_update = db.dialect.name == "postgresql"
        self._clock_row: ClockRow | None = None

    def __enter__(self) -> Self:
        sql.WRITE_LOCK.acquire()
        self.session = Session(self.db)
        self.alerts = sql.SqlAlertRepository(self.session, for_update=self.for_update)
        self._clock_row = None
        return super().__enter__()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            super().__exit__(exc_type, exc, tb)
        finally:
            self.session.close()
            sql.WRITE_LOCK.release()

    def claim_new(self, items: Sequence[E]) -> list[E]:
        return claim_new(self.session, AlertsInbox, items)

    def clock(self) -> Clock:
        if self._clock_row is None:
            self._clock_row = sql.read_clock(self.session, for_update=self.for_update)
        return sql.to_clock(self._clock_row)

    def save_clock(self, clock: Clock) -> None:
        self.clock()
        assert self._clock_row is not None
        sql.write_clock(self._clock_row, clock)

    def observe(self, snapshots: Sequence[KpiSnapshot]) -> None:
        sql.observe(self.session, snapshots)

    def cycle_values(self, series: Series, k: KpiDef) -> dict[str, CycleResult]:
        return sql.cycle_values(self.session, series, k)

    def save_cycle_values(self, results: Iterable[CycleResult], seen_at: datetime) -> None:
        sql.save_cycle_values(self.session, results, seen_at)

    def active_silences(self, now: datetime) -> list[Silence]:
        return sql.active_silences(self.session, now)

    def add_silence(self, s: Silence, created_at: datetime) -> Silence:
        return sql.add_silence(self.session, s, created_at)

    def add_plan(self, a: Alert, plan: RecoveryPlan, at: datetime) -> None:
        sql.add_plan(self.session, a, plan, at)

    def _write_effects(
        self, audit: Sequence[AuditEntry], outbox: Sequence[Notification]
    ) -> Counter[str]:
        self.session.flush()
        recorded = sql.utcnow()
        sql.insert_audit(self.session, audit, recorded)
        return sql.queue(self.session, outbox, recorded)

    def _commit(self) -> None:
        self.session.commit()

    def _rollback(self) -> None:
        self.session.rollback()


# --- in memory ---------------------------------------------------------------------


@dataclass
class FakeState:
    """Everything a database would keep, committed."""

    inbox: set[str] = field(default_factory=set)
    clock: Clock = Clock()
    observations: dict[tuple[str, str, str], tuple[int, float | None]] = field(default_factory=dict)
    alerts: dict[str, Alert] = field(default_factory=dict)
    cycles: dict[Series, dict[str, CycleResult]] = field(default_factory=dict)
    silences: list[Silence] = field(default_factory=list)
    plans: list[tuple[str, int, RecoveryPlan, datetime]] = field(default_factory=list)
    audit: list[AuditEntry] = field(default_factory=list)
    outbox: list[Notification] = field(default_factory=list)


class FakeAlertRepository(sql.AlertRepository):
    def __init__(self, state: FakeState) -> None:
        self.state = state

    def get(self, aid: str) -> Alert | None:
        return copy.deepcopy(self.state.alerts.get(aid))  # a copy, as a row would be

    def due(self, now: datetime) -> list[str]:
        return [
            a.id
            for a in self.state.alerts.values()
            if a.is_open and a.next_check_at is not None and a.next_check_at <= now
        ]

    def save(self, a: Alert) -> None:
        self.state.alerts[a.id] = copy.deepcopy(a)


class FakeUnitOfWork(AbstractUnitOfWork):
    """The same unit of work in memory: changes become visible on commit only."""

    def __init__(self) -> None:
        self.committed = FakeState()
        self.outcome = Outcome()
        self.commits = 0

    def __enter__(self) -> Self:
        self.state = copy.deepcopy(self.committed)
        self.alerts = FakeAlertRepository(self.state)
        return super().__enter__()

    def claim_new(self, items: Sequence[E]) -> list[E]:
        fresh: dict[str, E] = {}
        for x in items:
            if x.id not in self.state.inbox:
                fresh.setdefault(x.id, x)
        self.state.inbox.update(fresh)
        return list(fresh.values())

    def clock(self) -> Clock:
        return self.state.clock

    def save_clock(self, clock: Clock) -> None:
        self.state.clock = clock

    def observe(self, snapshots: Sequence[KpiSnapshot]) -> None:
        seqs = {k: v[0] for k, v in self.state.observations.items()}
        self.state.observations.update(latest_observations(seqs, list(snapshots)))

    def cycle_values(self, series: Series, k: KpiDef) -> dict[str, CycleResult]:
        return dict(self.state.cycles.get(series, {}))

    def save_cycle_values(self, results: Iterable[CycleResult], seen_at: datetime) -> None:
        for r in results:
            self.state.cycles.setdefault((r.kpi, r.cycle_kind, r.breakdown), {})[r.cycle] = r

    def active_silences(self, now: datetime) -> list[Silence]:
        return [s for s in self.state.silences if s.until > now]

    def add_silence(self, s: Silence, created_at: datetime) -> Silence:
        stored = Silence(
            len(self.state.silences) + 1, s.kpi, s.breakdown, s.until, s.reason, s.created_by
        )
        self.state.silences.append(stored)
        return stored

    def add_plan(self, a: Alert, plan: RecoveryPlan, at: datetime) -> None:
        self.state.plans.append((a.id, a.episode, plan, at))

    def _write_effects(
        self, audit: Sequence[AuditEntry], outbox: Sequence[Notification]
    ) -> Counter[str]:
        self.state.audit += audit
        queued: Counter[str] = Counter()
        have = {_once(n) for n in self.state.outbox}
        for n in outbox:
            if _once(n) not in have:
                have.add(_once(n))
                self.state.outbox.append(n)
                queued[n.channel] += 1
        return queued

    def _commit(self) -> None:
        self.committed = self.state
        self.commits += 1

    def _rollback(self) -> None:
        self.state = copy.deepcopy(self.committed)
        self.alerts = FakeAlertRepository(self.state)


def _once(n: Notification) -> tuple[Any, ...]:
    return (n.alert_id, n.episode, n.level, n.notice, n.channel, n.recipient)
