"""Experts at Hand / Local Inclusion Support Offer (LISO) events.

Experts at Hand is the locality-based multidisciplinary offer (speech and language
therapy, occupational therapy, educational psychology) to mainstream settings and
families, meant to meet need early without a statutory assessment (Reform Plan K13a-c,
Outcomes Framework O18-O22, R5a, R16).  Four kinds of subject travel on the
``eah-events`` topic:

* a **request** for support (``eah-request``, keyed by a pseudonymous request id): from
  a setting or a family, for one service, in a phase and locality; then triaged, first
  contact, an outcome (resolved, de-escalated, escalated to a statutory route), closed;
* a **child or young person** supported (``eah-cyp``, keyed by the pseudonymous CYP
  id): one event per piece of support delivered, with the service, so reach counts each
  child once per term or year whatever the number of contacts;
* a **setting** supported (``eah-setting``, keyed by a pseudonymous setting id): the
  settings the offer reached, by phase and locality;
* a service line's **weekly capacity** (``eah-capacity``): the sessions available that
  week, against which the demand waiting for a first contact is measured.

No names, dates of birth or free text: every string is a code, an enumeration or a
pseudonymous id.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import Field

from contracts.case_events import Locality
from contracts.codes import Phase, Priority, SettingType
from contracts.envelope import Envelope, PseudonymousId, StrictModel
from contracts.events import EventSpec, spec_of

TOPIC = "eah-events"


class EahService(StrEnum):
    SLT = "slt"  # speech and language therapy (and its assistants)
    OT = "ot"  # occupational therapy
    EP = "ep"  # educational psychology


class Requester(StrEnum):
    SETTING = "setting"
    FAMILY = "family"


class Tier(StrEnum):
    CORE = "core"
    TARGETED = "targeted"
    TARGETED_PLUS = "targeted-plus"


class ContactMode(StrEnum):
    CONSULTATION = "consultation"
    GROUP_TRAINING = "group-training"
    TARGETED_INTERVENTION = "targeted-intervention"
    STATUTORY_CONTRIBUTION = "statutory-contribution"


class EahOutcome(StrEnum):
    RESOLVED = "resolved"  # need met within the offer
    DE_ESCALATED = "de-escalated"  # stepped down to ordinarily available provision
    ESCALATED_STATUTORY = "escalated-statutory"  # EHC needs assessment or specialist referral


class RequestData(StrictModel):
    """Breakdown attributes of a request (the latest event carrying them wins)."""

    service: EahService
    requester: Requester
    phase: Phase
    locality: Locality
    setting_type: SettingType | None = None
    tier: Tier = Tier.CORE
    setting_id: PseudonymousId | None = Field(
        default=None, description="Pseudonymous id of the setting asking, or the child's"
    )


class TriagedData(StrictModel):
    priority: Priority = Priority.ROUTINE


class FirstContactData(StrictModel):
    mode: ContactMode


class OutcomeData(StrictModel):
    outcome: EahOutcome


class ClosedData(StrictModel):
    pass


class CypSupportedData(StrictModel):
    service: EahService
    phase: Phase
    locality: Locality
    has_ehcp: bool = Field(
        default=False,
        description="K13 counts children without an EHC plan or specialist placement",
    )


class SettingSupportedData(StrictModel):
    service: EahService
    phase: Phase
    locality: Locality


class CapacityData(StrictModel):
    service: EahService
    sessions: int = Field(ge=0, le=100_000, description="Sessions available in the week")


class RequestReceived(Envelope[RequestData]):
    """A request for Experts at Hand support was received (the triage and contact clocks
    start)."""

    type: Literal["eah.request.received"]


class RequestTriaged(Envelope[TriagedData]):
    """The request was triaged (single triage route, R5a)."""

    type: Literal["eah.request.triaged"]


class RequestFirstContact(Envelope[FirstContactData]):
    """First contact with the setting or family."""

    type: Literal["eah.request.first-contact"]


class RequestOutcome(Envelope[OutcomeData]):
    """The outcome of the support: resolved, de-escalated or escalated to a statutory route."""

    type: Literal["eah.request.outcome"]


class RequestClosed(Envelope[ClosedData]):
    """The request was closed."""

    type: Literal["eah.request.closed"]


class CypSupported(Envelope[CypSupportedData]):
    """A child or young person received support from a service (reach, K13a-c)."""

    type: Literal["eah.cyp.supported"]


class SettingSupported(Envelope[SettingSupportedData]):
    """A setting received support from a service (coverage, O18)."""

    type: Literal["eah.setting.supported"]


class CapacityReported(Envelope[CapacityData]):
    """A service line's sessions available in a week (capacity against demand, R16)."""

    type: Literal["eah.capacity.reported"]


def _spec(model: type[Envelope], kind: str, attributes: tuple[str, ...]) -> EventSpec:  # type: ignore[type-arg]
    return spec_of(model, TOPIC, kind, attributes)


_REQUEST = ("service", "requester", "phase", "locality", "setting_type", "tier")
_PLACE = ("phase", "locality")

EVENTS: list[EventSpec] = [
    _spec(RequestReceived, "eah-request", _REQUEST),
    _spec(RequestTriaged, "eah-request", ()),
    _spec(RequestFirstContact, "eah-request", ()),
    _spec(RequestOutcome, "eah-request", ()),
    _spec(RequestClosed, "eah-request", ()),
    _spec(CypSupported, "eah-cyp", _PLACE),
    _spec(SettingSupported, "eah-setting", _PLACE),
    _spec(CapacityReported, "eah-capacity", ("service",)),
]
