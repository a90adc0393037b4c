"""Outcomes and experience events: attendance and inclusion figures, statutory quality
(EHC plan audits, annual reviews, phase transfers), complaints and disputes, surveys.

Subjects on the ``outcome-events`` topic:

* a **figure series** (``figure``): one measure (attendance, persistent absence,
  suspensions, permanent exclusions) for one cohort (pupils with an EHC plan, on SEN
  Support, all pupils) and one area (the local authority, its statistical neighbours,
  the region, England), reported per period (a cycle label such as ``2025/26-T1``);
  the DfE figures the council receives, posted by ``sendwatch import figures``;
* an **EHC plan audit** (``audit``): the grade a quality-assurance audit gave (E9);
* an **annual review** (``annual-review``): the meeting, the decision (within 4 weeks)
  and, when amending, the final amended plan (within 12 weeks) (E10);
* a **phase transfer** (``phase-transfer``): the amended plan for a phase transfer,
  finalised by the statutory deadline or not (E11);
* a **complaint** (``complaint``): received with its theme, resolved (K19, E36);
* a **dispute** (``dispute``): a mediation or a tribunal appeal registered and decided
  (K18);
* a **survey series** (``survey``): the result of one survey (Big Listen, setting
  confidence, assistive technology confidence, CYP satisfaction) per wave, with its
  response count (K14-K17).

Every string is a code, an enumeration or a pseudonymous id: no free text.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal

from pydantic import Field

from contracts.case_events import Locality
from contracts.codes import Phase
from contracts.envelope import Envelope, StrictModel
from contracts.events import EventSpec, spec_of

TOPIC = "outcome-events"

# A cycle label: a plan year (2026/27), a quarter (2026/27-Q2), a school term
# (2026/27-T1), a month (2026-09) or a calendar year (2026).
Period = Annotated[
    str,
    Field(
        pattern=r"^[0-9]{4}(/[0-9]{2}(-(Q[1-4]|T[1-3]))?|-[0-9]{2})?$",
        description="A cycle label: 2026/27, 2026/27-Q2, 2026/27-T1, 2026-09 or 2026",
    ),
]


class FigureMeasure(StrEnum):
    ATTENDANCE = "attendance"  # % of possible sessions attended
    PERSISTENT_ABSENCE = "persistent-absence"  # % of pupils missing 10% or more
    SUSPENSIONS = "suspensions"  # suspensions per 100 pupils
    PERMANENT_EXCLUSIONS = "permanent-exclusions"  # permanent exclusions per 100 pupils


class Cohort(StrEnum):
    EHCP = "ehcp"
    SEN_SUPPORT = "sen-support"
    ALL_PUPILS = "all-pupils"


class Area(StrEnum):
    LOCAL = "local"  # the local authority itself
    NEIGHBOURS = "statistical-neighbours"  # the mean of its statistical neighbours
    REGION = "region"
    ENGLAND = "england"


class Grade(StrEnum):
    OUTSTANDING = "outstanding"
    GOOD = "good"
    REQUIRES_IMPROVEMENT = "requires-improvement"
    INADEQUATE = "inadequate"


class ReviewDecision(StrEnum):
    MAINTAIN = "maintain"
    AMEND = "amend"
    CEASE = "cease"


class ComplaintTheme(StrEnum):
    COMMUNICATION = "communication"
    TIMELINESS = "timeliness"
    PROVISION = "provision"
    PLACEMENT = "placement"
    TRANSPORT = "transport"
    HEALTH = "health"
    OTHER = "other"


class DisputeRoute(StrEnum):
    MEDIATION = "mediation"
    TRIBUNAL = "tribunal"


class DisputeDecision(StrEnum):
    UPHELD = "upheld"  # in the family's favour, in full or in part
    NOT_UPHELD = "not-upheld"
    WITHDRAWN = "withdrawn"
    CONCEDED = "conceded"  # the LA conceded before a hearing
    AGREED = "agreed"  # mediation reached agreement
    NOT_AGREED = "not-agreed"


class Survey(StrEnum):
    BIG_LISTEN = "big-listen"  # parent carer satisfaction and co-production (K16)
    SETTING_CONFIDENCE = "setting-confidence"  # K14
    AT_CONFIDENCE = "at-confidence"  # confidence in using assistive technology (K15)
    CYP_SATISFACTION = "cyp-satisfaction"  # K17


class FigureData(StrictModel):
    measure: FigureMeasure
    cohort: Cohort
    area: Area
    period: Period
    value: float = Field(ge=0, le=100)
    pupils: int | None = Field(default=None, ge=0, le=10**7, description="Pupils in the cohort")


class AuditData(StrictModel):
    grade: Grade
    locality: Locality
    phase: Phase
    multi_agency: bool = False


class ReviewData(StrictModel):
    locality: Locality
    phase: Phase


class ReviewDecisionData(StrictModel):
    decision: ReviewDecision


class ReviewOnlyData(StrictModel):
    pass


class TransferData(StrictModel):
    locality: Locality
    phase: Phase  # the phase the child moves into
    by_deadline: bool = Field(
        description="Finalised by the statutory deadline (15 February; 31 March post-16)"
    )


class ComplaintData(StrictModel):
    theme: ComplaintTheme
    locality: Locality


class ComplaintResolvedData(StrictModel):
    upheld: bool = False


class DisputeData(StrictModel):
    route: DisputeRoute
    locality: Locality


class DisputeDecidedData(StrictModel):
    route: DisputeRoute
    decision: DisputeDecision


class SurveyData(StrictModel):
    survey: Survey
    period: Period  # the wave, as the cycle it reports on
    value: float = Field(ge=0, le=100, description="% satisfied or confident")
    responses: int = Field(ge=0, le=10**7)
    localities_represented: int | None = Field(default=None, ge=0, le=1000)


class FigureReported(Envelope[FigureData]):
    """A DfE attendance or exclusion figure for a cohort, an area and a period."""

    type: Literal["figure.reported"]


class AuditGraded(Envelope[AuditData]):
    """An EHC plan quality-assurance audit graded the plan."""

    type: Literal["quality.audit.graded"]


class ReviewMeetingHeld(Envelope[ReviewData]):
    """An annual review meeting was held (the 4- and 12-week clocks start)."""

    type: Literal["review.meeting.held"]


class ReviewDecisionNotified(Envelope[ReviewDecisionData]):
    """The LA notified its decision to maintain, amend or cease the plan."""

    type: Literal["review.decision.notified"]


class ReviewPlanAmended(Envelope[ReviewOnlyData]):
    """The final amended plan was issued after the review."""

    type: Literal["review.plan.amended"]


class TransferFinalised(Envelope[TransferData]):
    """An amended plan for a phase transfer was finalised."""

    type: Literal["transfer.plan.finalised"]


class ComplaintReceived(Envelope[ComplaintData]):
    """A complaint about SEND services was received, with its theme."""

    type: Literal["complaint.received"]


class ComplaintResolved(Envelope[ComplaintResolvedData]):
    """The complaint was resolved (responded to and closed)."""

    type: Literal["complaint.resolved"]


class DisputeRegistered(Envelope[DisputeData]):
    """A mediation was requested or a tribunal appeal registered."""

    type: Literal["dispute.registered"]


class DisputeDecided(Envelope[DisputeDecidedData]):
    """The mediation or appeal concluded."""

    type: Literal["dispute.decided"]


class SurveyResultReported(Envelope[SurveyData]):
    """A survey wave's result: the score and its response count."""

    type: Literal["survey.result.reported"]


def _spec(model: type[Envelope], kind: str, attributes: tuple[str, ...]) -> EventSpec:  # type: ignore[type-arg]
    return spec_of(model, TOPIC, kind, attributes)


_PLACE = ("locality", "phase")

EVENTS: list[EventSpec] = [
    _spec(FigureReported, "figure", ("cohort", "area")),
    _spec(AuditGraded, "audit", _PLACE),
    _spec(ReviewMeetingHeld, "annual-review", _PLACE),
    _spec(ReviewDecisionNotified, "annual-review", ()),
    _spec(ReviewPlanAmended, "annual-review", ()),
    _spec(TransferFinalised, "phase-transfer", _PLACE),
    _spec(ComplaintReceived, "complaint", ("locality", "theme")),
    _spec(ComplaintResolved, "complaint", ()),
    _spec(DisputeRegistered, "dispute", ("locality",)),
    _spec(DisputeDecided, "dispute", ()),
    _spec(SurveyResultReported, "survey", ("survey",)),
]
