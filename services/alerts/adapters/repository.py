"""Alerts' unit of work: observations and the inbox in one transaction."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlmodel import Session

from contracts.snapshots import KpiSnapshot
from sendwatch.inbox import claim_new
from services.alerts.adapters.orm import AlertsInbox, KpiObservation
from services.alerts.domain.observations import latest_observations


def apply_snapshots(engine: Engine, snapshots: Sequence[KpiSnapshot]) -> int:
    with Session(engine) as session:
        fresh = claim_new(session, AlertsInbox, snapshots)
        if fresh:
            rows = {
                (r.kpi, r.cycle, r.breakdown): r
                for r in session.execute(select(KpiObservation)).scalars()
            }
            updates = latest_observations({k: r.sequence for k, r in rows.items()}, fresh)
            now = datetime.now(UTC)
            for (kpi, cycle, breakdown), (sequence, value) in updates.items():
                row = rows.get((kpi, cycle, breakdown))
                if row is None:
                    row = KpiObservation(
                        kpi=kpi, cycle=cycle, breakdown=breakdown, sequence=sequence, updated_at=now
                    )
                    session.add(row)
                row.sequence, row.value, row.updated_at = sequence, value, now
        session.commit()
        return len(fresh)


def observation(
    engine: Engine, kpi: str, cycle: str = "current", breakdown: str = "all"
) -> KpiObservation | None:
    with Session(engine) as session:
        return session.get(KpiObservation, (kpi, cycle, breakdown))
