"""The SQL unit of work against the in-memory one the rule tables use: every rule table
case, run through the same handlers, leaves the same alerts, outbox and audit trail on
SQLite and on PostgreSQL.  And the SQL one keeps its own guarantees: the inbox, at most
one notification per level and recipient, and nothing left behind by a failed action."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import delete, text
from sqlalchemy.engine import Engine as DbEngine
from sqlmodel import Session, SQLModel, col, select

from sendwatch.db import make_engine, migrate
from services.alerts.adapters import orm
from services.alerts.adapters.repository import row_values, to_domain
from services.alerts.domain.model import Alert, Notification
from services.alerts.service_layer import handlers
from services.alerts.service_layer.unit_of_work import SqlUnitOfWork
from tests.conftest import _pg_database
from tests.unit.alerts.scenario import Scenario, at
from tests.unit.alerts.test_rules import CASES

TABLES: list[type[SQLModel]] = [
    orm.AlertRow,
    orm.AuditRow,
    orm.ClockRow,
    orm.CycleValueRow,
    orm.KpiObservation,
    orm.OutboxRow,
    orm.SilenceRow,
    orm.RecoveryPlanRow,
    orm.AlertsInbox,
]


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def database(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[DbEngine]:
    if request.param == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('alerts')}/alerts.db")
        migrate("alerts", engine)
        yield engine
        engine.dispose()
        return
    databases = _pg_database()
    engine = make_engine(next(databases))
    migrate("alerts", engine)
    try:
        yield engine
    finally:
        engine.dispose()
        databases.close()


@pytest.fixture
def db(database: DbEngine) -> DbEngine:
    """An empty set of alerts tables (ids start again at 1)."""
    names = ", ".join(t.__tablename__ for t in TABLES)  # type: ignore[misc]
    with database.begin() as c:
        if database.dialect.name == "postgresql":
            c.execute(text(f"TRUNCATE {names} RESTART IDENTITY"))
        else:
            for t in TABLES:
                c.execute(delete(t))
    return database


class SqlScenario(Scenario):
    @property
    def db(self) -> DbEngine:
        assert isinstance(self.uow, SqlUnitOfWork)
        return self.uow.db

    @property
    def alerts(self) -> dict[str, Alert]:
        with Session(self.db) as s:
            return {r.id: to_domain(r) for r in s.exec(select(orm.AlertRow))}

    @property
    def sent(self) -> list[Notification]:
        with Session(self.db) as s:
            rows = s.exec(select(orm.OutboxRow).order_by(col(orm.OutboxRow.id)))
            return [
                Notification(
                    r.alert_id,
                    r.episode,
                    r.level,
                    "resolved" if r.notice == "resolved" else "alert",
                    r.channel,
                    r.recipient,
                    r.subject,
                    r.body,
                    json.loads(r.payload),
                    r.decided_at,
                    hold_until=r.hold_until,
                    hold_reason=r.hold_reason,
                )
                for r in rows
            ]

    def audit(self) -> list[tuple[Any, ...]]:
        with Session(self.db) as s:
            rows = s.exec(select(orm.AuditRow).order_by(col(orm.AuditRow.id)))
            return [(r.alert_id, r.kind, r.message, r.level, r.recipient) for r in rows]


def fake_audit(h: Scenario) -> list[tuple[Any, ...]]:
    return [(x.alert_id, x.kind, x.message, x.level, x.recipient) for x in h.fake.committed.audit]


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_the_sql_unit_of_work_decides_as_the_fake_does(db: DbEngine, case: dict[str, Any]) -> None:
    kpi = case.get("kpi", "ehcp_20wk")
    fake, real = Scenario(kpi=kpi), SqlScenario(kpi=kpi, uow=SqlUnitOfWork(db))
    fake.run(case["steps"])
    real.run(case["steps"])
    assert {i: row_values(a) for i, a in real.alerts.items()} == {
        i: row_values(a) for i, a in fake.alerts.items()
    }
    assert real.sent == fake.sent
    assert real.audit() == fake_audit(fake)
    assert real.uow.outcome == fake.uow.outcome


def test_a_redelivered_batch_changes_nothing(db: DbEngine) -> None:
    h = SqlScenario(uow=SqlUnitOfWork(db))
    may = h.snapshot(at("2026-06-11"), [h.value({"cycle": "2026-05", "value": 40.0})])
    assert len(handlers.apply_snapshots(h.ctx, h.uow, [may, may])) == 1
    assert handlers.apply_snapshots(h.ctx, h.uow, [may]) == []
    assert h.uow.outcome.applied == 1 and sum(h.uow.outcome.queued.values()) == 1
    assert len(h.sent) == 1


def test_a_level_notifies_a_recipient_once_even_if_decided_twice(db: DbEngine) -> None:
    h = SqlScenario(uow=SqlUnitOfWork(db))
    h.run([{"at": "2026-06-11", "cycle": "2026-05", "value": 40.0}])
    n = h.sent[0]
    with h.uow as uow:
        assert uow._write_effects([], [n]) == {}  # already in the outbox
        uow.commit()
    assert len(h.sent) == 1


def test_a_refused_action_leaves_nothing_behind(db: DbEngine) -> None:
    h = SqlScenario(uow=SqlUnitOfWork(db))
    h.run([{"at": "2026-06-11", "cycle": "2026-05", "value": 40.0}])
    with pytest.raises(ValueError, match="must be after"):
        handlers.create_silence(
            h.ctx,
            h.uow,
            kpi="ehcp_20wk",
            breakdown=None,
            until=datetime(2026, 1, 1, tzinfo=UTC),
            reason="too late",
            by="Test User",
        )
    with pytest.raises(ValueError, match="needs a kpi"):
        handlers.create_silence(
            h.ctx, h.uow, kpi=None, breakdown=None, until=at("2027-01-01"), reason="x", by="T"
        )
    with Session(db) as s:
        assert s.exec(select(orm.SilenceRow)).all() == []
        kinds = [r.kind for r in s.exec(select(orm.AuditRow))]
    assert "silence_created" not in kinds


def test_observations_keep_the_newest_value_of_each_key(db: DbEngine) -> None:
    """``observe`` upserts without reading: an older snapshot applied later changes no
    key a newer one set, and still adds the keys only it has."""
    h = SqlScenario(uow=SqlUnitOfWork(db))
    older = h.snapshot(at("2026-06-01"), [h.value({"cycle": "2026-04", "value": 10.0})])
    newer = h.snapshot(
        at("2026-06-02"),
        [h.value({"cycle": "2026-05", "value": 20.0, "breakdown": "all"})],
    )
    older.data.values.append(h.value({"cycle": "2026-05", "value": 99.0, "breakdown": "all"}))
    with h.uow as uow:
        uow.observe([newer])
        uow.commit()
    with h.uow as uow:
        uow.observe([older])
        uow.commit()
    with Session(db) as s:
        got = {
            (r.cycle, r.breakdown): (r.sequence, r.value)
            for r in s.exec(select(orm.KpiObservation))
        }
    assert got == {
        ("2026-05", "all"): (newer.data.sequence, 20.0),
        ("2026-04", h.breakdown): (older.data.sequence, 10.0),
    }


def test_a_batch_of_milestones_reads_its_alerts_in_one_statement(db: DbEngine) -> None:
    """No query per milestone: 60 slips read ``alerts_alert`` a bounded number of times."""
    from sqlalchemy import event

    h = SqlScenario(uow=SqlUnitOfWork(db))
    batch = [h.milestone_alert(at("2026-05-14"), {"case": f"case-{n:08d}"}) for n in range(60)]
    reads: list[str] = []

    def count(_conn: Any, _cur: Any, statement: str, *_args: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT") and "alerts_alert" in statement:
            reads.append(statement)

    event.listen(db, "before_cursor_execute", count)
    try:
        changed = handlers.apply_milestones(h.ctx, h.uow, batch)
    finally:
        event.remove(db, "before_cursor_execute", count)
    assert len(changed) == 60 and len(h.alerts) == 60
    assert len(reads) <= 3, f"{len(reads)} reads of alerts_alert for 60 milestones"
