"""Open caseload: which EHC needs assessment cases are open.

A case opens when its request is received and closes at its first concluding event:
a decision not to assess, a withdrawal, a decision not to issue, the final plan, a
transfer out or a ceased plan.  The projection is order-independent (earliest dates
win), so events that arrive late or out of order give the same state.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict

from contracts.case_events import (
    AssessmentDecision,
    CaseEvent,
    DecisionToAssess,
    FinalPlanIssued,
    PlanCeased,
    RequestReceived,
    TransferredIn,
    TransferredOut,
)
from contracts.codes import AssessmentOutcome, RequestOutcome


class CaseRecord(BaseModel):
    model_config = ConfigDict(frozen=True)

    case_id: str
    person_id: str
    locality: str
    age_band: str
    phase: str
    primary_need: str | None = None
    attrs_time: datetime
    received_at: datetime | None = None
    closed_at: datetime | None = None
    closed_reason: str | None = None

    @property
    def is_open(self) -> bool:
        return self.received_at is not None and self.closed_at is None


def closing_reason(event: CaseEvent) -> str | None:
    """Why this event concludes the assessment, or None if it does not."""
    match event:
        case DecisionToAssess() if event.data.outcome is RequestOutcome.NOT_ASSESS:
            return "not_assessed"
        case DecisionToAssess() if event.data.outcome is RequestOutcome.WITHDRAWN:
            return "withdrawn"
        case AssessmentDecision() if event.data.outcome is AssessmentOutcome.NOT_ISSUE:
            return "not_issued"
        case AssessmentDecision() if event.data.outcome is AssessmentOutcome.WITHDRAWN:
            return "withdrawn"
        case FinalPlanIssued():
            return "plan_issued"
        case TransferredOut():
            return "transferred_out"
        case PlanCeased():
            return "ceased"
    return None


def opens_case(event: CaseEvent) -> bool:
    if isinstance(event, RequestReceived):
        return True
    # A transfer in during an assessment continues it here; a historical one does not.
    return isinstance(event, TransferredIn) and not event.data.historical


def _earliest(current: datetime | None, candidate: datetime) -> datetime:
    return candidate if current is None or candidate < current else current


def apply(record: CaseRecord | None, event: CaseEvent) -> CaseRecord:
    """Fold one event into the case's record."""
    d = event.data
    if record is None:
        record = CaseRecord(
            case_id=event.subject,
            person_id=d.person_id,
            locality=d.locality,
            age_band=d.age_band.value,
            phase=d.phase.value,
            primary_need=d.primary_need.value if d.primary_need else None,
            attrs_time=event.time,
        )
    changes: dict[str, object] = {}
    if event.time >= record.attrs_time:  # the latest event's attributes describe the case
        changes.update(
            person_id=d.person_id,
            locality=d.locality,
            age_band=d.age_band.value,
            phase=d.phase.value,
            primary_need=d.primary_need.value if d.primary_need else record.primary_need,
            attrs_time=event.time,
        )
    if opens_case(event):
        changes["received_at"] = _earliest(record.received_at, event.time)
    reason = closing_reason(event)
    if reason is not None and (record.closed_at is None or event.time < record.closed_at):
        changes["closed_at"] = event.time
        changes["closed_reason"] = reason
    return record.model_copy(update=changes) if changes else record


def open_caseload(records: list[CaseRecord]) -> int:
    return sum(1 for r in records if r.is_open)
