"""Placement and sufficiency events (``sendwatch.placement-events.v1``).

Plans, placements and elective home education are about a **person** (subject: the
person's keyed pseudonym, as ``person_id`` on case events, so a plan issued on case
events and a placement recorded here are about the same person).  A high-cost placement
decision is its own subject (``pl-<token>``, with the person as an attribute), so that
every decision is counted, reviewed and chased on its own.  Commissioned inclusion base
places are about the base (``setting-<token>``), effective from the event's time.

Setting types are DfE's caseload columns (``contracts/placement_codes.py``).  No free
text: every string is a code, a pattern or a pseudonym.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from pydantic import Field

from contracts.case_events import Locality
from contracts.codes import AgeBand, CeaseReason, Phase, SENType, Sex
from contracts.envelope import Envelope, PseudonymousId, StrictModel
from contracts.events import EventSpec, spec_of
from contracts.placement_codes import (
    CostBand,
    DfeSetting,
    HighCostDecision,
    Reviewer,
    ReviewOutcome,
    SendCohort,
)

Urn = Annotated[str, Field(pattern=r"^\d{6,8}$", description="DfE URN or UKPRN of the setting")]
BaseCode = Annotated[
    str, Field(pattern=r"^ib-[0-9]{2,4}$", description="Inclusion base code (ib-NNN)")
]


class PersonAttributes(StrictModel):
    """Breakdown attributes a person event may carry (the latest value wins)."""

    locality: Locality | None = None
    age_band: AgeBand | None = None
    phase: Phase | None = None
    primary_need: SENType | None = None
    sex: Sex | None = None


class PlanStartedData(PersonAttributes):
    la_code: Annotated[str, Field(pattern=r"^\d{3}$")] | None = None
    mediation: bool | None = Field(default=None, description="SEN2 mediation flags (any)")
    tribunal: bool | None = Field(default=None, description="SEN2 tribunal flags (any)")


class PlanReviewedData(PersonAttributes):
    review_outcome: Annotated[str, Field(pattern=r"^[0-9A-Z]{1,2}$")] | None = None


class PhaseTransferData(PersonAttributes):
    due_date: date | None = Field(default=None, description="SEN2 PhaseTransferDueDate")
    final_issued: bool = Field(description="The amended plan was finalised (on this date)")


class PlanCeasedData(PersonAttributes):
    cease_reason: CeaseReason


class PlacementStartedData(PersonAttributes):
    setting_type: DfeSetting
    setting_urn: Urn | None = None
    rank: int = Field(default=1, ge=1, le=9, description="1: the main placement")
    la_funded: bool
    out_of_area: bool | None = Field(default=None, description="None: not known (SEN2)")
    distance_km: float | None = Field(default=None, ge=0, le=1000)
    cost_band: CostBand | None = None
    base: BaseCode | None = Field(default=None, description="Inclusion base, if at one")


class PlacementEndedData(PersonAttributes):
    rank: int = Field(default=1, ge=1, le=9)
    setting_urn: Urn | None = None


class HighCostDecidedData(StrictModel):
    person_id: PseudonymousId
    locality: Locality | None = None
    phase: Phase | None = None
    primary_need: SENType | None = None
    decision: HighCostDecision
    annual_cost: int = Field(ge=0, le=2_000_000, description="Annual cost in pounds")
    cost_band: CostBand
    setting_type: DfeSetting
    out_of_area: bool = False


class HighCostReviewedData(StrictModel):
    person_id: PseudonymousId
    outcome: ReviewOutcome
    reviewed_by: Reviewer


class BasePlacesData(StrictModel):
    base: BaseCode
    phase: Phase
    locality: Locality | None = None
    places: int = Field(ge=0, le=500, description="Places commissioned from this date")
    opened: date | None = Field(default=None, description="The day the base first opened")


class EheData(PersonAttributes):
    cohort: SendCohort


class PlanStarted(Envelope[PlanStartedData]):
    """An EHC plan started (first issued, or transferred in with a plan)."""

    type: Literal["placement.plan.started"]


class PlanCeased(Envelope[PlanCeasedData]):
    """An EHC plan ceased (SEN2 CeaseReason; 5 is a transfer out to another LA)."""

    type: Literal["placement.plan.ceased"]


class PlanReviewed(Envelope[PlanReviewedData]):
    """An annual review of the plan (SEN2 ReviewMeeting / LastReview)."""

    type: Literal["placement.plan.reviewed"]


class PhaseTransfer(Envelope[PhaseTransferData]):
    """A phase transfer review: finalised (PhaseTransferFinalDate) or due."""

    type: Literal["placement.plan.phase-transfer"]


class PlacementStarted(Envelope[PlacementStartedData]):
    """A placement began (SEN2 EntryDate)."""

    type: Literal["placement.placement.started"]


class PlacementEnded(Envelope[PlacementEndedData]):
    """A placement ended (SEN2 LeavingDate)."""

    type: Literal["placement.placement.ended"]


class HighCostDecided(Envelope[HighCostDecidedData]):
    """A new high-cost placement decision was made."""

    type: Literal["placement.high-cost.decided"]


class HighCostReviewed(Envelope[HighCostReviewedData]):
    """A high-cost decision was reviewed or challenged (by a role)."""

    type: Literal["placement.high-cost.reviewed"]


class BasePlacesCommissioned(Envelope[BasePlacesData]):
    """Places commissioned at an inclusion base, in force from the event's time."""

    type: Literal["placement.base.places-commissioned"]


class EheRegistered(Envelope[EheData]):
    """A child or young person was registered as electively home educated."""

    type: Literal["placement.ehe.registered"]


class EheEnded(Envelope[EheData]):
    type: Literal["placement.ehe.ended"]


PERSON_ATTRIBUTES: tuple[str, ...] = tuple(PersonAttributes.model_fields)
TOPIC = "placement-events"


def _spec(model: type[Envelope], kind: str, attributes: tuple[str, ...]) -> EventSpec:  # type: ignore[type-arg]
    return spec_of(model, TOPIC, kind, attributes)


_DECISION_ATTRS = ("person_id", "locality", "phase", "primary_need")

EVENTS: list[EventSpec] = [
    _spec(PlanStarted, "person", PERSON_ATTRIBUTES),
    _spec(PlanCeased, "person", PERSON_ATTRIBUTES),
    _spec(PlanReviewed, "person", PERSON_ATTRIBUTES),
    _spec(PhaseTransfer, "person", PERSON_ATTRIBUTES),
    _spec(PlacementStarted, "person", PERSON_ATTRIBUTES),
    _spec(PlacementEnded, "person", PERSON_ATTRIBUTES),
    _spec(EheRegistered, "person", (*PERSON_ATTRIBUTES, "cohort")),
    _spec(EheEnded, "person", (*PERSON_ATTRIBUTES, "cohort")),
    _spec(HighCostDecided, "placement-decision", _DECISION_ATTRS),
    _spec(HighCostReviewed, "placement-decision", ("person_id",)),
    _spec(BasePlacesCommissioned, "inclusion-base", ("base", "phase", "locality")),
]
