"""NHS community health referral events, aligned to the Community Services Data Set.

CSDS v1.6 tables: ``CYP101`` referral (received date, source of referral, priority,
service), the referral's outcome (accepted or rejected, with a reason), triage,
``CYP201`` care contact (attendance and consultation mechanism), assessment and
treatment started, discharge (with a reason).  A provider's CSDS extract maps onto these
one-to-one (``sendwatch import referrals``).  The subject is the pseudonymous referral
id; every referral event carries the breakdown attributes (pseudonymous person id,
service, locality, age band, and optionally sex and phase).

Weekly capacity is reported per service line (subject: the service, e.g. ``svc-slt``):
sessions commissioned, sessions delivered, first-appointment slots offered, staff in
post against funded posts (whole-time equivalents).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal

from pydantic import Field

from contracts.case_events import Locality
from contracts.codes import AgeBand, Phase, Priority, Sex
from contracts.envelope import Envelope, PseudonymousId, StrictModel
from contracts.events import EventSpec, spec_of

TOPIC = "referral-events"


class Service(StrEnum):
    """Community pathways (CHS SitRep CYP service lines as the plan names them)."""

    SLT = "slt"
    OT = "ot"
    ASD_0_5 = "asd_0_5"
    ND_6_18 = "nd_6_18"
    ND_19_25 = "nd_19_25"
    CORE_MH = "core_mh"


class ReferralSource(StrEnum):
    """Source of referral (a coarse grouping of the CSDS code list)."""

    GP = "gp"
    SCHOOL = "school"
    EARLY_YEARS = "early_years"
    HEALTH_VISITOR = "health_visitor"
    PAEDIATRICS = "paediatrics"
    EAH = "eah"  # Experts at Hand
    FAMILY_HUB = "family_hub"
    SELF = "self"
    SOCIAL_CARE = "social_care"
    OTHER = "other"


class Outcome(StrEnum):
    ACCEPTED = "accepted"
    REJECTED = "rejected"


class OutcomeReason(StrEnum):
    APPROPRIATE = "appropriate"
    NOT_APPROPRIATE = "not_appropriate"
    INCOMPLETE = "incomplete_information"
    OTHER_SERVICE = "redirected_to_other_service"
    OUT_OF_AREA = "out_of_area"
    DUPLICATE = "duplicate"


class Attendance(StrEnum):
    ATTENDED = "attended"
    DNA = "dna"
    CANCELLED = "cancelled"


class Mechanism(StrEnum):
    """CSDS Consultation Mechanism (Community Care), grouped."""

    FACE_TO_FACE = "face_to_face"
    VIDEO = "video"
    TELEPHONE = "telephone"
    OTHER = "other"


class DischargeReason(StrEnum):
    TREATMENT_COMPLETED = "treatment_completed"
    NO_FURTHER_NEED = "no_further_need"
    DNA = "did_not_attend"
    DECLINED = "declined"
    MOVED_AWAY = "moved_away"
    TRANSFERRED = "transferred"
    OTHER = "other"


class ReferralAttributes(StrictModel):
    """Breakdown attributes: present on every referral event."""

    person_id: PseudonymousId
    service: Service
    locality: Locality
    age_band: AgeBand
    sex: Sex | None = None
    phase: Phase | None = None


class ReceivedData(ReferralAttributes):
    source_of_referral: ReferralSource
    priority: Priority = Priority.ROUTINE


class OutcomeData(ReferralAttributes):
    outcome: Outcome
    reason: OutcomeReason | None = None


class ContactData(ReferralAttributes):
    attendance: Attendance
    mechanism: Mechanism


class DischargeData(ReferralAttributes):
    reason: DischargeReason


class StepData(ReferralAttributes):
    pass


Wte = Annotated[float, Field(ge=0, le=10_000)]
Sessions = Annotated[int, Field(ge=0, le=1_000_000)]


class CapacityData(StrictModel):
    """One service line's week (the event's time is the week's last day)."""

    service: Service
    week: Annotated[str, Field(pattern=r"^[0-9]{4}-W[0-9]{2}$", description="ISO week")]
    sessions_commissioned: Sessions
    sessions_delivered: Sessions
    first_slots_offered: Sessions = Field(
        description="First-appointment slots offered in the week (capacity for new demand)"
    )
    staff_in_post_wte: Wte
    funded_posts_wte: Wte


class ReferralReceived(Envelope[ReceivedData]):
    """A referral was received by the service (CYP101; the RTT and triage clocks start)."""

    type: Literal["referral.received"]


class ReferralOutcome(Envelope[OutcomeData]):
    """The referral was accepted or rejected, with a reason (a rejection ends its clocks)."""

    type: Literal["referral.outcome"]


class ReferralTriaged(Envelope[StepData]):
    """The referral was triaged (the 2-week triage clock stops)."""

    type: Literal["referral.triaged"]


class CareContact(Envelope[ContactData]):
    """A care contact (CYP201), with attendance and consultation mechanism."""

    type: Literal["referral.contact"]


class AssessmentStarted(Envelope[StepData]):
    """The diagnostic or specialist assessment started (NICE QS51's measure)."""

    type: Literal["referral.assessment-started"]


class TreatmentStarted(Envelope[StepData]):
    """Treatment or intervention started."""

    type: Literal["referral.treatment-started"]


class Discharged(Envelope[DischargeData]):
    """The referral was closed (discharged), with a reason (its clocks end)."""

    type: Literal["referral.discharged"]


class CapacityReported(Envelope[CapacityData]):
    """A service line's weekly capacity: sessions commissioned and delivered, first slots
    offered, staff in post against funded posts."""

    type: Literal["referral.capacity.reported"]


REFERRAL_MODELS: tuple[type[Envelope], ...] = (  # type: ignore[type-arg]
    ReferralReceived,
    ReferralOutcome,
    ReferralTriaged,
    CareContact,
    AssessmentStarted,
    TreatmentStarted,
    Discharged,
)
REFERRAL_ATTRIBUTES: tuple[str, ...] = tuple(ReferralAttributes.model_fields)


EVENTS: list[EventSpec] = [
    *(spec_of(m, TOPIC, "referral", REFERRAL_ATTRIBUTES) for m in REFERRAL_MODELS),
    spec_of(CapacityReported, TOPIC, "service_line", ("service",)),
]
