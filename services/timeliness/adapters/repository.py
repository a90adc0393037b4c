"""Unit of work for the timeliness service: one transaction per consumed batch.

The inbox, the case records and the counters are written together, so a batch is
either wholly applied or not at all, and applying it again is a no-op.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlmodel import Session

from contracts.case_events import CaseEvent
from sendwatch.inbox import claim_new
from services.timeliness.adapters.orm import CaseRow, TimelinessInbox, TimelinessState
from services.timeliness.domain.caseload import CaseRecord, apply

_STATE_KEY = "caseload"


def _to_record(row: CaseRow) -> CaseRecord:
    return CaseRecord(
        case_id=row.case_id,
        person_id=row.person_id,
        locality=row.locality,
        age_band=row.age_band,
        phase=row.phase,
        primary_need=row.primary_need,
        attrs_time=row.attrs_time,
        received_at=row.received_at,
        closed_at=row.closed_at,
        closed_reason=row.closed_reason,
    )


def _write(row: CaseRow, rec: CaseRecord) -> None:
    row.person_id = rec.person_id
    row.locality = rec.locality
    row.age_band = rec.age_band
    row.phase = rec.phase
    row.primary_need = rec.primary_need
    row.attrs_time = rec.attrs_time
    row.received_at = rec.received_at
    row.closed_at = rec.closed_at
    row.closed_reason = rec.closed_reason


@dataclass(frozen=True)
class CaseloadView:
    open_caseload: int
    cases: int
    events_applied: int
    sequence: int
    as_of: datetime | None


def apply_batch(engine: Engine, events: Sequence[CaseEvent]) -> int:
    """Apply a batch idempotently; return how many events were new."""
    with Session(engine) as session:
        fresh = claim_new(session, TimelinessInbox, events)
        if not fresh:
            session.commit()
            return 0
        subjects = sorted({ev.subject for ev in fresh})
        rows: dict[str, CaseRow] = {}
        for i in range(0, len(subjects), 900):
            found = session.execute(
                select(CaseRow).where(CaseRow.case_id.in_(subjects[i : i + 900]))  # type: ignore[attr-defined]
            ).scalars()
            rows.update({r.case_id: r for r in found})
        records: dict[str, CaseRecord] = {cid: _to_record(r) for cid, r in rows.items()}
        for ev in fresh:
            records[ev.subject] = apply(records.get(ev.subject), ev)
        for cid, rec in records.items():
            row = rows.get(cid)
            if row is None:
                row = CaseRow(
                    case_id=cid,
                    person_id=rec.person_id,
                    locality=rec.locality,
                    age_band=rec.age_band,
                    phase=rec.phase,
                    attrs_time=rec.attrs_time,
                )
                session.add(row)
            _write(row, rec)
        state = session.get(TimelinessState, _STATE_KEY, with_for_update=True)
        if state is None:
            state = TimelinessState(key=_STATE_KEY)
            session.add(state)
        state.sequence += 1
        state.events_applied += len(fresh)
        latest = max(ev.time for ev in fresh)
        if state.as_of is None or latest > state.as_of:
            state.as_of = latest
        session.commit()
        return len(fresh)


def read_caseload(engine: Engine) -> CaseloadView:
    with Session(engine) as session:
        open_count = session.execute(
            select(func.count())
            .select_from(CaseRow)
            .where(
                CaseRow.received_at.is_not(None),  # type: ignore[union-attr]
                CaseRow.closed_at.is_(None),  # type: ignore[union-attr]
            )
        ).scalar_one()
        total = session.execute(select(func.count()).select_from(CaseRow)).scalar_one()
        state = session.get(TimelinessState, _STATE_KEY)
        return CaseloadView(
            open_caseload=open_count,
            cases=total,
            events_applied=state.events_applied if state else 0,
            sequence=state.sequence if state else 0,
            as_of=state.as_of if state else None,
        )
