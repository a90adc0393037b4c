"""Unit of work for the timeliness service: one transaction per consumed batch.

The inbox, the case records and the counters are written together, so a batch is
either wholly applied or not at all, and applying it again is a no-op.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.engine import Engine
from sqlmodel import Session

from contracts.case_events import CaseEvent
from sendwatch.inbox import claim_new
from services.timeliness.adapters.orm import CaseRow, TimelinessInbox, TimelinessState
from services.timeliness.domain.caseload import CaseRecord, apply

_STATE_KEY = "caseload"


_COLUMNS = (
    "case_id",
    "person_id",
    "locality",
    "age_band",
    "phase",
    "primary_need",
    "attrs_time",
    "received_at",
    "closed_at",
    "closed_reason",
)
_CASES = CaseRow.__table__  # type: ignore[attr-defined]


def _to_record(row: Any) -> CaseRecord:
    # Stored rows were validated on the way in; skip re-validation on the hot path.
    return CaseRecord.model_construct(**{c: getattr(row, c) for c in _COLUMNS})


def _to_params(rec: CaseRecord) -> dict[str, Any]:
    return {c: getattr(rec, c) for c in _COLUMNS}


@dataclass(frozen=True)
class CaseloadView:
    open_caseload: int
    cases: int
    events_applied: int
    sequence: int
    as_of: datetime | None


def apply_batch(engine: Engine, events: Sequence[CaseEvent]) -> int:
    """Apply a batch idempotently in one transaction; return how many events were new.

    Core (not ORM) statements: one SELECT per 900 cases, one multi-row INSERT for new
    cases and one executemany UPDATE for known ones.
    """
    with Session(engine) as session:
        fresh = claim_new(session, TimelinessInbox, events)
        if not fresh:
            session.commit()
            return 0
        subjects = sorted({ev.subject for ev in fresh})
        known: dict[str, CaseRecord] = {}
        for i in range(0, len(subjects), 900):
            rows = session.execute(
                select(_CASES).where(_CASES.c.case_id.in_(subjects[i : i + 900]))
            )
            known.update({r.case_id: _to_record(r) for r in rows})
        records = dict(known)
        for ev in fresh:
            records[ev.subject] = apply(records.get(ev.subject), ev)
        new_rows = [_to_params(r) for cid, r in records.items() if cid not in known]
        changed = [
            {**_to_params(r), "b_case_id": cid}
            for cid, r in records.items()
            if cid in known and r != known[cid]
        ]
        if new_rows:
            session.execute(insert(_CASES), new_rows)
        if changed:
            stmt = (
                update(_CASES)
                .where(_CASES.c.case_id == bindparam("b_case_id"))
                .values({c: bindparam(c) for c in _COLUMNS if c != "case_id"})
            )
            session.execute(stmt, changed)
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
