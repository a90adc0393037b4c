"""Read a DfE SEN2 person-level XML return into records and problems (pure: no I/O).

The reader streams the file with :func:`xml.etree.ElementTree.iterparse` and hands out
one :class:`PersonRecord` per ``Person`` element, clearing each element once read, so
memory stays flat and a 150,000-request return parses in a few seconds.

Every element is optional.  What the reader cannot use is reported as a
:class:`Problem` located by the **person position** (1-based index of the ``Person`` in
the file) and the **request position** (1-based index of the ``Requests`` within that
person), never by a value from the file:

* ``error``: the request (or, for a person-level problem, all the person's requests) is
  not imported: a missing or unparseable ``ReceivedDate``, an unparseable outcome date,
  an unknown ``RequestOutcome`` / ``AssessmentOutcome`` / ``Week20`` code, an outcome
  dated before the request, a missing or unparseable date of birth.
* ``warning``: only that value is ignored and the request is imported: an unknown sex,
  ethnicity, request source, need, setting or cease reason, a cease date without a
  reason, a person with neither UPN nor ULN (pseudonymised by position instead).

Names are dropped as they are read; identifying values (UPN, ULN, date of birth,
postcode) are kept on the records only until :mod:`~services.ingest.sources.sen2.events`
pseudonymises them, and are hidden from the records' ``repr``.
"""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import BinaryIO, Literal
from xml.parsers import expat

from contracts.codes import SENType

Severity = Literal["error", "warning"]
Source = bytes | BinaryIO | Path


class ProblemReason(StrEnum):
    MISSING_RECEIVED_DATE = "missing_received_date"
    MISSING_BIRTH_DATE = "missing_birth_date"
    BAD_DATE = "bad_date"
    UNKNOWN_CODE = "unknown_code"
    DATE_BEFORE_RECEIVED = "date_before_received"
    AGE_OUT_OF_RANGE = "age_out_of_range"
    DATE_OUT_OF_RANGE = "date_out_of_range"
    MISSING_CEASE_REASON = "missing_cease_reason"
    NO_IDENTIFIER = "no_identifier"
    REJECTED_BY_INGEST = "rejected_by_ingest"


@dataclass(frozen=True, slots=True)
class Problem:
    """Something in the file the import could not use, located by position only."""

    person: int
    request: int | None
    reason: ProblemReason
    field: str | None
    message: str
    severity: Severity = "error"

    def __str__(self) -> str:
        where = f"person {self.person}"
        if self.request is not None:
            where += f", request {self.request}"
        at = f" ({self.field})" if self.field else ""
        return f"{where}: {self.severity} {self.reason.value}{at}: {self.message}"


class Sen2FormatError(ValueError):
    """The file is not well-formed XML, or not a SEN2 return at all."""


@dataclass(slots=True)
class Sen2Header:
    collection: str | None = None
    year: int | None = None
    reference_date: date | None = None
    la_code: str | None = None


@dataclass(slots=True)
class Placement:
    """A PlanDetail (named in the plan) or PlacementDetail (current placement)."""

    has_provider: bool  # a URN or UKPRN was given
    sen_setting: str | None  # a known SENSetting code, or None
    rank: int | None
    # the placement detail the placement measures need (establishment ids, not personal)
    urn: str | None = None
    ukprn: str | None = None
    entry_date: date | None = None
    leaving_date: date | None = None
    sen_unit: bool = False
    resourced: bool = False


@dataclass(slots=True)
class ActivePlansRecord:
    """ActivePlans: the plan's reviews and phase transfer (SEN2 module 5)."""

    transfer_la: str | None = None
    review_meeting: date | None = None
    last_review: date | None = None
    review_outcome: str | None = None
    phase_transfer_due: date | None = None
    phase_transfer_final: date | None = None


@dataclass(slots=True)
class NamedPlanRecord:
    cease_date: date | None
    cease_reason: str | None
    placements: tuple[Placement, ...]
    start_date: date | None = None


@dataclass(slots=True)
class AssessmentRecord:
    position: int
    outcome: str | None  # Y N A W H
    outcome_date: date | None
    week20: bool
    plan: NamedPlanRecord | None


@dataclass(slots=True)
class NeedRecord:
    sen_type: str
    rank: int  # 1 primary, 2 secondary


@dataclass(slots=True)
class RequestRecord:
    position: int
    received: date
    request_source: str | None
    rya: bool
    outcome: str | None  # Y N A W H
    outcome_date: date | None
    assessments: tuple[AssessmentRecord, ...]
    needs: tuple[NeedRecord, ...]
    placements: tuple[Placement, ...]  # ActivePlans/PlacementDetail
    active: ActivePlansRecord | None = None  # ActivePlans present: a plan active at census
    mediation: bool = False  # any Request/Assessment/Other mediation flag
    tribunal: bool = False  # any Request/Assessment/Other tribunal flag

    @property
    def historical(self) -> bool:
        """Excluded from timeliness: the decision to issue came before the period
        (AssessmentOutcome H, which includes plans transferred in), or the request was
        decided before the period (RequestOutcome H) and no plan was issued or refused in
        it.  A request decided last year whose plan is issued this year still counts, as
        DfE counts every plan issued in the year."""
        if any(a.outcome == "H" for a in self.assessments):
            return True
        return self.outcome == "H" and not any(a.outcome in ("Y", "N") for a in self.assessments)


@dataclass(slots=True)
class PersonRecord:
    """One Person.  Identifying values are hidden from repr; names are never kept."""

    position: int
    upn: str | None = field(repr=False)
    uln: str | None = field(repr=False)
    birth_date: date | None = field(repr=False)
    postcode: str | None = field(repr=False)
    sex: str | None
    ethnicity: str | None
    requests: tuple[RequestRecord, ...]
    requests_seen: int  # Requests elements, including those not imported


# --------------------------------------------------------------------------- code lists

SEX_CODES = {"M": "M", "F": "F", "U": "U", "1": "M", "2": "F", "0": "U", "9": "U"}
"""Sex (M/F/U); older returns' GenderCurrent (1 male, 2 female, 0/9 unknown) too."""
OUTCOME_CODES = frozenset("YNAWH")
REQUEST_SOURCES = frozenset("12345")
SEN_TYPES = frozenset(t.value for t in SENType)
CEASE_REASONS = frozenset("123456789")
SEN_SETTINGS = frozenset({"OLA", "OPA", "EHE", "EYP", "OTH", "NEET", "NIEC", "NIEO"})
BOOLEANS = {"1": True, "0": False, "true": True, "false": False}


# --------------------------------------------------------------------------- helpers
#
# The functions below run once per element of a 150,000-request file, so they read
# children directly (no XPath) and only leave the fast path when something is wrong.


def _local(tag: str) -> str:
    return tag if tag[0] != "{" else tag[tag.index("}") + 1 :]


def _strip_namespaces(elem: ET.Element) -> None:
    for node in elem.iter():
        if node.tag[0] == "{":
            node.tag = _local(node.tag)


def _fields(elem: ET.Element) -> tuple[dict[str, str], list[ET.Element]]:
    """Leaf children's text by tag, and the children that have children."""
    leaves: dict[str, str] = {}
    nested: list[ET.Element] = []
    for child in elem:
        if len(child):
            nested.append(child)
        else:
            text = child.text
            leaves[child.tag] = text.strip() if text else ""
    return leaves, nested


def parse_date(text: str) -> date | None:
    """``CCYY-MM-DD`` (a trailing time, as some systems write, is ignored); None if bad."""
    if len(text) != 10:
        if len(text) > 10 and text[10] in "T ":
            text = text[:10]
        else:
            return None
    if text[4] != "-" or text[7] != "-":
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


class _Collector:
    """Problems of one person, with the person position filled in."""

    __slots__ = ("person", "problems")

    def __init__(self, person: int, problems: list[Problem]) -> None:
        self.person = person
        self.problems = problems

    def add(
        self,
        request: int | None,
        reason: ProblemReason,
        field_name: str | None,
        message: str,
        severity: Severity = "error",
    ) -> None:
        self.problems.append(Problem(self.person, request, reason, field_name, message, severity))

    def bad_date(self, request: int | None, name: str, severity: Severity) -> None:
        effect = "request not imported" if severity == "error" else "value ignored"
        self.add(
            request,
            ProblemReason.BAD_DATE,
            name,
            f"{name} is not a CCYY-MM-DD date ({effect})",
            severity,
        )

    def code(
        self, raw: str, name: str, allowed: frozenset[str], request: int | None, severity: Severity
    ) -> str | None:
        """Slow path of a code that is not in ``allowed`` as written: try upper case."""
        code = raw.upper()
        if code in allowed:
            return code
        effect = "request not imported" if severity == "error" else "value ignored"
        self.add(
            request,
            ProblemReason.UNKNOWN_CODE,
            name,
            f"{name} is not a known code ({effect})",
            severity,
        )
        return None


def _placement(elem: ET.Element, out: _Collector, request: int) -> Placement:
    leaves, _ = _fields(elem)
    setting = leaves.get("SENSetting") or None
    if setting is not None and setting not in SEN_SETTINGS:
        setting = setting.upper()
        if setting not in SEN_SETTINGS:
            out.add(
                request,
                ProblemReason.UNKNOWN_CODE,
                "SENSetting",
                "SENSetting is not a known code (taken as other)",
                "warning",
            )
            setting = "OTH"
    rank = leaves.get("PlacementRank")
    urn = (leaves.get("URN") or "").strip() or None
    ukprn = (leaves.get("UKPRN") or "").strip() or None
    return Placement(
        has_provider=bool(urn or ukprn),
        sen_setting=setting,
        rank=(1 if rank == "1" else 2 if rank == "2" else None),
        urn=urn if urn and urn.isdigit() else None,
        ukprn=ukprn if ukprn and ukprn.isdigit() else None,
        entry_date=_optional_date(leaves, "EntryDate", out, request),
        leaving_date=_optional_date(leaves, "LeavingDate", out, request),
        sen_unit=leaves.get("SENunitIndicator") in ("1", "true"),
        resourced=leaves.get("ResourcedProvisionIndicator") in ("1", "true"),
    )


def _optional_date(leaves: dict[str, str], name: str, out: _Collector, request: int) -> date | None:
    raw = leaves.get(name)
    if not raw:
        return None
    value = parse_date(raw)
    if value is None:
        out.bad_date(request, name, "warning")
    return value


def _flagged(leaves: dict[str, str], *names: str) -> bool:
    return any(leaves.get(n) in ("1", "true") for n in names)


def _assessment(
    elem: ET.Element, position: int, received: date, out: _Collector, request: int
) -> tuple[AssessmentRecord, bool]:
    leaves, nested = _fields(elem)
    ok = True
    outcome = leaves.get("AssessmentOutcome") or None
    if outcome is not None and outcome not in OUTCOME_CODES:
        outcome = out.code(outcome, "AssessmentOutcome", OUTCOME_CODES, request, "error")
        ok = outcome is not None
    raw = leaves.get("AssessmentOutcomeDate")
    outcome_date = parse_date(raw) if raw else None
    if raw and outcome_date is None:
        out.bad_date(request, "AssessmentOutcomeDate", "error")
        ok = False
    elif outcome_date is not None and outcome_date < received:
        out.add(
            request,
            ProblemReason.DATE_BEFORE_RECEIVED,
            "AssessmentOutcomeDate",
            "AssessmentOutcomeDate is before ReceivedDate (request not imported)",
        )
        ok = False
    week20_raw = leaves.get("Week20")
    week20 = week20_raw == "1"
    if week20_raw and not week20 and week20_raw != "0":
        flag = BOOLEANS.get(week20_raw.lower())
        if flag is None:
            out.add(
                request,
                ProblemReason.UNKNOWN_CODE,
                "Week20",
                "Week20 is not 0 or 1 (request not imported)",
            )
            ok = False
        else:
            week20 = flag
    plan: NamedPlanRecord | None = None
    for child in nested:
        if child.tag == "NamedPlan" and plan is None:
            plan = _named_plan(child, received, out, request)
    return AssessmentRecord(position, outcome, outcome_date, week20, plan), ok


def _named_plan(elem: ET.Element, received: date, out: _Collector, request: int) -> NamedPlanRecord:
    leaves, nested = _fields(elem)
    raw = leaves.get("CeaseDate")
    cease_date = parse_date(raw) if raw else None
    if raw and cease_date is None:
        out.bad_date(request, "CeaseDate", "warning")
    cease_reason = leaves.get("CeaseReason") or None
    if cease_reason is not None and cease_reason not in CEASE_REASONS:
        cease_reason = out.code(cease_reason, "CeaseReason", CEASE_REASONS, request, "warning")
    if cease_date is not None:
        if cease_date < received:
            out.add(
                request,
                ProblemReason.DATE_BEFORE_RECEIVED,
                "CeaseDate",
                "CeaseDate is before ReceivedDate (cease ignored)",
                "warning",
            )
            cease_date = None
        elif not leaves.get("CeaseReason"):
            out.add(
                request,
                ProblemReason.MISSING_CEASE_REASON,
                "CeaseReason",
                "CeaseDate without a CeaseReason (cease ignored)",
                "warning",
            )
    placements = tuple(
        _placement(child, out, request) for child in nested if child.tag == "PlanDetail"
    )
    start = _optional_date(leaves, "StartDate", out, request)
    return NamedPlanRecord(cease_date, cease_reason, placements, start)


def _active_record(elem: ET.Element, out: _Collector, request: int) -> ActivePlansRecord:
    leaves, _ = _fields(elem)
    transfer = (leaves.get("TransferLA") or "").strip()
    return ActivePlansRecord(
        transfer_la=transfer if transfer.isdigit() and len(transfer) == 3 else None,
        review_meeting=_optional_date(leaves, "ReviewMeeting", out, request),
        last_review=_optional_date(leaves, "LastReview", out, request),
        review_outcome=(leaves.get("ReviewOutcome") or "").strip().upper()[:2] or None,
        phase_transfer_due=_optional_date(leaves, "PhaseTransferDueDate", out, request),
        phase_transfer_final=_optional_date(leaves, "PhaseTransferFinalDate", out, request),
    )


def _active_plans(
    elem: ET.Element, out: _Collector, request: int
) -> tuple[tuple[NeedRecord, ...], tuple[Placement, ...]]:
    needs: list[NeedRecord] = []
    placements: list[Placement] = []
    for child in elem:
        tag = child.tag
        if tag == "SENneed":
            leaves, _ = _fields(child)
            sen_type = leaves.get("SENtype") or None
            if sen_type is not None and sen_type not in SEN_TYPES:
                sen_type = out.code(sen_type, "SENtype", SEN_TYPES, request, "warning")
            if sen_type is None:
                continue
            rank_raw = leaves.get("SENtypeRank")
            if rank_raw == "1" or rank_raw == "2":
                rank = int(rank_raw)
            else:
                if rank_raw:
                    out.add(
                        request,
                        ProblemReason.UNKNOWN_CODE,
                        "SENtypeRank",
                        "SENtypeRank is not 1 or 2 (taken from the order of SENneed)",
                        "warning",
                    )
                rank = 1 if not needs else 2
            needs.append(NeedRecord(sen_type, rank))
        elif tag == "PlacementDetail" and len(child):
            placements.append(_placement(child, out, request))
    return tuple(needs), tuple(placements)


def _request(elem: ET.Element, position: int, out: _Collector) -> RequestRecord | None:
    leaves, nested = _fields(elem)
    raw = leaves.get("ReceivedDate")
    received = parse_date(raw) if raw else None
    ok = received is not None
    if not raw:
        out.add(
            position,
            ProblemReason.MISSING_RECEIVED_DATE,
            "ReceivedDate",
            "request has no ReceivedDate (request not imported)",
        )
    elif received is None:
        out.bad_date(position, "ReceivedDate", "error")
    outcome = leaves.get("RequestOutcome") or None
    if outcome is not None and outcome not in OUTCOME_CODES:
        outcome = out.code(outcome, "RequestOutcome", OUTCOME_CODES, position, "error")
        ok = ok and outcome is not None
    raw = leaves.get("RequestOutcomeDate")
    outcome_date = parse_date(raw) if raw else None
    if raw and outcome_date is None:
        out.bad_date(position, "RequestOutcomeDate", "error")
        ok = False
    if received is None:
        return None
    if outcome_date is not None and outcome_date < received:
        out.add(
            position,
            ProblemReason.DATE_BEFORE_RECEIVED,
            "RequestOutcomeDate",
            "RequestOutcomeDate is before ReceivedDate (request not imported)",
        )
        ok = False
    request_source = leaves.get("RequestSource") or None
    if request_source is not None and request_source not in REQUEST_SOURCES:
        request_source = out.code(
            request_source, "RequestSource", REQUEST_SOURCES, position, "warning"
        )
    rya_raw = leaves.get("RYA")
    rya = rya_raw == "1"
    if rya_raw and not rya and rya_raw != "0":
        flag = BOOLEANS.get(rya_raw.lower())
        if flag is None:
            out.add(
                position,
                ProblemReason.UNKNOWN_CODE,
                "RYA",
                "RYA is not 0 or 1 (taken as 0)",
                "warning",
            )
        rya = bool(flag)
    assessments: list[AssessmentRecord] = []
    needs: tuple[NeedRecord, ...] = ()
    placements: tuple[Placement, ...] = ()
    seen_active = False
    active: ActivePlansRecord | None = None
    mediation = _flagged(leaves, "RequestMediation")
    tribunal = _flagged(leaves, "RequestTribunal")
    for child in nested:
        tag = child.tag
        if tag == "Assessment":
            record, good = _assessment(child, len(assessments) + 1, received, out, position)
            ok = ok and good
            assessments.append(record)
            a_leaves, _ = _fields(child)
            mediation = mediation or _flagged(a_leaves, "AssessmentMediation", "OtherMediation")
            tribunal = tribunal or _flagged(a_leaves, "AssessmentTribunal", "OtherTribunal")
        elif tag == "ActivePlans" and not seen_active:
            seen_active = True
            needs, placements = _active_plans(child, out, position)
            active = _active_record(child, out, position)
    if not ok:
        return None
    return RequestRecord(
        position,
        received,
        request_source,
        rya,
        outcome,
        outcome_date,
        tuple(assessments),
        needs,
        placements,
        active,
        mediation,
        tribunal,
    )


def _person(elem: ET.Element, position: int, problems: list[Problem]) -> PersonRecord:
    out = _Collector(position, problems)
    leaves: dict[str, str] = {}
    request_elems: list[ET.Element] = []
    for child in elem:
        tag = child.tag
        if tag == "Requests":
            request_elems.append(child)
        else:
            text = child.text
            leaves[tag] = text.strip() if text else ""
    # Surname and Forename are in ``leaves`` only until this function returns.
    raw_dob = leaves.get("PersonBirthDate")
    birth = parse_date(raw_dob) if raw_dob else None
    if not raw_dob:
        out.add(
            None,
            ProblemReason.MISSING_BIRTH_DATE,
            "PersonBirthDate",
            "person has no date of birth, so no age band (person's requests not imported)",
        )
    elif birth is None:
        out.add(
            None,
            ProblemReason.BAD_DATE,
            "PersonBirthDate",
            "PersonBirthDate is not a CCYY-MM-DD date (person's requests not imported)",
        )
    sex_name = "Sex" if leaves.get("Sex") else "GenderCurrent"
    sex_raw = leaves.get(sex_name)
    sex = SEX_CODES.get(sex_raw) if sex_raw else None
    if sex_raw and sex is None:
        sex = SEX_CODES.get(sex_raw.upper())
        if sex is None:
            out.add(
                None,
                ProblemReason.UNKNOWN_CODE,
                sex_name,
                f"{sex_name} is not M, F or U (omitted)",
                "warning",
            )
    ethnicity = leaves.get("Ethnicity") or None
    if ethnicity is not None and not (
        len(ethnicity) == 4 and ethnicity.isascii() and ethnicity.isalpha() and ethnicity.isupper()
    ):
        upper = ethnicity.upper()
        if len(upper) == 4 and upper.isascii() and upper.isalpha():
            ethnicity = upper
        else:
            out.add(
                None,
                ProblemReason.UNKNOWN_CODE,
                "Ethnicity",
                "Ethnicity is not a 4-letter DfE code (omitted)",
                "warning",
            )
            ethnicity = None
    upn = leaves.get("UPN") or None
    if upn is not None:
        upn = "".join(upn.split()).upper() or None
    uln = leaves.get("UniqueLearnerNumber") or None
    if uln is not None:
        uln = "".join(uln.split()) or None
    if upn is None and uln is None:
        out.add(
            None,
            ProblemReason.NO_IDENTIFIER,
            "UPN",
            "neither UPN nor ULN: pseudonymised by position in the file "
            "(ids will not match a re-ordered file)",
            "warning",
        )
    requests: list[RequestRecord] = []
    for index, child in enumerate(request_elems, start=1):
        record = _request(child, index, out)
        if record is not None:
            requests.append(record)
    return PersonRecord(
        position,
        upn,
        uln,
        birth,
        leaves.get("PostCode") or None,
        sex,
        ethnicity,
        tuple(requests),
        len(request_elems),
    )


# --------------------------------------------------------------------------- entry points


def _open(source: Source) -> tuple[BinaryIO, bool]:
    if isinstance(source, bytes):
        return io.BytesIO(source), True
    if isinstance(source, Path):
        return source.open("rb"), True
    return source, False


def check_well_formed(source: Source) -> str:
    """Raise :class:`Sen2FormatError` unless ``source`` is well-formed XML rooted at
    ``Message``; return the root element's name.  Fast (expat, no tree): run it before
    posting anything, so a truncated file is refused as a whole."""
    stream, own = _open(source)
    root: list[str] = []
    parser = expat.ParserCreate()

    def first(name: str, _attrs: object) -> None:
        root.append(name.rpartition(":")[2])
        parser.StartElementHandler = None

    parser.StartElementHandler = first
    try:
        parser.ParseFile(stream)
    except expat.ExpatError as exc:
        # The message holds the error kind, line and column, never the file's content.
        raise Sen2FormatError(f"the file is not well-formed XML: {exc}") from None
    finally:
        if own:
            stream.close()
    if not root or root[0] != "Message":
        raise Sen2FormatError(
            "not a SEN2 return: the root element is not <Message>"
            + (f" (it is <{root[0][:40]}>)" if root else "")
        )
    return root[0]


class Sen2Reader:
    """Iterate the persons of a SEN2 return.

    ``header``, ``persons``, ``requests`` and ``problems`` fill in as the iteration goes
    and are complete when it ends.  ``bytes_read`` is how far into the file it got (for
    progress).  A file that is not well-formed raises :class:`Sen2FormatError` at the
    point of the error; :func:`check_well_formed` first if nothing should be used then.
    """

    def __init__(self, source: Source) -> None:
        self._source = source
        self.header = Sen2Header()
        self.problems: list[Problem] = []
        self.persons = 0
        self.requests = 0
        self._stream: BinaryIO | None = None

    @property
    def bytes_read(self) -> int:
        stream = self._stream
        if stream is None or stream.closed:
            return 0
        return stream.tell()

    def __iter__(self) -> Iterator[PersonRecord]:
        stream, own = _open(self._source)
        self._stream = stream
        try:
            yield from self._records(stream)
        finally:
            if own:
                stream.close()

    def _records(self, stream: BinaryIO) -> Iterator[PersonRecord]:
        header = self.header
        self.persons = self.requests = 0
        self.problems.clear()
        try:
            for _event, elem in ET.iterparse(stream, events=("end",)):
                tag = elem.tag
                if tag[0] == "{":  # a namespaced file: strip, so the readers see local names
                    _strip_namespaces(elem)
                    tag = elem.tag
                if tag == "Person":
                    self.persons += 1
                    record = _person(elem, self.persons, self.problems)
                    self.requests += record.requests_seen
                    elem.clear()
                    yield record
                elif tag == "CollectionDetails":
                    leaves, _ = _fields(elem)
                    header.collection = leaves.get("Collection") or None
                    year = leaves.get("Year", "")
                    header.year = int(year) if year.isdigit() else None
                    header.reference_date = parse_date(leaves.get("ReferenceDate", ""))
                elif tag == "Source":
                    leaves, _ = _fields(elem)
                    la = leaves.get("LEA", "")
                    header.la_code = la if len(la) == 3 and la.isdigit() else None
        except ET.ParseError as exc:
            raise Sen2FormatError(
                f"the file is not well-formed XML: {exc} (after person {self.persons})"
            ) from None


@dataclass
class ParseResult:
    header: Sen2Header
    persons: list[PersonRecord]
    problems: list[Problem]
    requests: int


def parse_sen2(source: Source) -> ParseResult:
    """Read a whole SEN2 return at once (small files and tests; the import streams)."""
    reader = Sen2Reader(source)
    persons = list(reader)
    return ParseResult(reader.header, persons, reader.problems, reader.requests)
