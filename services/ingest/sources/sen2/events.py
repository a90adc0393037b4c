"""SEN2 records -> pseudonymous historic case events (pure: no I/O).

Each ``Requests`` of a person is one case (subject ``case-<hmac>``).  Its events, all
from source ``sen2-import`` and dated at 12:00 UTC on the SEN2 date:

==============================================  =========================================
SEN2                                            event
==============================================  =========================================
ReceivedDate                                    ``ehc.request.received`` (historical when
                                                RequestOutcome or AssessmentOutcome is H)
SENneed rank 1 and 2 (at ReceivedDate)          ``ehc.need.recorded``
Week20 = 1 (at ReceivedDate)                    ``ehc.exception.started``, reason
                                                ``unspecified``
RequestOutcome Y/N/W + RequestOutcomeDate       ``ehc.assessment.decision-to-assess``
AssessmentOutcome Y + AssessmentOutcomeDate     ``ehc.assessment.decision`` Y and
                                                ``ehc.plan.final-issued``
AssessmentOutcome N/W + AssessmentOutcomeDate   ``ehc.assessment.decision`` N/W
NamedPlan CeaseDate + CeaseReason               ``ehc.plan.ceased``
==============================================  =========================================

RequestOutcome W without a date is dated on ReceivedDate (it closes the case; no measure
uses its date).  A request with a date outside the plausibility window
(``contracts/plausibility.yaml``) is not imported: it is reported as a problem naming the
SEN2 field, so the file's other requests still go in.  RequestOutcome A/H,
AssessmentOutcome A/H and other outcomes without a date give no event.
Every event carries the breakdown attributes (person_id, locality, age_band, phase and,
when known, primary_need, setting_type, sex, ethnicity).  Event ids are
``sen2-`` + HMAC(case id | type | discriminator), so a re-import sends the same ids.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, NamedTuple

from contracts.plausibility import TimeWindow, load_window
from services.ingest.sources.sen2.parse import (
    PersonRecord,
    Placement,
    Problem,
    ProblemReason,
    RequestRecord,
    Sen2Header,
    Sen2Reader,
    Source,
)
from services.ingest.sources.sen2.placements import placement_events
from services.ingest.sources.sen2.pseudonymise import (
    PHASE_OF_BAND,
    LocalityMap,
    Pseudonymiser,
    age_band,
    age_on,
    load_localities,
)

SOURCE_ID = "sen2-import"
SCHEMA_VERSION = "1.0"

EventDict = dict[str, Any]

REQUEST_RECEIVED = "ehc.request.received"
NEED_RECORDED = "ehc.need.recorded"
EXCEPTION_STARTED = "ehc.exception.started"
DECISION_TO_ASSESS = "ehc.assessment.decision-to-assess"
ASSESSMENT_DECISION = "ehc.assessment.decision"
FINAL_ISSUED = "ehc.plan.final-issued"
PLAN_CEASED = "ehc.plan.ceased"

EVENT_TYPES = (
    REQUEST_RECEIVED,
    NEED_RECORDED,
    EXCEPTION_STARTED,
    DECISION_TO_ASSESS,
    ASSESSMENT_DECISION,
    FINAL_ISSUED,
    PLAN_CEASED,
)

SETTING_TYPES = {
    "EHE": "ehe",
    "NEET": "neet",
    "NIEC": "not-in-education",
    "NIEO": "not-in-education",
    "EYP": "early-years",
}
"""SEN2 SENSetting -> contracts SettingType; any other SENSetting is ``other``."""


class Sen2Event(NamedTuple):
    """An event and where in the file it came from (positions, never values)."""

    person: int
    request: int
    event: EventDict


@dataclass
class Sen2Summary:
    """Counts of one conversion; complete once its events have all been read."""

    header: Sen2Header = field(default_factory=Sen2Header)
    persons: int = 0
    requests: int = 0
    requests_imported: int = 0
    events: int = 0
    events_by_type: Counter[str] = field(default_factory=Counter)
    problems: list[Problem] = field(default_factory=list)

    @property
    def requests_skipped(self) -> int:
        return self.requests - self.requests_imported

    @property
    def errors(self) -> int:
        return sum(1 for p in self.problems if p.severity == "error")

    @property
    def warnings(self) -> int:
        return sum(1 for p in self.problems if p.severity == "warning")


_NOON: dict[date, str] = {}


def _at_noon(d: date) -> str:
    text = _NOON.get(d)
    if text is None:
        text = f"{d.isoformat()}T12:00:00+00:00"
        if len(_NOON) < 100_000:
            _NOON[d] = text
    return text


def setting_type(placements: Iterable[Placement]) -> str | None:
    """The setting of the first-ranked placement: its SENSetting group, or None when it
    is a URN/UKPRN (the establishment type needs GIAS, which the import does not have)."""
    ordered = sorted(placements, key=lambda p: p.rank or 9)
    if not ordered:
        return None
    first = ordered[0]
    if first.sen_setting is None:
        return None
    return SETTING_TYPES.get(first.sen_setting, "other")


class EventBuilder:
    """Turns one person's records into events (and problems the conversion finds)."""

    def __init__(
        self,
        pseudonymiser: Pseudonymiser,
        *,
        file_name: str,
        localities: LocalityMap | None = None,
        source: str = SOURCE_ID,
        window: TimeWindow | None = None,
        settings: Mapping[str, str] | None = None,
        placements: bool = False,
    ) -> None:
        self._settings = settings or {}  # URN/UKPRN -> DfE setting type (placements)
        self._placements = placements  # also the plan and placement events (placements.py)
        self._p = pseudonymiser
        self.untyped_placements = 0
        self._file_name = file_name
        self._localities = localities or load_localities()
        self._source = source
        self._window = window or load_window()
        self._now = datetime.now(UTC)
        self._earliest = self._window.earliest
        self._latest = self._window.latest(self._now)

    def _implausible(self, request: RequestRecord) -> tuple[str, str] | None:
        """(SEN2 field, why) of the first date of ``request`` outside the window."""
        dates: list[tuple[str, date | None]] = [
            ("ReceivedDate", request.received),
            ("RequestOutcomeDate", request.outcome_date),
        ]
        for a in request.assessments:
            dates.append(("AssessmentOutcomeDate", a.outcome_date))
            if a.plan is not None:
                dates.append(("CeaseDate", a.plan.cease_date))
        lo, hi = self._earliest, self._latest
        for name, value in dates:
            if value is not None and not lo <= value <= hi:
                return name, self._window.problem(value, self._now) or "outside the window"
        return None

    def person_events(self, person: PersonRecord) -> tuple[list[Sen2Event], list[Problem]]:
        """The events of every importable request of ``person``, and the problems found
        on the way (ages out of range)."""
        events: list[Sen2Event] = []
        problems: list[Problem] = []
        if person.birth_date is None:  # reported by the reader
            return events, problems
        identity = self._p.identity(person.upn, person.uln, self._file_name, person.position)
        base: dict[str, Any] = {
            "person_id": self._p.person_id(identity),
            "locality": self._localities.locality(person.postcode),
        }
        for request in person.requests:
            implausible = self._implausible(request)
            if implausible is not None:
                problems.append(
                    Problem(
                        person.position,
                        request.position,
                        ProblemReason.DATE_OUT_OF_RANGE,
                        implausible[0],
                        f"date {implausible[1]} (request not imported)",
                    )
                )
                continue
            age = age_on(person.birth_date, request.received)
            band = age_band(age)
            if band is None:
                problems.append(
                    Problem(
                        person.position,
                        request.position,
                        ProblemReason.AGE_OUT_OF_RANGE,
                        "PersonBirthDate",
                        (
                            "date of birth is after ReceivedDate"
                            if age < 0
                            else "age at ReceivedDate is over 25"
                        )
                        + " (request not imported)",
                    )
                )
                continue
            attrs = dict(base)
            attrs["age_band"] = band.value
            attrs["phase"] = PHASE_OF_BAND[band].value
            self._request_events(person, request, identity, attrs, events)
        return events, problems

    def _request_events(
        self,
        person: PersonRecord,
        request: RequestRecord,
        identity: str,
        attrs: dict[str, Any],
        out: list[Sen2Event],
    ) -> None:
        primary = next((n.sen_type for n in request.needs if n.rank == 1), None)
        if primary is not None:
            attrs["primary_need"] = primary
        setting = setting_type(request.placements)
        if setting is None:
            for assessment in reversed(request.assessments):
                if assessment.plan is not None and assessment.plan.placements:
                    setting = setting_type(assessment.plan.placements)
                    break
        if setting is not None:
            attrs["setting_type"] = setting
        if person.sex is not None:
            attrs["sex"] = person.sex
        if person.ethnicity is not None:
            attrs["ethnicity"] = person.ethnicity

        case_id = self._p.case_id(identity, request.received, request.position)
        event_id = self._p.event_id
        source = self._source
        pos, req = person.position, request.position
        append = out.append

        def emit(etype: str, when: date, data: dict[str, Any], discriminator: str = "") -> None:
            append(
                Sen2Event(
                    pos,
                    req,
                    {
                        "id": event_id(case_id, etype, discriminator),
                        "source": source,
                        "type": etype,
                        "subject": case_id,
                        "time": _at_noon(when),
                        "schema_version": SCHEMA_VERSION,
                        "data": data,
                    },
                )
            )

        received = request.received
        data = dict(attrs)
        if request.request_source:
            data["request_source"] = request.request_source
        data["rya"] = request.rya
        data["historical"] = request.historical
        emit(REQUEST_RECEIVED, received, data)
        for need in request.needs:
            emit(
                NEED_RECORDED,
                received,
                {**attrs, "sen_type": need.sen_type, "rank": need.rank},
                "rank1" if need.rank == 1 else "rank2",
            )
        for a in request.assessments:
            if a.week20:
                emit(
                    EXCEPTION_STARTED,
                    received,
                    {**attrs, "reason": "unspecified"},
                    f"a{a.position}",
                )
        if request.outcome_date is not None and request.outcome in ("Y", "N", "W"):
            emit(DECISION_TO_ASSESS, request.outcome_date, {**attrs, "outcome": request.outcome})
        elif request.outcome == "W":
            # SEN2 needs no RequestOutcomeDate for W; the request was withdrawn before any
            # decision, so the withdrawal is dated on the request (it closes the case and
            # is not a decision, so no timeliness measure uses its date).
            emit(DECISION_TO_ASSESS, received, {**attrs, "outcome": "W"})
        for a in request.assessments:
            tag = f"a{a.position}"
            if a.outcome_date is not None and a.outcome in ("Y", "N", "W"):
                emit(ASSESSMENT_DECISION, a.outcome_date, {**attrs, "outcome": a.outcome}, tag)
                if a.outcome == "Y":
                    emit(FINAL_ISSUED, a.outcome_date, dict(attrs), tag)
            plan = a.plan
            if plan is not None and plan.cease_date is not None and plan.cease_reason:
                emit(
                    PLAN_CEASED, plan.cease_date, {**attrs, "cease_reason": plan.cease_reason}, tag
                )
        # --- placements and sufficiency: the plan and its placements, about the person
        if not self._placements:
            return
        person_id = attrs["person_id"]

        def emit_placement(etype: str, when: date, data: dict[str, Any], tag: str) -> None:
            append(
                Sen2Event(
                    pos,
                    req,
                    {
                        "id": event_id(case_id, etype, tag),
                        "source": source,
                        "type": etype,
                        "subject": person_id,
                        "time": _at_noon(when),
                        "schema_version": SCHEMA_VERSION,
                        "data": data,
                    },
                )
            )

        assert person.birth_date is not None
        untyped = placement_events(
            request, person.birth_date, attrs, self._settings, emit_placement
        )
        if untyped:
            self.untyped_placements += untyped


class Sen2Conversion:
    """Stream the events of a SEN2 return, in file order (a case's events in causal
    order).  ``summary`` counts as it goes and is complete once iteration ends."""

    def __init__(
        self,
        source: Source,
        pseudonymiser: Pseudonymiser,
        *,
        file_name: str,
        localities: LocalityMap | None = None,
        settings: Mapping[str, str] | None = None,
        placements: bool = False,
    ) -> None:
        self.reader = Sen2Reader(source)
        self.builder = EventBuilder(
            pseudonymiser,
            file_name=file_name,
            localities=localities,
            settings=settings,
            placements=placements,
        )
        self.summary = Sen2Summary(header=self.reader.header)
        self._conversion_problems: list[Problem] = []

    def __iter__(self) -> Iterator[Sen2Event]:
        summary = self.summary
        reader = self.reader
        by_type: dict[str, int] = {}
        person_events = self.builder.person_events
        summary.requests_imported = summary.events = 0
        summary.events_by_type.clear()
        self._conversion_problems.clear()
        try:
            for person in reader:
                events, problems = person_events(person)
                if problems:
                    self._conversion_problems.extend(problems)
                if events:
                    last = 0
                    for item in events:
                        etype = item.event["type"]
                        by_type[etype] = by_type.get(etype, 0) + 1
                        if item.request != last:
                            summary.requests_imported += 1
                            last = item.request
                    summary.events += len(events)
                    yield from events
        finally:
            summary.persons = reader.persons
            summary.requests = reader.requests
            summary.events_by_type.update(by_type)
            summary.problems = sorted(
                [*reader.problems, *self._conversion_problems],
                key=lambda p: (p.person, p.request or 0),
            )


def convert_sen2(
    source: Source,
    pseudonymiser: Pseudonymiser,
    *,
    file_name: str,
    localities: LocalityMap | None = None,
    settings: Mapping[str, str] | None = None,
    placements: bool = False,
) -> tuple[list[EventDict], Sen2Summary]:
    """Convert a whole file at once (tests and small files; the import streams).  With
    ``placements``, the plan and placement events too (``placements.py``)."""
    conversion = Sen2Conversion(
        source,
        pseudonymiser,
        file_name=file_name,
        localities=localities,
        settings=settings,
        placements=placements,
    )
    events = [item.event for item in conversion]
    return events, conversion.summary
