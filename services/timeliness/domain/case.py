"""The state of one EHC needs assessment case, folded from its events.

Every field is "earliest date wins" (or a set), so the fold is commutative and
idempotent: events that arrive late, out of order or twice give the same state.  The
first decision stands, as in SEN2 (an N later overturned stays N; the mediation and
tribunal flags record the overturn).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime

from pydantic import BaseModel, ConfigDict

from contracts.case_events import CaseEvent
from contracts.cycles import LONDON, local_date
from contracts.events import Observation, Scalar, load_events
from services.timeliness.domain.subjects import SubjectState

__all__ = ["LONDON", "CaseState", "apply", "from_subject", "local_date"]


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


def _fact_changes(
    state: CaseState, etype: str, day: date, fields: Mapping[str, Scalar]
) -> dict[str, object]:
    """What one fact changes in the case (earliest date wins; the first decision stands)."""
    changes: dict[str, object] = {}
    if etype == "ehc.request.received":
        changes["received"] = _min(state.received, day)
        if fields.get("historical"):
            changes["historical"] = True
    elif etype == "ehc.case.transferred-in":
        if fields.get("historical", True):
            changes["historical"] = True
        else:  # an assessment continued here: its clock starts on transfer
            changes["received"] = _min(state.received, day)
    elif etype == "ehc.assessment.decision-to-assess":
        dd, oo = _earlier_decision(
            state.decision_to_assess, state.decision_outcome, day, str(fields["outcome"])
        )
        changes.update(decision_to_assess=dd, decision_outcome=oo)
    elif etype in ("ehc.advice.requested", "ehc.advice.received"):
        giver = str(fields["advice_giver"])
        name = "advice_requested" if etype == "ehc.advice.requested" else "advice_received"
        table: dict[str, date] = getattr(state, name)
        changes[name] = {**table, giver: _min(table.get(giver), day)}
    elif etype == "ehc.exception.started":
        changes["exception_starts"] = state.exception_starts | {(str(fields["reason"]), day)}
    elif etype == "ehc.exception.ended":
        changes["exception_ends"] = state.exception_ends | {(str(fields["reason"]), day)}
    elif etype == "ehc.plan.draft-issued":
        changes["draft_issued"] = _min(state.draft_issued, day)
    elif etype == "ehc.assessment.decision":
        dd, oo = _earlier_decision(
            state.assessment_decision, state.assessment_outcome, day, str(fields["outcome"])
        )
        changes.update(assessment_decision=dd, assessment_outcome=oo)
    elif etype == "ehc.plan.final-issued":
        changes["final_issued"] = _min(state.final_issued, day)
    elif etype == "ehc.plan.ceased":
        changes["ceased"] = _min(state.ceased, day)
    elif etype == "ehc.case.transferred-out":
        changes["transferred_out"] = _min(state.transferred_out, day)
    return changes


def apply_observation(state: CaseState | None, obs: Observation) -> CaseState:
    """Fold one event, as the registry observes it, into the case state."""
    if state is None:
        state = CaseState(
            case_id=obs.subject,
            attrs_time=obs.time,
            **obs.attrs,
            attr_times={k: obs.time for k in obs.attrs},
        )
    changes: dict[str, object] = {}
    # Each attribute takes the value of the latest event that carries one (ties: the
    # smallest value), so the result does not depend on arrival order.
    times = dict(state.attr_times)
    for key, value in obs.attrs.items():
        seen = times.get(key)
        current = getattr(state, key)
        if (
            seen is None
            or obs.time > seen
            or (obs.time == seen and (current is None or str(value) < str(current)))
        ):
            times[key] = obs.time
            changes[key] = value
    if changes:
        changes["attr_times"] = times
    if obs.time > state.attrs_time:
        changes["attrs_time"] = obs.time
    changes.update(_fact_changes(state, obs.type, local_date(obs.time), obs.fields))
    return state.model_copy(update=changes) if changes else state


def apply(state: CaseState | None, event: CaseEvent) -> CaseState:
    """Fold one event into the case state (commutative and idempotent)."""
    return apply_observation(state, load_events().observe(event))


def from_subject(s: SubjectState) -> CaseState:
    """The case state of an EHC needs assessment subject: the same as folding its events
    with :func:`apply` (DfE's exports and the SEN2 vocabulary read it)."""
    assert s.last_time is not None, "a subject has at least one event"
    state = CaseState(
        case_id=s.subject,
        attrs_time=s.last_time,
        **s.attrs,
        attr_times=dict(s.attr_times),
    )
    for f in s.facts:
        changes = _fact_changes(state, f.type, f.day, f.fields)
        if changes:
            state = state.model_copy(update=changes)
    return state
