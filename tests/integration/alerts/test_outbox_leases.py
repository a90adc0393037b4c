"""Outbox claims with a lease, on SQLite and PostgreSQL: two relays on one database send
each row once; a relay whose lease ran out (its process was killed) is taken over and
may not send; each recipient's mail goes in order; held rows wait; an unreachable mail
server holds the mail, which goes afterwards once each, in order.  Real SMTP (the mail
sink), real databases."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import delete, text, update
from sqlalchemy.engine import Engine as DbEngine
from sqlmodel import Session, select

from cli.mailsink import MailSink
from cli.tansu import free_port
from sendwatch.db import make_engine, migrate
from services.alerts.adapters import orm, outbox
from services.alerts.adapters.links import Signer
from services.alerts.adapters.notify import Relay, SmtpSettings
from services.alerts.adapters.repository import OUTBOX, WRITE_LOCK, queue
from services.alerts.domain.model import Notification
from tests.conftest import _pg_database

NOW = datetime(2026, 7, 1, 9, 0, tzinfo=UTC)


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def database(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[DbEngine]:
    if request.param == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('leases')}/alerts.db")
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
    with database.begin() as c:
        if database.dialect.name == "postgresql":
            c.execute(text("TRUNCATE alerts_outbox, alerts_audit, alerts_clock RESTART IDENTITY"))
        else:
            for table in (orm.OutboxRow, orm.AuditRow, orm.ClockRow):
                c.execute(delete(table))
    return database


def notes(n: int, recipients: tuple[str, ...] = ("a@example.org",)) -> list[Notification]:
    return [
        Notification(
            alert_id=f"A{i:04d}",
            episode=1,
            level=1,
            notice="alert",
            channel="email",
            recipient=recipients[i % len(recipients)],
            subject=f"[sendwatch R11] message {i}",
            body=f"body {i}",
            payload={"rule": "R11", "n": i},
            decided_at=NOW,
        )
        for i in range(n)
    ]


def put(db: DbEngine, items: list[Notification]) -> None:
    with Session(db) as s:
        queue(s, items, datetime.now(UTC))
        s.commit()


def rows(db: DbEngine) -> list[orm.OutboxRow]:
    with Session(db) as s:
        return list(s.exec(select(orm.OutboxRow).order_by(orm.OutboxRow.id)))  # type: ignore[arg-type]


def relay(
    db: DbEngine, port: int, owner: str, lease_s: float = 30.0, signer: Signer | None = None
) -> Relay:
    smtp = SmtpSettings("127.0.0.1", port, "none", None, None, "sendwatch@example.org", 5.0)
    return Relay(
        db,
        smtp,
        retry_base_s=0.2,
        retry_max_s=0.5,
        lease_s=lease_s,
        owner=owner,
        signer=signer,
    )


def test_a_claimed_row_is_not_claimed_again_until_its_lease_runs_out(db: DbEngine) -> None:
    put(db, notes(6, ("a@example.org", "b@example.org", "c@example.org")))
    first = outbox.claim(db, "relay-a", ["email"], lease_s=0.6, limit=4)
    assert [r.id for r in first] == [1, 2, 3, 4]
    second = outbox.claim(db, "relay-b", ["email"], lease_s=0.6)
    # 5 and 6 go to a and b, whose earlier rows relay-a holds: they wait, in order.
    assert second == []
    time.sleep(0.8)  # relay-a was killed: its lease runs out
    taken = outbox.claim(db, "relay-b", ["email"], lease_s=30)
    assert [r.id for r in taken] == [1, 2, 3, 4, 5, 6]
    # relay-a comes back to life: its rows are no longer its own, it must not send them
    assert outbox.renew(db, "relay-a", [1, 2, 3, 4]) == set()
    outbox.mark_delivered(db, first[0], "retry", "late", datetime.now(UTC), owner="relay-a")
    assert rows(db)[0].attempts == 0 and rows(db)[0].claimed_by == "relay-b"
    assert outbox.renew(db, "relay-b", [1, 2]) == {1, 2}


def test_a_recipient_waiting_for_a_retry_holds_up_only_their_own_later_mail(
    db: DbEngine,
) -> None:
    put(db, notes(4, ("a@example.org", "b@example.org")))  # 1 a, 2 b, 3 a, 4 b
    with db.begin() as c:
        c.execute(
            update(OUTBOX)
            .where(OUTBOX.c.id == 1)
            .values(next_attempt_at=datetime.now(UTC) + timedelta(minutes=5))
        )
    assert [r.id for r in outbox.claim(db, "relay-a", ["email"])] == [2, 4]


def test_held_rows_wait_for_event_time_and_do_not_hold_up_others(db: DbEngine) -> None:
    put(db, notes(2))
    with db.begin() as c:
        c.execute(
            update(OUTBOX)
            .where(OUTBOX.c.id == 1)
            .values(hold_until=NOW + timedelta(hours=10), hold_reason="quiet_hours")
        )
        c.execute(orm.ClockRow.__table__.insert().values(key="clock", now=NOW))  # type: ignore[attr-defined]
    assert [r.id for r in outbox.claim(db, "relay-a", ["email"], lease_s=0.01)] == [2]
    with db.begin() as c:
        c.execute(
            orm.ClockRow.__table__.update().values(now=NOW + timedelta(hours=10))  # type: ignore[attr-defined]
        )
    time.sleep(0.05)
    assert [r.id for r in outbox.claim(db, "relay-a", ["email"])] == [1, 2]


def test_two_relays_on_one_database_send_every_row_exactly_once(db: DbEngine) -> None:
    put(db, notes(40, tuple(f"r{i}@example.org" for i in range(40))))
    with MailSink() as sink:
        a, b = relay(db, sink.port, "relay-a"), relay(db, sink.port, "relay-b")

        async def both() -> None:
            for _ in range(40):
                done = await asyncio.gather(a.deliver_due(), b.deliver_due())
                if not any(done):
                    return

        asyncio.run(both())
        ids = [m["Message-ID"] for m in sink.messages]
        relays = {m["X-Sendwatch-Relay"] for m in sink.messages}
    assert len(ids) == 40 and len(set(ids)) == 40  # none missing, none twice
    assert relays == {"relay-a", "relay-b"}  # both took part
    assert {r.status for r in rows(db)} == {"sent"}
    assert all(r.claimed_by is None and r.attempts == 1 for r in rows(db))


def test_an_smtp_outage_holds_the_mail_which_goes_afterwards_once_each_in_order(
    db: DbEngine,
) -> None:
    """The outage lasts OUTAGE_S here (a parameter: a ten-minute outage behaves the same,
    with the back-off capped at SENDWATCH_NOTIFY_RETRY_MAX_S)."""
    outage_s = 1.5
    put(db, notes(12, ("a@example.org", "b@example.org", "c@example.org")))
    port = free_port()  # nothing listens: connection refused
    r = relay(db, port, "relay-a")
    tries: list[int] = []

    async def run(until: float) -> None:
        while time.monotonic() < until:
            tries.append(await r.deliver_due())
            await asyncio.sleep(0.05)

    asyncio.run(run(time.monotonic() + outage_s))
    box = rows(db)
    assert {x.status for x in box} == {"pending"}
    # one attempt per back-off period on the first row only, not one per row
    assert box[0].attempts >= 2 and all(x.attempts == 0 for x in box[1:])
    assert sum(tries) == box[0].attempts
    with MailSink(port=port) as sink:
        asyncio.run(run(time.monotonic() + 2.0))
        got = [m["Subject"] for m in sink.messages]
    assert got == [f"[sendwatch R11] message {i}" for i in range(12)]  # once each, in order
    with Session(db) as s:
        kinds = [a.kind for a in s.exec(select(orm.AuditRow))]
    assert kinds.count("notification_sent") == 12
    assert kinds.count("notification_retry") == box[0].attempts


@pytest.mark.parametrize("database", ["postgres"], indirect=True)
def test_claims_skip_rows_locked_by_another_transaction(db: DbEngine) -> None:
    """FOR UPDATE SKIP LOCKED: a row another transaction holds is skipped, not waited for."""
    put(db, notes(3, ("a@example.org", "b@example.org", "c@example.org")))
    with db.connect() as other:
        other.execute(text("BEGIN"))
        other.execute(text("SELECT id FROM alerts_outbox WHERE id = 1 FOR UPDATE"))
        started = time.monotonic()
        got = [r.id for r in outbox.claim(db, "relay-a", ["email"])]
        assert time.monotonic() - started < 2
        other.execute(text("ROLLBACK"))
    assert got == [2, 3]


def test_a_days_milestone_slips_wait_for_the_digest_hour_and_go_as_one_mail(
    db: DbEngine,
) -> None:
    """Held rows (quiet hours, digest) go when the service's event time reaches their
    hour; fifteen slips for one recipient (more than a relay claims at once) are one
    daily digest."""
    eight = datetime(2026, 7, 2, 7, 0, tzinfo=UTC)  # 08:00 BST
    slips = [
        replace(
            n,
            recipient="ws3@example.org",
            payload={"rule": "MS1"},
            subject=f"[sendwatch MS1] Milestone slipped: case {i}",
            hold_until=eight,
            hold_reason="digest",
        )
        for i, n in enumerate(notes(15))
    ]
    night = replace(notes(1)[0], alert_id="B0001", hold_until=eight, hold_reason="quiet_hours")
    put(db, [*slips, night])
    clock = orm.ClockRow.__table__  # type: ignore[attr-defined]
    alert = orm.AlertRow.__table__  # type: ignore[attr-defined]
    with db.begin() as c:
        c.execute(clock.insert().values(key="clock", now=eight - timedelta(hours=9)))
        c.execute(delete(orm.AlertRow))
        for n in slips[:2]:  # two of the slips are open alerts: their links go too
            c.execute(
                alert.insert().values(
                    id=n.alert_id,
                    fingerprint=f"fp-{n.alert_id}",
                    rule="MS1",
                    kind="milestone",
                    kpi="decision_6wk",
                    cycle_kind="day",
                    breakdown="all",
                    title="Milestone slipped",
                    status="open",
                    episode=1,
                    historical=False,
                    opened_at=NOW,
                    updated_at=NOW,
                    level=1,
                    level_muted=False,
                )
            )
    with MailSink() as sink:
        r = relay(db, sink.port, "relay-a", signer=Signer("k", base_url="http://alerts.test"))
        assert asyncio.run(r.deliver_due()) == 0  # 23:00 the evening before: all held
        with db.begin() as c:
            c.execute(clock.update().values(now=eight))
        asyncio.run(r.deliver_due())
        asyncio.run(r.deliver_due())
        got = sink.messages
    assert len(got) == 2
    digest = [m for m in got if m["To"] == "ws3@example.org"][0]
    assert str(digest["Subject"]).strip() == (
        "[sendwatch MS1] Daily digest: 15 statutory milestones slipped"
    )
    assert all(f"case {i}" in digest.get_content() for i in range(15))
    assert digest.get_content().count("Acknowledge it: http://alerts.test/mail/") == 2
    assert {x.status for x in rows(db)} == {"sent"}


def test_a_mail_is_recorded_as_sent_before_a_busy_database_is_waited_for(
    db: DbEngine,
) -> None:
    """Another writer (the consumer applying a long batch) holds the database while a
    relay is about to send.  The relay waits for it before handing the mail over, and
    records the row as sent in the same step as the server's 250: there is no moment
    at which the server has the mail and the outbox still says pending (a SIGKILL then
    sent it twice after the restart: the soak's duplicate digest)."""
    put(db, notes(1))
    held, release = threading.Event(), threading.Event()

    def busy_writer() -> None:
        with WRITE_LOCK:
            held.set()
            release.wait(10)

    with MailSink() as sink:
        r = relay(db, sink.port, "relay-a")
        links = r._links

        def then_busy(row: orm.OutboxRow) -> str:  # after the lease renewal, before sending
            threading.Thread(target=busy_writer, daemon=True).start()
            held.wait(5)
            return links(row)

        r._links = then_busy  # type: ignore[method-assign]
        sender = threading.Thread(target=lambda: asyncio.run(r.deliver_due()), daemon=True)
        sender.start()
        time.sleep(1.0)
        with Session(db) as s:  # reading does not need the writer
            status = s.exec(select(orm.OutboxRow.status)).one()
        in_sink = len(sink.messages)
        release.set()
        sender.join(10)
        assert not (in_sink and status == "pending"), (
            "accepted, not recorded: a crash sends it twice"
        )
        assert in_sink == 0  # it waited for the database before handing the mail over
        assert len(sink.messages) == 1 and [x.status for x in rows(db)] == ["sent"]
