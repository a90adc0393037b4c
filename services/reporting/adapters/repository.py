"""Reporting's unit of work: snapshot revisions and the inbox in one transaction."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlmodel import Session

from contracts.snapshots import KpiSnapshot
from sendwatch.inbox import claim_new
from services.reporting.adapters.orm import KpiRevision, ProducerState, ReportingInbox
from services.reporting.domain.revisions import Key, Stored, key_of, new_revisions


def _latest(session: Session) -> dict[Key, tuple[KpiRevision]]:
    newest = (
        select(
            KpiRevision.kpi,
            KpiRevision.cycle,
            KpiRevision.breakdown,
            func.max(KpiRevision.revision).label("rev"),
        )
        .group_by(KpiRevision.kpi, KpiRevision.cycle, KpiRevision.breakdown)
        .subquery()
    )
    rows = session.execute(
        select(KpiRevision).join(
            newest,
            (KpiRevision.kpi == newest.c.kpi)
            & (KpiRevision.cycle == newest.c.cycle)
            & (KpiRevision.breakdown == newest.c.breakdown)
            & (KpiRevision.revision == newest.c.rev),
        )
    ).scalars()
    return {(r.kpi, r.cycle, r.breakdown): r for r in rows}  # type: ignore[misc]


def _stored(r: KpiRevision) -> Stored:
    closed, upstream = False, 0
    if r.detail:
        d = json.loads(r.detail)
        closed, upstream = bool(d.get("closed")), int(d.get("revision", 0))
    return Stored(r.sequence, r.value, r.numerator, r.denominator, closed, upstream)


def apply_snapshots(engine: Engine, snapshots: Sequence[KpiSnapshot]) -> int:
    with Session(engine) as session:
        fresh = claim_new(session, ReportingInbox, snapshots)
        if fresh:
            latest = _latest(session)
            now = datetime.now(UTC)
            for snap in sorted(fresh, key=lambda s: s.data.sequence):
                stored = {k: _stored(r) for k, r in latest.items()}
                for v in new_revisions(stored, snap):
                    prev = latest.get(key_of(v))
                    row = KpiRevision(
                        kpi=v.kpi,
                        cycle=v.cycle,
                        breakdown=v.breakdown,
                        revision=(prev.revision + 1) if prev else 1,
                        sequence=snap.data.sequence,
                        value=v.value,
                        numerator=v.numerator,
                        denominator=v.denominator,
                        as_of=snap.data.as_of,
                        received_at=now,
                        detail=v.model_dump_json(),
                    )
                    session.add(row)
                    latest[key_of(v)] = row
            for snap in fresh:
                _record_producer(session, snap)
        session.commit()
        return len(fresh)


def _record_producer(session: Session, snap: KpiSnapshot) -> None:
    row = session.get(ProducerState, snap.data.producer)
    if row is None:
        row = ProducerState(producer=snap.data.producer, sequence=-1, events_applied=0)
        session.add(row)
    if snap.data.sequence >= row.sequence:
        row.sequence = snap.data.sequence
        row.events_applied = snap.data.events_applied
        row.as_of = snap.data.as_of
        row.watermark = snap.data.watermark


def producer_state(engine: Engine, producer: str) -> ProducerState | None:
    with Session(engine) as session:
        return session.get(ProducerState, producer)


def current_kpis(engine: Engine) -> list[KpiRevision]:
    with Session(engine) as session:
        rows = list(_latest(session).values())
        return sorted(rows, key=lambda r: (r.kpi, r.cycle, r.breakdown))
