"""The programme in the alerts database, on SQLite and PostgreSQL: events and ticks are
applied once (the inbox), R1-R4 notices are queued once per recipient however often the
batch is redelivered, and documents are reproduced for any past date from the stored
events alone."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime

import pytest
from sqlalchemy.engine import Engine as DbEngine
from sqlmodel import Session, col, select

from contracts.events import load_events
from contracts.programme import load_programme
from contracts.timeline import ClockTick
from sendwatch.db import make_engine, migrate
from services.alerts import programme_documents as docs
from services.alerts import programme_views as views
from services.alerts.adapters.orm import AuditRow, OutboxRow
from services.alerts.service_layer.programme import ProgrammeContext, apply_programme
from tests.conftest import _pg_database
from tests.programme_helpers import ev, raid

CTX = ProgrammeContext(load_programme(), horizon_days=60)


@pytest.fixture(params=["sqlite", "postgres"])
def db(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[DbEngine]:
    if request.param == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('prog')}/alerts.db")
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


def tick(day: str) -> ClockTick:
    d = date.fromisoformat(day)
    raw = {
        "id": f"tick-test-{day}",
        "source": "clock",
        "type": "clock.tick",
        "subject": "clock:simulated",
        "time": datetime(d.year, d.month, d.day, 23, 59, tzinfo=UTC).isoformat(),
        "data": {},
    }
    parsed = load_events().parse(json.dumps(raw))
    assert isinstance(parsed, ClockTick)
    return parsed


def outbox(db: DbEngine) -> list[tuple[str, str, str]]:
    with Session(db) as s:
        rows = s.exec(select(OutboxRow).order_by(col(OutboxRow.id)))
        return [(json.loads(r.payload)["key"], r.notice, r.recipient) for r in rows]


def test_exception_to_overdue_to_recorded_once_each(db: DbEngine) -> None:
    first = [
        raid("raid-000101", "2026-12-14", milestones=["o03-q4"]),
        raid("raid-000101", "2026-12-18", status="off_track", milestones=["o03-q4"], raised=False),
    ]
    assert apply_programme(CTX, db, first).applied == 2
    assert apply_programme(CTX, db, first).applied == 0  # redelivered: nothing new
    sent = outbox(db)
    assert ("R1:raid-000101:o03-q4", "exception", "icb-send-sro@example.org") in sent
    assert ("R1:raid-000101:o03-q4", "exception", "ws3-ehcp-timeliness@example.org") in sent
    assert not [k for k, n, _ in sent if n == "overdue"]
    # 6 January 2027 is the tenth working day after 18 December; overdue on the 7th
    apply_programme(CTX, db, [tick("2027-01-06")])
    assert not [k for k, n, _ in outbox(db) if n == "overdue"]
    apply_programme(CTX, db, [tick("2027-01-07")])
    apply_programme(CTX, db, [tick("2027-01-07")])
    overdue = [(k, r) for k, n, r in outbox(db) if n == "overdue"]
    assert sorted(overdue) == [
        ("R1o:raid-000101:o03-q4", "icb-send-sro@example.org"),
        ("R1o:raid-000101:o03-q4", "pmo-lead@example.org"),
        ("R1o:raid-000101:o03-q4", "ws3-ehcp-timeliness@example.org"),
    ]
    apply_programme(
        CTX,
        db,
        [
            ev(
                "action.agreed",
                "action-000101",
                "2027-01-08",
                owner="ws3-lead",
                due="2027-02-26",
                raid="raid-000101",
                milestone="o03-q4",
                recovery=True,
            ),
            ev(
                "exception.recorded",
                "raid-000101",
                "2027-01-08",
                raid="raid-000101",
                milestone="o03-q4",
                options=["backfill"],
                recovery_actions=["action-000101"],
            ),
            ev(
                "decision.recorded",
                "decision-000101",
                "2027-01-12",
                forum="qag",
                date="2027-01-12",
                outcome="corrective_action",
                raid="raid-000101",
                pack="2027-01-12",
            ),
        ],
    )
    keys = [k for k, _, _ in outbox(db)]
    assert len(keys) == len(set(zip(keys, [r for _, _, r in outbox(db)], strict=True)))
    assert "R1r:raid-000101:o03-q4" in keys and "R2:2027-01-12" in keys
    with Session(db) as s:
        audit = [
            a.message for a in s.exec(select(AuditRow).where(AuditRow.kind == "programme_decision"))
        ]
    assert audit == ["corrective_action against the QAG pack of 2027-01-12"]

    # a past date is reproduced from the stored events: the report on 7 January
    past = views.document(
        db,
        "exception-report",
        date(2027, 1, 7),
        raid="raid-000101",
        milestone="o03-q4",
        today=date(2027, 1, 12),
    )
    md = docs.to_markdown(past)
    assert "| overdue | yes |" in md and "Not yet recorded." in md
    later = views.document(
        db,
        "exception-report",
        date(2027, 1, 12),
        raid="raid-000101",
        milestone="o03-q4",
        today=date(2027, 1, 12),
    )
    assert "| recorded | 2027-01-08 |" in docs.to_markdown(later)
    assert "| action-000101 | ws3-lead | 2027-02-26 | open |" in docs.to_markdown(later)
    html = docs.to_html(later)
    assert "<h2>Recovery plan</h2>" in html
    csv = docs.to_csv(later)
    assert "Options #1,option,backfill" in csv


def test_a_kpi_off_trajectory_threatens_the_milestones_that_move_it(db: DbEngine) -> None:
    """R1's third trigger: an R10 alert open on a KPI the milestone moves (here 20-week
    timeliness, moved by o03-q3); a past date sees the alerts open then."""
    from services.alerts.adapters.orm import AlertRow

    at = datetime(2026, 11, 5, 9, tzinfo=UTC)
    with Session(db) as s:
        s.add(
            AlertRow(
                id="a-r10-test",
                fingerprint="R10|ehcp_20wk|test",
                rule="R10",
                kind="deterioration",
                kpi="ehcp_20wk",
                cycle_kind="month",
                breakdown="all",
                title="t",
                status="resolved",
                episode=1,
                historical=False,
                opened_at=at,
                updated_at=at,
                resolved_at=datetime(2026, 12, 10, 9, tzinfo=UTC),
            )
        )
        s.commit()
    apply_programme(
        CTX,
        db,
        [
            raid(
                "raid-000301",
                "2026-10-01",
                kind="issue",
                owner="ws3-lead",
                dependency=None,
                milestones=["o03-q3"],
            ),
            tick("2026-11-06"),
        ],
    )
    assert ("R1:raid-000301:o03-q3", "exception", "ws3-lead@example.org") in outbox(db)
    view = views.overview(db, date(2026, 11, 30))
    assert view["kpis_off_trajectory"] == {"ehcp_20wk": date(2026, 11, 5)}
    assert [c["triggers"] for c in view["exceptions"]] == [["kpi_trajectory"]]
    assert views.overview(db, date(2026, 12, 15))["exceptions"] == []  # the alert resolved


def test_each_logged_event_is_parsed_once_however_many_batches_fold_it(
    db: DbEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every batch folds the whole programme log, but parses only the rows it has not
    parsed before (parsing the log each batch was half the alerts service's time)."""
    from contracts import events as registry_module

    registry = registry_module.load_events()
    calls: list[str] = []
    real = type(registry).parse_event

    def counting(self: object, body: str, **kw: object) -> object:
        calls.append(body)
        return real(self, body, **kw)  # type: ignore[arg-type]

    batches = [[raid(f"raid-{n:06d}", f"2026-05-{n + 1:02d}")] for n in range(5)]
    monkeypatch.setattr(type(registry), "parse_event", counting)
    for batch in batches:
        apply_programme(CTX, db, batch)
    assert len(calls) == len(batches), f"{len(calls)} parses for {len(batches)} events"
