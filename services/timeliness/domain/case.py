"""The state of one EHC needs assessment case, folded from its events.

Every field is "earliest date wins" (or a set), so the fold is commutative and
idempotent: events that arrive late, out of order or twice give the same state.  The
first decision stands, as in SEN2 (an N later overturned stays N; the mediation and
tribunal flags record the overturn).
"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict

from contracts.case_events import (
    AdviceReceived,
    AdviceRequested,
    AssessmentDecision,
    CaseEvent,
    DecisionToAssess,
    DraftPlanIssued,
    ExceptionEnded,
    ExceptionStarted,
    FinalPlanIssued,
    PlanCeased,
    RequestReceived,
    TransferredIn,
    TransferredOut,
)

LONDON = ZoneInfo("Europe/London")


def local_date(t: datetime) -> date:
    """Statutory days are English calendar days."""
    return t.astimezone(LONDON).date()


class CaseState(BaseModel):
    model_config = ConfigDict(frozen=True)

    case_id: str
    person_id: str
    locality: str
    age_band: str
    phase: str
    primary_need: str | None = None
    setting_type: str | None = None
    sex: str | None = None
    ethnicity: str | None = None
    attrs_time: datetime
    attr_times: dict[str, datetime] = {}

    received: date | None = None
    historical: bool = False
    decision_to_assess: date | None = None
    decision_outcome: str | None = None
    advice_requested: dict[str, date] = {}
    advice_received: dict[str, date] = {}
    exception_starts: frozenset[tuple[str, date]] = frozenset()
    exception_ends: frozenset[tuple[str, date]] = frozenset()
    draft_issued: date | None = None
    assessment_decision: date | None = None
    assessment_outcome: str | None = None
    final_issued: date | None = None
    ceased: date | None = None
    transferred_out: date | None = None

    # --- derived -------------------------------------------------------------
    @property
    def has_exception(self) -> bool:
        return bool(self.exception_starts)

    @property
    def assess_decision(self) -> date | None:
        """The council's decision whether to assess (Y or N); a withdrawal is not one."""
        return self.decision_to_assess if self.decision_outcome in ("Y", "N") else None

    @property
    def not_issue_decision(self) -> date | None:
        return self.assessment_decision if self.assessment_outcome == "N" else None

    @property
    def closed_on(self) -> date | None:
        """The date the assessment concluded, if it has."""
        candidates = [
            self.decision_to_assess if self.decision_outcome in ("N", "W") else None,
            self.assessment_decision if self.assessment_outcome in ("N", "W") else None,
            self.final_issued,
            self.transferred_out,
            self.ceased,
        ]
        dates = [d for d in candidates if d is not None]
        return min(dates) if dates else None

    @property
    def closed_reason(self) -> str | None:
        closed = self.closed_on
        if closed is None:
            return None
        if self.final_issued == closed:
            return "plan_issued"
        if self.decision_to_assess == closed and self.decision_outcome == "N":
            return "not_assessed"
        if self.assessment_decision == closed and self.assessment_outcome == "N":
            return "not_issued"
        if self.transferred_out == closed:
            return "transferred_out"
        if self.ceased == closed:
            return "ceased"
        return "withdrawn"

    @property
    def is_open(self) -> bool:
        return not self.historical and self.received is not None and self.closed_on is None

    def open_on(self, day: date) -> bool:
        """Open at the end of ``day``."""
        if self.historical or self.received is None or self.received > day:
            return False
        closed = self.closed_on
        return closed is None or closed > day

    def day_of(self, day: date) -> int | None:
        """Elapsed days since the request (the request date is day 0 of elapsed time;
        DfE counts (issue date - received date) <= 140 as within 20 weeks)."""
        return None if self.received is None else (day - self.received).days

    def date_of(self, field: str) -> date | None:
        """A milestone date by dictionary name, e.g. ``advice_received:health``."""
        if ":" in field:
            name, giver = field.split(":", 1)
            table = self.advice_requested if name == "advice_requested" else self.advice_received
            return table.get(giver)
        value = getattr(self, field)
        return value if isinstance(value, date) else None


def _min(current: date | None, candidate: date) -> date:
    return candidate if current is None or candidate < current else current


def _earlier_decision(
    cur_date: date | None, cur_outcome: str | None, new_date: date, new_outcome: str
) -> tuple[date, str]:
    if (
        cur_date is None
        or new_date < cur_date
        or (new_date == cur_date and cur_outcome is not None and new_outcome < cur_outcome)
    ):
        return new_date, new_outcome
    return cur_date, cur_outcome or new_outcome


def apply(state: CaseState | None, event: CaseEvent) -> CaseState:
    """Fold one event into the case state (commutative and idempotent)."""
    d = event.data
    attrs = {
        "person_id": d.person_id,
        "locality": d.locality,
        "age_band": d.age_band.value,
        "phase": d.phase.value,
        "primary_need": d.primary_need.value if d.primary_need else None,
        "setting_type": d.setting_type.value if d.setting_type else None,
        "sex": d.sex.value if d.sex else None,
        "ethnicity": d.ethnicity,
    }
    if event.type == "ehc.need.recorded" and event.data.rank == 1:
        attrs["primary_need"] = event.data.sen_type.value
    if state is None:
        state = CaseState(
            case_id=event.subject,
            attrs_time=event.time,
            **{k: v for k, v in attrs.items() if v is not None},
            attr_times={k: event.time for k, v in attrs.items() if v is not None},
        )
    changes: dict[str, object] = {}
    # Each attribute takes the value of the latest event that carries one (ties: the
    # smallest value), so the result does not depend on arrival order.
    times = dict(state.attr_times)
    for key, value in attrs.items():
        if value is None:
            continue
        seen = times.get(key)
        current = getattr(state, key)
        if (
            seen is None
            or event.time > seen
            or (event.time == seen and (current is None or str(value) < str(current)))
        ):
            times[key] = event.time
            changes[key] = value
    if changes:
        changes["attr_times"] = times
    if event.time > state.attrs_time:
        changes["attrs_time"] = event.time
    day = local_date(event.time)
    match event:
        case RequestReceived():
            changes["received"] = _min(state.received, day)
            if d.historical:  # type: ignore[union-attr]
                changes["historical"] = True
        case TransferredIn():
            if d.historical:  # type: ignore[union-attr]
                changes["historical"] = True
            else:  # an assessment continued here: its clock starts on transfer
                changes["received"] = _min(state.received, day)
        case DecisionToAssess():
            dd, oo = _earlier_decision(
                state.decision_to_assess, state.decision_outcome, day, event.data.outcome.value
            )
            changes.update(decision_to_assess=dd, decision_outcome=oo)
        case AdviceRequested():
            giver = event.data.advice_giver.value
            current = state.advice_requested.get(giver)
            changes["advice_requested"] = {**state.advice_requested, giver: _min(current, day)}
        case AdviceReceived():
            giver = event.data.advice_giver.value
            current = state.advice_received.get(giver)
            changes["advice_received"] = {**state.advice_received, giver: _min(current, day)}
        case ExceptionStarted():
            changes["exception_starts"] = state.exception_starts | {(event.data.reason.value, day)}
        case ExceptionEnded():
            changes["exception_ends"] = state.exception_ends | {(event.data.reason.value, day)}
        case DraftPlanIssued():
            changes["draft_issued"] = _min(state.draft_issued, day)
        case AssessmentDecision():
            dd, oo = _earlier_decision(
                state.assessment_decision, state.assessment_outcome, day, event.data.outcome.value
            )
            changes.update(assessment_decision=dd, assessment_outcome=oo)
        case FinalPlanIssued():
            changes["final_issued"] = _min(state.final_issued, day)
        case PlanCeased():
            changes["ceased"] = _min(state.ceased, day)
        case TransferredOut():
            changes["transferred_out"] = _min(state.transferred_out, day)
    return state.model_copy(update=changes) if changes else state
