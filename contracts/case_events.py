"""EHC needs assessment and plan events, in the SEN2 vocabulary.

One event per state transition of the SEN2 modules (Requests, Assessment, NamedPlan,
ActivePlans, SENneed).  The event's own date is ``time`` in the envelope; data holds
only what the transition adds.  Every event carries the breakdown attributes.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BeforeValidator, Field, TypeAdapter

from contracts.codes import (
    AdviceGiver,
    AgeBand,
    AssessmentOutcome,
    CeaseReason,
    ExceptionReason,
    Phase,
    RequestOutcome,
    RequestSource,
    SENType,
    SettingType,
    Sex,
)
from contracts.envelope import Envelope, PseudonymousId, StrictModel
from contracts.events import EventSpec, spec_of
from contracts.localities import known_locality

Locality = Annotated[
    str,
    Field(
        pattern=r"^[a-z][a-z0-9-]{1,40}$",
        description="One of the localities in contracts/localities.yaml (or its 'unknown')",
    ),
    BeforeValidator(known_locality),
]
LaCode = Annotated[str, Field(pattern=r"^\d{3}$", description="DfE old (3-digit) LA code")]
EthnicityCode = Annotated[str, Field(pattern=r"^[A-Z]{4}$", description="DfE main code")]


class CaseAttributes(StrictModel):
    """Breakdown attributes: present on every case event."""

    person_id: PseudonymousId
    locality: Locality
    age_band: AgeBand
    phase: Phase
    primary_need: SENType | None = None
    setting_type: SettingType | None = None
    sex: Sex | None = None
    ethnicity: EthnicityCode | None = None


class RequestReceivedData(CaseAttributes):
    request_source: RequestSource | None = None
    rya: bool = False
    historical: bool = Field(
        default=False,
        description=(
            "SEN2 outcome H: decided before the collection period (or transferred in); "
            "kept for caseload, excluded from timeliness measures."
        ),
    )


class DecisionToAssessData(CaseAttributes):
    outcome: RequestOutcome


class AdviceData(CaseAttributes):
    advice_giver: AdviceGiver


class ExceptionData(CaseAttributes):
    reason: ExceptionReason


class AssessmentDecisionData(CaseAttributes):
    outcome: AssessmentOutcome


class CaseOnlyData(CaseAttributes):
    pass


class PlanCeasedData(CaseAttributes):
    cease_reason: CeaseReason


class TransferData(CaseAttributes):
    other_la: LaCode | None = None
    historical: bool = Field(
        default=True,
        description="Transfers in with an existing plan are historical for timeliness (SEN2).",
    )


class PrimaryNeedData(CaseAttributes):
    sen_type: SENType
    rank: Literal[1, 2] = 1


class RequestReceived(Envelope[RequestReceivedData]):
    """A request for an EHC needs assessment was received (clock start, SEN2 ReceivedDate)."""

    type: Literal["ehc.request.received"]


class DecisionToAssess(Envelope[DecisionToAssessData]):
    """Requestor told whether the LA will assess (SEN2 RequestOutcome/RequestOutcomeDate)."""

    type: Literal["ehc.assessment.decision-to-assess"]


class AdviceRequested(Envelope[AdviceData]):
    type: Literal["ehc.advice.requested"]


class AdviceReceived(Envelope[AdviceData]):
    type: Literal["ehc.advice.received"]


class ExceptionStarted(Envelope[ExceptionData]):
    """A reg 10(4) exception to the 20-week limit began."""

    type: Literal["ehc.exception.started"]


class ExceptionEnded(Envelope[ExceptionData]):
    type: Literal["ehc.exception.ended"]


class DraftPlanIssued(Envelope[CaseOnlyData]):
    type: Literal["ehc.plan.draft-issued"]


class AssessmentDecision(Envelope[AssessmentDecisionData]):
    """Decision on the assessment: issue, not issue, withdrawn (SEN2 AssessmentOutcome)."""

    type: Literal["ehc.assessment.decision"]


class FinalPlanIssued(Envelope[CaseOnlyData]):
    """Final EHC plan issued (clock stop, SEN2 AssessmentOutcomeDate with outcome Y)."""

    type: Literal["ehc.plan.final-issued"]


class PlanCeased(Envelope[PlanCeasedData]):
    type: Literal["ehc.plan.ceased"]


class TransferredIn(Envelope[TransferData]):
    type: Literal["ehc.case.transferred-in"]


class TransferredOut(Envelope[TransferData]):
    type: Literal["ehc.case.transferred-out"]


class PrimaryNeedRecorded(Envelope[PrimaryNeedData]):
    type: Literal["ehc.need.recorded"]


CaseEvent = Annotated[
    RequestReceived
    | DecisionToAssess
    | AdviceRequested
    | AdviceReceived
    | ExceptionStarted
    | ExceptionEnded
    | DraftPlanIssued
    | AssessmentDecision
    | FinalPlanIssued
    | PlanCeased
    | TransferredIn
    | TransferredOut
    | PrimaryNeedRecorded,
    Field(discriminator="type"),
]

CASE_EVENT_MODELS: tuple[type[Envelope], ...] = (  # type: ignore[type-arg]
    RequestReceived,
    DecisionToAssess,
    AdviceRequested,
    AdviceReceived,
    ExceptionStarted,
    ExceptionEnded,
    DraftPlanIssued,
    AssessmentDecision,
    FinalPlanIssued,
    PlanCeased,
    TransferredIn,
    TransferredOut,
    PrimaryNeedRecorded,
)
CASE_EVENT_TYPES: frozenset[str] = frozenset(
    m.model_fields["type"].annotation.__args__[0]  # type: ignore[union-attr]
    for m in CASE_EVENT_MODELS
)

_ADAPTER: TypeAdapter[CaseEvent] = TypeAdapter(CaseEvent)


def parse_case_event(
    raw: bytes | str | dict,  # type: ignore[type-arg]
    *,
    privacy_checked: bool = False,
) -> CaseEvent:
    """Validate one case event from JSON bytes/str or an already-decoded dict.

    ``privacy_checked`` tells the envelope that the caller has already run
    ``find_personal_data`` on this same input, so it is not scanned twice.
    """
    context = {"privacy_checked": True} if privacy_checked else None
    if isinstance(raw, dict):
        return _ADAPTER.validate_python(raw, context=context)
    return _ADAPTER.validate_json(raw, context=context)


# --- registration (contracts/events.py) ------------------------------------------------

CASE_ATTRIBUTES: tuple[str, ...] = tuple(CaseAttributes.model_fields)


def _rank_one_need(data: object) -> dict[str, str | None]:
    """A rank-1 need recorded sets the case's primary need."""
    if isinstance(data, PrimaryNeedData) and data.rank == 1:
        return {"primary_need": data.sen_type.value}
    return {}


EVENTS: list[EventSpec] = [
    spec_of(m, "case-events", "case", CASE_ATTRIBUTES, derive=_rank_one_need)
    for m in CASE_EVENT_MODELS
]
