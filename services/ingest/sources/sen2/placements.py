"""SEN2 active plans and placements -> placement events (pure: no I/O).

What DfE's caseload counts comes from here: a request with ``ActivePlans`` is a plan
active at the census, its ``PlacementDetail`` the placements it names.  Events are about
the person (subject: the person's keyed pseudonym, as ``person_id`` on the case events):

=================================================  ==========================================
SEN2                                               event
=================================================  ==========================================
NamedPlan StartDate, else AssessmentOutcomeDate Y  ``placement.plan.started`` (an active plan
(active plans without either: the earliest         without a start: the earliest EntryDate,
EntryDate, else ReceivedDate)                      else ReceivedDate); mediation and tribunal
                                                   flags (any of the request's) on it
NamedPlan CeaseDate + CeaseReason                  ``placement.plan.ceased``
PlacementDetail EntryDate / LeavingDate            ``placement.placement.started`` / ``ended``
                                                   (rank, URN or UKPRN, setting type)
ActivePlans ReviewMeeting, LastReview              ``placement.plan.reviewed``
PhaseTransferFinalDate, else PhaseTransferDueDate  ``placement.plan.phase-transfer``
=================================================  ==========================================

**Setting type** in DfE's caseload vocabulary: a URN or UKPRN through the settings
look-up (an extract of GIAS: URN -> type of establishment, as DfE derives it), with
SENunitIndicator / ResourcedProvisionIndicator turning a mainstream school into its SEN
unit or resourced provision; without a URN, the SENSetting code (``SEN_SETTINGS``).  A
placement whose setting cannot be typed gives no placement event (the plan then counts
as placement not recorded) and a warning.  SEN2 has no funding flag: a placement named
in the plan is taken as LA funded; out of area and distance are not in SEN2 (unknown).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date
from typing import Any

from services.ingest.sources.sen2.parse import Placement, RequestRecord
from services.ingest.sources.sen2.pseudonymise import PHASE_OF_BAND, age_band, age_on

SEN_SETTINGS = {
    "OLA": "other_arrangements_la",
    "OPA": "other_arrangements_parents",
    "EHE": "elective_home_education",
    "EYP": "nm_early_years",
    "OTH": "other_placement_settings",
    "NEET": "neet",
    "NIEC": "neet_ntci",
    "NIEO": "neet_other",  # compulsory school age: neet_other_csa
}
_CSA_BANDS = {"5-10", "11-15"}
_WITH_UNITS = ("mainstream_la_maintained", "mainstream_academy", "mainstream_free_school")

Emit = Callable[[str, date, dict[str, Any], str], None]


def setting_of(p: Placement, lookup: Mapping[str, str], band: str | None) -> str | None:
    """The placement's type of setting in DfE's caseload vocabulary, or None."""
    provider = p.urn or p.ukprn
    if provider:
        found = lookup.get(provider)
        if found in _WITH_UNITS:
            if p.sen_unit:
                return f"{found}_senunit"
            if p.resourced:
                return f"{found}_resourced_provision"
        return found
    if p.sen_setting is None:
        return None
    setting = SEN_SETTINGS.get(p.sen_setting)
    if setting == "neet_other" and band in _CSA_BANDS:
        return "neet_other_csa"
    return setting


def plan_start(request: RequestRecord) -> date | None:
    for a in request.assessments:
        if a.plan is not None and a.plan.start_date is not None:
            return a.plan.start_date
    for a in request.assessments:
        if a.outcome == "Y" and a.outcome_date is not None:
            return a.outcome_date
    if request.active is None:
        return None
    entries = [p.entry_date for p in request.placements if p.entry_date is not None]
    return min(entries) if entries else request.received


def placement_events(
    request: RequestRecord,
    birth: date,
    attrs: Mapping[str, Any],
    lookup: Mapping[str, str],
    emit: Emit,
) -> int:
    """Emit the request's plan and placement events; returns how many placements could
    not be typed."""
    start = plan_start(request)
    if start is None:
        return 0
    person_attrs = {
        k: v for k, v in attrs.items() if k in ("locality", "primary_need", "sex") and v
    }

    def at(day: date) -> dict[str, Any]:
        band = age_band(age_on(birth, day))
        out = dict(person_attrs)
        if band is not None:
            out["age_band"] = band.value
            out["phase"] = PHASE_OF_BAND[band].value
        return out

    flags: dict[str, Any] = {}
    if request.mediation:
        flags["mediation"] = True
    if request.tribunal:
        flags["tribunal"] = True
    emit("placement.plan.started", start, {**at(start), **flags}, "plan")
    for a in request.assessments:
        plan = a.plan
        if plan is not None and plan.cease_date is not None and plan.cease_reason:
            reason = {"cease_reason": plan.cease_reason}
            emit("placement.plan.ceased", plan.cease_date, reason, f"a{a.position}")
    untyped = 0
    for n, p in enumerate(request.placements, start=1):
        entry = p.entry_date or start
        band = at(entry).get("age_band")
        setting = setting_of(p, lookup, band)
        if setting is None:
            untyped += 1
            continue
        data: dict[str, Any] = {
            **at(entry),
            "setting_type": setting,
            "rank": p.rank or 1,
            "la_funded": True,
        }
        urn = p.urn or p.ukprn
        if urn and 6 <= len(urn) <= 8:
            data["setting_urn"] = urn
        emit("placement.placement.started", entry, data, f"p{n}")
        if p.leaving_date is not None and p.leaving_date >= entry:
            ended = {"rank": p.rank or 1, **({"setting_urn": data["setting_urn"]} if urn else {})}
            emit("placement.placement.ended", p.leaving_date, ended, f"p{n}")
    active = request.active
    if active is not None:
        reviews = {d for d in (active.review_meeting, active.last_review) if d is not None}
        for day in sorted(reviews):
            data = at(day)
            if active.review_outcome and day == active.review_meeting:
                data["review_outcome"] = active.review_outcome
            emit("placement.plan.reviewed", day, data, day.isoformat())
        final, due = active.phase_transfer_final, active.phase_transfer_due
        when = final or due
        if when is not None:
            data = {**at(when), "final_issued": final is not None}
            if due is not None:
                data["due_date"] = due.isoformat()
            emit("placement.plan.phase-transfer", when, data, "phase")
    return untyped
