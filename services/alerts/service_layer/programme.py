"""Programme delivery (R1-R4) in the alerts service: apply programme events and clock
ticks idempotently, keep the programme event log, decide the notices at the new event
time and queue them in the transactional outbox, all in one transaction.

"Now" is the latest programme event or clock tick seen on the programme topic (the
``programme`` clock).  Every notice has a stable key and the outbox inserts each
(notice, recipient) once, so a redelivered batch, a restart or a kill -9 between commit
and acknowledgement never sends a second mail.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from weakref import WeakKeyDictionary

from sqlalchemy.engine import Engine as DbEngine
from sqlmodel import Session, col, select

from contracts.escalation import Delivery
from contracts.events import load_events
from contracts.programme import Programme, mailbox
from contracts.programme_events import DecisionRecorded, ProgrammeEvent
from contracts.timeline import ClockTick
from sendwatch.inbox import claim_new
from services.alerts.adapters import repository as sql
from services.alerts.adapters.orm import AlertRow, AlertsInbox, ClockRow
from services.alerts.adapters.programme_orm import ProgrammeEventRow
from services.alerts.domain import delivery
from services.alerts.domain.model import AuditEntry, Notification
from services.alerts.domain.programme_rules import Notice, decide, pack_audit
from services.alerts.domain.programme_state import ProgrammeState, fold

CLOCK = "programme"
KPI_RULES = ("R10", "R11")

Item = ProgrammeEvent | ClockTick


@dataclass(frozen=True)
class ProgrammeContext:
    programme: Programme
    horizon_days: int = 14
    base_url: str = "http://127.0.0.1:8000"
    # each recipient's quiet hours and daily digest (escalation.yaml ``delivery``)
    delivery: Delivery = field(default_factory=Delivery)


@dataclass
class Applied:
    applied: int
    queued: int
    now: datetime | None


def is_programme_item(x: object) -> bool:
    return isinstance(x, ClockTick) or getattr(x, "type", "").startswith("programme.")


# Parsed programme events by database and id.  Each batch folds the whole log again (a
# late event can change what came after it), but a row of the log never changes once
# written (an id is applied once), so each is parsed once per process, not once per
# batch: parsing the log was half of the alerts service's time in a county-size soak.
_PARSED: WeakKeyDictionary[Any, dict[str, ProgrammeEvent]] = WeakKeyDictionary()
_PARSED_MAX = 200_000


def load_log(session: Session, until: datetime | None = None) -> list[ProgrammeEvent]:
    parsed = _PARSED.setdefault(session.get_bind(), {})
    order = select(ProgrammeEventRow.id, ProgrammeEventRow.time).order_by(
        col(ProgrammeEventRow.time), col(ProgrammeEventRow.id)
    )
    ids = [i for i, t in session.exec(order) if until is None or t <= until]
    missing = [i for i in ids if i not in parsed]
    if len(parsed) + len(missing) > _PARSED_MAX:
        parsed.clear()
        missing = ids
    registry = load_events()
    for start in range(0, len(missing), 500):
        chunk = missing[start : start + 500]
        bodies = select(ProgrammeEventRow.id, ProgrammeEventRow.body).where(
            col(ProgrammeEventRow.id).in_(chunk)
        )
        for i, body in session.exec(bodies):
            parsed[i] = registry.parse_event(body, privacy_checked=True)  # type: ignore[assignment]
    return [parsed[i] for i in ids]


def kpi_misses(session: Session, as_of: date) -> dict[str, date]:
    """KPIs with an R10/R11 alert open on ``as_of`` (off their trajectory or standard),
    from when: read from the alerts' own opened and resolved times, so a past date sees
    the alerts open then."""
    stmt = select(AlertRow.kpi, AlertRow.opened_at, AlertRow.resolved_at).where(
        col(AlertRow.rule).in_(KPI_RULES)
    )
    out: dict[str, date] = {}
    for kpi, opened, resolved in session.exec(stmt):
        d = opened.date()
        if d > as_of or (resolved is not None and resolved.date() <= as_of):
            continue
        out[kpi] = min(out.get(kpi, d), d)
    return out


def state_as_of(
    db: DbEngine, as_of: date
) -> tuple[ProgrammeState, dict[str, date], list[ProgrammeEvent]]:
    """The programme as of the end of ``as_of``, from the stored events alone."""
    with Session(db) as session:
        end = datetime(as_of.year, as_of.month, as_of.day, tzinfo=UTC) + timedelta(days=1)
        events = [e for e in load_log(session) if e.time < end]
        misses = kpi_misses(session, as_of)
    return fold(events, as_of), misses, events


def programme_now(db: DbEngine) -> datetime | None:
    with Session(db) as session:
        row = session.get(ClockRow, CLOCK)
        return row.now if row else None


def notification(ctx: ProgrammeContext, n: Notice, who: str, at: datetime) -> Notification:
    address = mailbox(ctx.programme, who)
    body = "\n".join(
        [
            *n.lines,
            "",
            f"Rule {n.rule} ({n.kind}), due {n.on}.",
            f"Programme view: {ctx.base_url}/programme",
            "",
            "sendwatch: programme delivery (Local SEND Reform Plan §11).",
        ]
    )
    # Quiet hours hold delivery, not the decision (a rule in ``digest_rules`` waits for
    # the recipient's digest hour); programme notices name no KPI, so none bypasses.
    until, why = delivery.hold(ctx.delivery, address=address, rule=n.rule, kpi="", body=None, at=at)
    return Notification(
        alert_id=n.id,
        episode=0,
        level=int(n.key.rsplit(":L", 1)[1]) if ":L" in n.key else 0,
        notice=n.kind[:16],  # type: ignore[arg-type]
        channel="email",
        recipient=address,
        subject=f"[sendwatch] {n.subject}",
        body=body,
        payload={"rule": n.rule, "kind": n.kind, "key": n.key, "on": n.on.isoformat(), "to": who},
        decided_at=at,
        hold_until=until,
        hold_reason=why,
    )


def apply_programme(ctx: ProgrammeContext, db: DbEngine, items: Sequence[Item]) -> Applied:
    """Apply a consumed batch of programme events and ticks (one transaction)."""
    with sql.WRITE_LOCK, Session(db) as session:
        fresh = claim_new(session, AlertsInbox, list(items))
        if not fresh:
            session.commit()
            return Applied(0, 0, None)
        clock = session.get(ClockRow, CLOCK)
        if clock is None:
            clock = ClockRow(key=CLOCK)
            session.add(clock)
        latest = max(x.time for x in fresh)
        now = max(clock.now, latest) if clock.now else latest
        clock.now = now
        events = [x for x in fresh if not isinstance(x, ClockTick)]
        for e in events:
            session.add(
                ProgrammeEventRow(
                    id=e.id,
                    type=e.type,
                    subject=e.subject,
                    time=e.time,
                    body=e.model_dump_json(),
                )
            )
        session.flush()
        st = fold(load_log(session), now.date())
        since = now.date() - timedelta(days=ctx.horizon_days)
        notices = decide(ctx.programme, st, kpi_misses(session, now.date()), since=since)
        outbox = [notification(ctx, n, who, now) for n in notices for who in n.to]
        recorded = sql.utcnow()
        audit = _audit(ctx, st, events, now)
        queued = sql.queue(session, outbox, recorded)
        sql.insert_audit(session, audit, recorded)
        session.commit()
        return Applied(len(fresh), sum(queued.values()), now)


def _audit(
    ctx: ProgrammeContext, st: ProgrammeState, events: list[ProgrammeEvent], now: datetime
) -> list[AuditEntry]:
    """R2: each decision recorded (against a pack or not) goes into the audit trail."""
    verdicts = dict(pack_audit(ctx.programme, st))
    out: list[AuditEntry] = []
    for e in events:
        if isinstance(e, DecisionRecorded):
            d = e.data
            detail: dict[str, Any] = json.loads(d.model_dump_json())
            out.append(
                AuditEntry(
                    alert_id=None,
                    episode=0,
                    at=e.time,
                    kind="programme_decision",
                    message=verdicts.get(e.subject, f"{d.outcome} by {d.forum} on {d.date}"),
                    actor=d.forum,
                    detail={"decision": e.subject, **detail},
                )
            )
    return out
