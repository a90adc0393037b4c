"""Programme delivery events (Reform Plan §11, R1-R4): milestone status, the RAID and
dependency log, actions and decisions.

Subjects are item ids, never names: ``milestone:<id>`` (an id in programme.yaml),
``raid-<digits>``, ``action-<digits>``, ``decision-<digits>``.  Owners are role ids from
programme.yaml's ``owners``, forums its forum ids.  There is no free text: a status
carries a reason code and, at most, a short reference (a document or minute number),
which the privacy guard scans like every other string.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field
from pydantic_core import PydanticCustomError

from contracts.envelope import Envelope, StrictModel
from contracts.events import EventSpec, spec_of
from contracts.plausibility import PlausibleDate
from contracts.programme import load_programme

TOPIC = "programme-events"
KIND = "programme"


def _known(section: str) -> Any:
    def check(value: str) -> str:
        if value not in getattr(load_programme(), section):
            raise PydanticCustomError(
                "unknown_reference", f"not one of the {section} in contracts/programme.yaml", {}
            )
        return value

    return check


MilestoneRef = Annotated[str, Field(pattern=r"^o\d{2}-q\d$"), AfterValidator(_known("milestones"))]
OwnerRef = Annotated[
    str, Field(pattern=r"^[a-z][a-z0-9-]{1,40}$"), AfterValidator(_known("owners"))
]
ForumRef = Annotated[
    str, Field(pattern=r"^[a-z][a-z0-9-]{1,40}$"), AfterValidator(_known("forums"))
]
DependencyRef = Annotated[
    str, Field(pattern=r"^d-[a-z0-9-]{1,40}$"), AfterValidator(_known("dependencies"))
]
RaidRef = Annotated[str, Field(pattern=r"^raid-\d{1,12}$")]
ActionRef = Annotated[str, Field(pattern=r"^action-\d{1,12}$")]


def _reference(value: str) -> str:
    if not any(c.isdigit() for c in value):
        raise PydanticCustomError(
            "not_a_reference", "a reference is a document or minute number (with digits)", {}
        )
    return value


# A document or minute number (e.g. min-2026-12/4), never a sentence or a name.
DocRef = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9._/-]{0,39}$"), AfterValidator(_reference)]
Score = Annotated[int, Field(ge=1, le=4)]


class Status(StrEnum):
    ON_TRACK = "on_track"
    AT_RISK = "at_risk"
    OFF_TRACK = "off_track"
    COMPLETE = "complete"


class Reason(StrEnum):
    """Why a status is what it is (the enumerated note)."""

    ON_PLAN = "on_plan"
    DELIVERED = "delivered"
    RECRUITMENT_DELAY = "recruitment_delay"
    CAPACITY_SHORTFALL = "capacity_shortfall"
    FUNDING_GAP = "funding_gap"
    PARTNER_DELAY = "partner_delay"
    GOVERNANCE_DELAY = "governance_delay"
    PROCUREMENT_DELAY = "procurement_delay"
    DATA_UNAVAILABLE = "data_unavailable"
    SCOPE_CHANGE = "scope_change"
    DEPENDENCY_SLIPPING = "dependency_slipping"
    RECOVERY_IN_PROGRESS = "recovery_in_progress"
    AWAITING_DECISION = "awaiting_decision"
    RESOLVED = "resolved"
    NO_LONGER_RELEVANT = "no_longer_relevant"
    OTHER = "other"


class RaidKind(StrEnum):
    RISK = "risk"
    ASSUMPTION = "assumption"
    ISSUE = "issue"
    DEPENDENCY = "dependency"


class Outcome(StrEnum):
    """What a forum decided."""

    CORRECTIVE_ACTION = "corrective_action"
    RECOVERY_PLAN_ACCEPTED = "recovery_plan_accepted"
    ESCALATE = "escalate"
    RESOLVED = "resolved"
    PAUSE_ACTIVITY = "pause_activity"
    NOTED = "noted"


class Option(StrEnum):
    """Options an exception report weighs."""

    RESEQUENCE = "resequence"
    BACKFILL = "backfill"
    ADDITIONAL_FUNDING = "additional_funding"
    COMMISSION_CAPACITY = "commission_capacity"
    DESCOPE = "descope"
    ACCEPT_DELAY = "accept_delay"
    ESCALATE = "escalate"


class MilestoneStatusData(StrictModel):
    milestone: MilestoneRef
    status: Status
    reason: Reason
    evidence_date: PlausibleDate
    ref: DocRef | None = None


class RaidData(StrictModel):
    kind: RaidKind
    owner: OwnerRef
    due: PlausibleDate
    impact: Score
    likelihood: Score
    milestones: list[MilestoneRef] = Field(default_factory=list, max_length=50)
    dependency: DependencyRef | None = None
    status: Status = Status.ON_TRACK
    reason: Reason = Reason.ON_PLAN
    ref: DocRef | None = None


class RaidClosedData(StrictModel):
    reason: Reason


class ActionData(StrictModel):
    owner: OwnerRef
    due: PlausibleDate
    raid: RaidRef | None = None
    milestone: MilestoneRef | None = None
    recovery: bool = Field(default=False, description="Part of a recovery plan (R1)")
    ref: DocRef | None = None


class ActionCompletedData(StrictModel):
    ref: DocRef | None = None


class DecisionData(StrictModel):
    forum: ForumRef
    date: PlausibleDate
    outcome: Outcome
    raid: RaidRef | None = None
    milestone: MilestoneRef | None = None
    pack: PlausibleDate | None = Field(default=None, description="The QAG pack's meeting date")
    ref: DocRef | None = None


class ExceptionReportData(StrictModel):
    """R1: the exception report and recovery plan for a RAID item threatening a milestone."""

    raid: RaidRef
    milestone: MilestoneRef
    options: list[Option] = Field(min_length=1, max_length=7)
    recovery_actions: list[ActionRef] = Field(min_length=1, max_length=50)
    ref: DocRef | None = None


class AcknowledgedData(StrictModel):
    """R3: a forum acknowledges an escalation it received."""

    raid: RaidRef
    forum: ForumRef


class MilestoneStatusUpdated(Envelope[MilestoneStatusData]):
    type: Literal["programme.milestone.status"] = "programme.milestone.status"


class RaidRaised(Envelope[RaidData]):
    type: Literal["programme.raid.raised"] = "programme.raid.raised"


class RaidUpdated(Envelope[RaidData]):
    type: Literal["programme.raid.updated"] = "programme.raid.updated"


class RaidClosed(Envelope[RaidClosedData]):
    type: Literal["programme.raid.closed"] = "programme.raid.closed"


class ActionAgreed(Envelope[ActionData]):
    type: Literal["programme.action.agreed"] = "programme.action.agreed"


class ActionUpdated(Envelope[ActionData]):
    type: Literal["programme.action.updated"] = "programme.action.updated"


class ActionCompleted(Envelope[ActionCompletedData]):
    type: Literal["programme.action.completed"] = "programme.action.completed"


class DecisionRecorded(Envelope[DecisionData]):
    type: Literal["programme.decision.recorded"] = "programme.decision.recorded"


class ExceptionReportRecorded(Envelope[ExceptionReportData]):
    type: Literal["programme.exception.recorded"] = "programme.exception.recorded"


class EscalationAcknowledged(Envelope[AcknowledgedData]):
    type: Literal["programme.escalation.acknowledged"] = "programme.escalation.acknowledged"


ProgrammeEvent = (
    MilestoneStatusUpdated
    | RaidRaised
    | RaidUpdated
    | RaidClosed
    | ActionAgreed
    | ActionUpdated
    | ActionCompleted
    | DecisionRecorded
    | ExceptionReportRecorded
    | EscalationAcknowledged
)

_MODELS: list[tuple[type[Envelope[Any]], str]] = [
    (MilestoneStatusUpdated, "A milestone's status (RAG) with its reason and evidence date"),
    (RaidRaised, "A risk, assumption, issue or dependency entered in the RAID log"),
    (RaidUpdated, "A RAID item's owner, due date, scores, status or threatened milestones"),
    (RaidClosed, "A RAID item closed"),
    (ActionAgreed, "An action agreed, with its owner and due date"),
    (ActionUpdated, "An action's owner or due date changed"),
    (ActionCompleted, "An action completed"),
    (DecisionRecorded, "A forum's decision, with the forum and meeting date"),
    (ExceptionReportRecorded, "R1 exception report and recovery plan recorded"),
    (EscalationAcknowledged, "R3 escalation acknowledged by the receiving forum"),
]

EVENTS: list[EventSpec] = [spec_of(model, TOPIC, KIND, description=text) for model, text in _MODELS]
