"""A synthetic SEN2 person-level return and the figures DfE would publish from it (pure).

No public person-level SEN2 sample exists, so the import is tested against files built
from the documented structure and code lists (``docs``: sen2-xml.md, standards §1.2-1.4).
The file is deliberately *identifying* (names, dates of birth, valid-looking UPNs, ULNs,
full Shropshire postcodes) so tests can prove none of it survives the import.

``year`` is the calendar year the figures cover.  As in DfE's collection, the return
that reports calendar year Y is the collection of January Y+1: the header says
``Year`` = Y+1 and ``ReferenceDate`` = the third Thursday of January Y+1 (the census
day, e.g. 16 January 2025 for the 2025 collection of 2024 activity).  Requests are
received mostly in Y-1 and Y; about a quarter of the requests are historical (``H``:
plans decided years before, the standing caseload).

The expected figures are counted straight from the generated values (not by parsing
the file), DfE's way (standards §1.4):

* plans issued: ``AssessmentOutcome = Y`` with ``AssessmentOutcomeDate`` in ``year``,
  not historical; within 20 weeks = at most 140 days after ``ReceivedDate``; 20-52 weeks
  = 141-364 days; over 52 weeks = 365 days or more; the ``_ex`` series leaves out
  ``Week20 = 1``; average weeks = mean of days / 7;
* breakdowns by sex and by age band.  The age is the age at ``ReceivedDate`` (the age
  the import puts on every event of the case).  DfE's published age breakdown may use a
  different reference date (e.g. 31 August); this is the documented choice here;
* requests received in ``year`` (not historical) by RequestOutcome: assessed (Y), not
  assessed (N), ongoing (A), withdrawn (W); decisions within six weeks: requests received
  in ``year`` with RequestOutcome Y or N and a RequestOutcomeDate at most 42 days after
  ``ReceivedDate``.

``malformed=n`` corrupts the last request of ``n`` persons (bad date, missing
``ReceivedDate``, unknown outcome code, outcome before the request, bad date of birth);
those requests are left out of every expected figure and listed in ``malformed``.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, timedelta

from services.ingest.sources.sen2.pseudonymise import age_band, age_on

STATUTORY_DAYS = 140
ONE_YEAR_DAYS = 365
SIX_WEEKS_DAYS = 42

FORENAMES = (
    "Oliver", "Amelia", "George", "Isla", "Harry", "Ava", "Noah", "Mia", "Jack", "Ivy",
    "Charlie", "Lily", "Leo", "Freya", "Oscar", "Florence", "Arthur", "Willow", "Muhammad",
    "Evie", "Theodore", "Sophia", "Freddie", "Poppy", "Alfie", "Grace", "Jacob", "Elsie",
    "Thomas", "Rosie", "Henry", "Daisy", "Archie", "Harper", "Teddy", "Emily", "Finley",
    "Phoebe", "Lucas", "Matilda"
)  # fmt: skip
SURNAMES = (
    "Smith", "Jones", "Williams", "Taylor", "Brown", "Davies", "Evans", "Wilson", "Thomas",
    "Johnson", "Roberts", "Robinson", "Thompson", "Wright", "Walker", "White", "Edwards",
    "Hughes", "Green", "Hall", "Lewis", "Harris", "Clarke", "Patel", "Jackson", "Wood",
    "Turner", "Martin", "Cooper", "Hill", "Morris", "Ward", "Moore", "Clark", "Baker",
    "Harrison", "Morgan", "Pritchard", "Owen", "Bebbington", "Corbett", "Mytton", "Onions",
    "Tudor", "Hotchkiss", "Ashdown", "Breakwell"
)  # fmt: skip

# Outward codes of Shropshire (contracts/localities.yaml), weighted by population.
SHROPSHIRE_OUTWARD = (
    ("SY1", 9), ("SY2", 7), ("SY3", 11), ("SY5", 5), ("SY11", 7), ("SY10", 4),
    ("SY12", 3), ("SY13", 3), ("SY4", 5), ("TF9", 5), ("TF11", 3), ("WV16", 4),
    ("WV15", 2), ("SY8", 4), ("SY6", 2), ("SY9", 1), ("SY7", 2),
)  # fmt: skip
OUT_OF_AREA_OUTWARD = ("TF1", "TF3", "ST5", "WR15", "LL14", "CW3")
INWARD_LETTERS = "ABDEFGHJLNPQRSTUWXYZ"
UPN_LETTERS = "ABCDEFGHJKLMNPQRTUVWXYZ"

ETHNICITY = (
    ("WBRI", 84), ("WOTH", 4), ("MWBC", 2), ("MOTH", 2), ("AOTH", 1), ("APKN", 1),
    ("BAFR", 1), ("WIRT", 1), ("CHNE", 1), ("REFU", 1), ("NOBT", 2),
)  # fmt: skip
SEN_NEEDS = (
    ("ASD", 35), ("SEMH", 20), ("SLCN", 18), ("MLD", 8), ("SPLD", 4), ("SLD", 4),
    ("PD", 3), ("PMLD", 2), ("HI", 1), ("VI", 1), ("MSI", 1), ("DS", 1), ("OTH", 2),
)  # fmt: skip
NO_URN_SETTINGS = (("EHE", 3), ("OLA", 2), ("EYP", 2), ("NIEO", 1), ("NIEC", 1), ("NEET", 1),
                   ("OTH", 1), ("OPA", 1))  # fmt: skip
# Age band of the latest request: (lowest age, highest age, weight).
AGE_BANDS = ((0, 4, 18), (5, 10, 36), (11, 15, 30), (16, 19, 13), (20, 24, 3))


@dataclass
class PlanTimeliness:
    """DfE's 20-week timeliness columns for one slice of plans."""

    plans_issued: int = 0
    within_20_weeks: int = 0
    weeks_20_to_52: int = 0
    over_52_weeks: int = 0
    total_days: int = 0

    def add(self, days: int) -> None:
        self.plans_issued += 1
        self.total_days += days
        if days <= STATUTORY_DAYS:
            self.within_20_weeks += 1
        elif days < ONE_YEAR_DAYS:
            self.weeks_20_to_52 += 1
        else:
            self.over_52_weeks += 1

    @property
    def avg_weeks(self) -> float | None:
        return self.total_days / 7 / self.plans_issued if self.plans_issued else None

    @property
    def pct_within_20_weeks(self) -> float | None:
        return 100 * self.within_20_weeks / self.plans_issued if self.plans_issued else None


@dataclass(frozen=True)
class MalformedRecord:
    person: int
    request: int | None  # None: a person-level problem (all the person's requests)
    reason: str  # the parser's ProblemReason value


@dataclass
class ExpectedFigures:
    year: int
    la_code: str
    collection_year: int
    reference_date: date
    persons: int = 0
    requests: int = 0
    """Requests elements in the file, malformed included."""
    requests_imported: int = 0
    historical_requests: int = 0
    plans: PlanTimeliness = field(default_factory=PlanTimeliness)
    plans_ex: PlanTimeliness = field(default_factory=PlanTimeliness)
    plans_by_sex: dict[str, PlanTimeliness] = field(default_factory=dict)
    plans_by_sex_ex: dict[str, PlanTimeliness] = field(default_factory=dict)
    plans_by_age_band: dict[str, PlanTimeliness] = field(default_factory=dict)
    plans_by_age_band_ex: dict[str, PlanTimeliness] = field(default_factory=dict)
    requests_received: int = 0
    requests_assessed: int = 0
    requests_not_assessed: int = 0
    requests_ongoing: int = 0
    requests_withdrawn: int = 0
    decisions_within_6_weeks: int = 0
    decisions_over_6_weeks: int = 0
    events_by_type: Counter[str] = field(default_factory=Counter)
    malformed: tuple[MalformedRecord, ...] = ()

    @property
    def events(self) -> int:
        return sum(self.events_by_type.values())


def reference_date(collection_year: int) -> date:
    """Census day: the third Thursday of January."""
    first = date(collection_year, 1, 1)
    first_thursday = first + timedelta(days=(3 - first.weekday()) % 7)
    return first_thursday + timedelta(days=14)


def _table(weights: tuple[tuple[str, int], ...]) -> tuple[list[str], list[int]]:
    values = [v for v, _ in weights]
    cum: list[int] = []
    total = 0
    for _, w in weights:
        total += w
        cum.append(total)
    return values, cum


@dataclass
class _Assessment:
    outcome: str
    outcome_date: date | None
    week20: bool
    setting: str | None  # a no-URN SENSetting, or None for a URN
    cease: tuple[date, str] | None


@dataclass
class _Request:
    received: date
    outcome: str
    outcome_date: date | None
    source: str
    assessment: _Assessment | None
    needs: list[str]
    malformed: str | None = None


def generate_sen2_xml(
    seed: int,
    persons: int,
    year: int = 2025,
    la_code: str = "893",
    *,
    malformed: int = 0,
) -> tuple[bytes, ExpectedFigures]:
    """A synthetic SEN2 return of ``persons`` persons (about 1.1 requests each) and the
    figures expected from it for calendar year ``year``.  Deterministic in ``seed``."""
    rng = random.Random(f"sen2-synthetic|{seed}")
    collection_year = year + 1
    ref = reference_date(collection_year)
    expected = ExpectedFigures(year, la_code, collection_year, ref, persons=persons)
    outward_values, outward_cum = _table(SHROPSHIRE_OUTWARD)
    eth_values, eth_cum = _table(ETHNICITY)
    need_values, need_cum = _table(SEN_NEEDS)
    setting_values, setting_cum = _table(NO_URN_SETTINGS)
    broken = set(rng.sample(range(1, persons + 1), min(malformed, persons))) if malformed else set()
    kinds = (
        "bad_date",
        "missing_received_date",
        "unknown_code",
        "date_before_received",
        "bad_birth_date",
    )
    broken_kind = {p: kinds[i % len(kinds)] for i, p in enumerate(sorted(broken))}
    malformed_records: list[MalformedRecord] = []

    year_start = date(year - 1, 1, 1)
    span_days = (date(year, 12, 31) - year_start).days
    choice = rng.choices
    rand = rng.random
    randint = rng.randint

    out: list[str] = [
        '<?xml version="1.0" encoding="UTF-8"?>\n<Message>\n<Header>\n'
        f"<CollectionDetails><Collection>SEN2</Collection><Year>{collection_year}</Year>"
        f"<ReferenceDate>{ref.isoformat()}</ReferenceDate></CollectionDetails>\n"
        f"<Source><SourceLevel>L</SourceLevel><LEA>{la_code}</LEA>"
        "<SoftwareCode>sendwatch-synthetic</SoftwareCode><Release>1.0</Release>"
        f"<SerialNo>{seed % 1000:03d}</SerialNo><DateTime>{ref.isoformat()}T09:00:00"
        "</DateTime></Source>\n</Header>\n<Persons>\n"
    ]
    append = out.append

    def new_request(received: date) -> _Request:
        """A request received in year-1 or year, with its decisions as of ``ref``."""
        source = str(choice("12345", cum_weights=(55, 85, 93, 97, 100))[0])
        d1 = received + timedelta(days=randint(8, 42) if rand() < 0.7 else randint(43, 100))
        if d1 > ref:
            return _Request(received, "A", None, source, None, [])
        u = rand()
        if u >= 0.97:
            return _Request(received, "W", d1 if rand() < 0.5 else None, source, None, [])
        if u >= 0.75:
            return _Request(received, "N", d1, source, None, [])
        v = rand()
        if v < 0.40:
            days = randint(max(56, (d1 - received).days + 14), STATUTORY_DAYS)
        elif v < 0.92:
            days = randint(STATUTORY_DAYS + 1, ONE_YEAR_DAYS - 1)
        else:
            days = randint(ONE_YEAR_DAYS, 500)
        issued = received + timedelta(days=days)
        if issued > ref:
            return _Request(
                received, "Y", d1, source, _Assessment("A", None, False, None, None), []
            )
        w = rand()
        outcome = "Y" if w < 0.90 else ("N" if w < 0.97 else "W")
        week20 = rand() < 0.05
        needs: list[str] = []
        setting: str | None = None
        cease: tuple[date, str] | None = None
        if outcome == "Y":
            needs = _needs(rng, need_values, need_cum)
            if rand() < 0.12:
                setting = choice(setting_values, cum_weights=setting_cum)[0]
            if rand() < 0.03 and (ref - issued).days > 40:
                cease = (issued + timedelta(days=randint(30, (ref - issued).days)), "2")
        return _Request(
            received, "Y", d1, source, _Assessment(outcome, issued, week20, setting, cease), needs
        )

    def historical_request(before: date) -> _Request:
        received = before - timedelta(days=randint(400, 6 * 365))
        needs = _needs(rng, need_values, need_cum)
        setting = choice(setting_values, cum_weights=setting_cum)[0] if rand() < 0.1 else None
        cease = None
        if rand() < 0.05:
            cease = (date(year, 1, 1) + timedelta(days=randint(0, 364)), str(randint(1, 9)))
        return _Request(
            received, "H", None, "1", _Assessment("H", None, False, setting, cease), needs
        )

    for position in range(1, persons + 1):
        # ---- the person's requests, oldest first
        first_received = year_start + timedelta(days=randint(0, span_days))
        if first_received.weekday() >= 5:
            first_received -= timedelta(days=first_received.weekday() - 4)
        h = rand()
        if h < 0.25:
            requests = [historical_request(first_received)]
        else:
            requests = [new_request(first_received)]
        if rand() < 0.10:
            if requests[0].outcome == "H":
                requests.append(new_request(first_received))
            else:
                after = (requests[0].outcome_date or first_received) + timedelta(
                    days=randint(30, 200)
                )
                if after <= date(year, 12, 31):
                    requests.append(new_request(after))
                else:
                    requests.insert(0, historical_request(first_received))

        earliest = requests[0].received
        latest = requests[-1].received
        span = (latest - earliest).days
        lo, hi, _w = choice(AGE_BANDS, cum_weights=(18, 54, 84, 97, 100))[0]
        age_days = randint(int(lo * 365.25) + 1, int((hi + 1) * 365.25) - 2)
        if age_days - span < 60:
            age_days = min(span + randint(60, 3000), 25 * 365)
        birth = latest - timedelta(days=age_days)

        sex = choice("MFU", cum_weights=(65, 98, 100))[0]
        kind = broken_kind.get(position)
        if kind is not None:
            requests[-1].malformed = kind

        # ---- identifiers
        r = rand()
        upn = (
            f"{UPN_LETTERS[position % len(UPN_LETTERS)]}{la_code}{position:09d}" if r < 0.9 else ""
        )
        uln = f"{9000000000 + position}" if (r >= 0.9 and r < 0.97) or rand() < 0.05 else ""
        if r < 0.93:
            postcode = (
                f"{choice(outward_values, cum_weights=outward_cum)[0]} "
                f"{randint(1, 9)}{INWARD_LETTERS[randint(0, 19)]}{INWARD_LETTERS[randint(0, 19)]}"
            )
        elif r < 0.98:
            postcode = (
                f"{OUT_OF_AREA_OUTWARD[randint(0, 5)]} {randint(1, 9)}"
                f"{INWARD_LETTERS[randint(0, 19)]}{INWARD_LETTERS[randint(0, 19)]}"
            )
        else:
            postcode = ""
        dob_text = birth.isoformat()
        if kind == "bad_birth_date":
            dob_text = f"{birth.day:02d}/{birth.month:02d}/{birth.year}"
            malformed_records.append(MalformedRecord(position, None, "bad_date"))

        append(
            f"<Person>\n<Surname>{SURNAMES[randint(0, len(SURNAMES) - 1)]}</Surname>"
            f"<Forename>{FORENAMES[randint(0, len(FORENAMES) - 1)]}</Forename>"
            f"<PersonBirthDate>{dob_text}</PersonBirthDate><Sex>{sex}</Sex>"
            f"<Ethnicity>{choice(eth_values, cum_weights=eth_cum)[0]}</Ethnicity>"
            + (f"<PostCode>{postcode}</PostCode>" if postcode else "")
            + (f"<UPN>{upn}</UPN>" if upn else "")
            + (f"<UniqueLearnerNumber>{uln}</UniqueLearnerNumber>" if uln else "")
            + ("" if upn or uln else "<UPNunknown>UN2</UPNunknown>")
            + "\n"
        )
        for index, req in enumerate(requests, start=1):
            append(_request_xml(req))
            if kind == "bad_birth_date":
                continue
            if req.malformed is not None:
                malformed_records.append(MalformedRecord(position, index, req.malformed))
                continue
            _tally(expected, req, birth, sex)
        expected.requests += len(requests)
        append("</Person>\n")
    append("</Persons>\n</Message>\n")
    expected.malformed = tuple(malformed_records)
    return "".join(out).encode("utf-8"), expected


def _needs(rng: random.Random, values: list[str], cum: list[int]) -> list[str]:
    primary = rng.choices(values, cum_weights=cum)[0]
    if rng.random() < 0.4:
        secondary = rng.choices(values, cum_weights=cum)[0]
        if secondary != primary:
            return [primary, secondary]
    return [primary]


def _request_xml(req: _Request) -> str:
    received = req.received.isoformat()
    outcome = req.outcome
    outcome_date = req.outcome_date.isoformat() if req.outcome_date else ""
    if req.malformed == "bad_date":
        received = f"{req.received.year}-02-30"
    elif req.malformed == "missing_received_date":
        received = ""
    elif req.malformed == "unknown_code":
        outcome = "Q"
    elif req.malformed == "date_before_received":
        outcome = "N"
        outcome_date = (req.received - timedelta(days=10)).isoformat()
    parts = ["<Requests>"]
    if received:
        parts.append(f"<ReceivedDate>{received}</ReceivedDate>")
    parts.append(f"<RequestSource>{req.source}</RequestSource><RYA>0</RYA>")
    if outcome_date:
        parts.append(f"<RequestOutcomeDate>{outcome_date}</RequestOutcomeDate>")
    parts.append(
        f"<RequestOutcome>{outcome}</RequestOutcome><RequestMediation>0</RequestMediation>"
        "<RequestTribunal>0</RequestTribunal><Exported>0</Exported>\n"
    )
    a = req.assessment
    if a is not None:
        parts.append(f"<Assessment><AssessmentOutcome>{a.outcome}</AssessmentOutcome>")
        if a.outcome_date is not None:
            parts.append(
                f"<AssessmentOutcomeDate>{a.outcome_date.isoformat()}</AssessmentOutcomeDate>"
            )
        parts.append(
            "<AssessmentMediation>0</AssessmentMediation><AssessmentTribunal>0"
            f"</AssessmentTribunal><Week20>{1 if a.week20 else 0}</Week20>"
        )
        if a.outcome in ("Y", "H"):
            start = a.outcome_date or req.received + timedelta(days=120)
            parts.append(f"<NamedPlan><StartDate>{start.isoformat()}</StartDate><PB>0</PB>")
            if a.cease is not None:
                parts.append(
                    f"<CeaseDate>{a.cease[0].isoformat()}</CeaseDate>"
                    f"<CeaseReason>{a.cease[1]}</CeaseReason>"
                )
            parts.append(_placement_xml("PlanDetail", a.setting, start))
            parts.append("</NamedPlan>")
        parts.append("</Assessment>\n")
    if req.needs and a is not None and a.cease is None:
        parts.append("<ActivePlans><TransferLA></TransferLA>")
        start = a.outcome_date or req.received + timedelta(days=120)
        parts.append(_placement_xml("PlacementDetail", a.setting, start))
        for rank, need in enumerate(req.needs, start=1):
            parts.append(
                f"<SENneed><SENtype>{need}</SENtype><SENtypeRank>{rank}</SENtypeRank></SENneed>"
            )
        parts.append("</ActivePlans>\n")
    parts.append("</Requests>\n")
    return "".join(parts)


def _placement_xml(tag: str, setting: str | None, start: date) -> str:
    if setting is None:
        body = f"<URN>{123000 + start.toordinal() % 997}</URN>"
    else:
        body = f"<SENSetting>{setting}</SENSetting>"
    entry = f"<EntryDate>{start.isoformat()}</EntryDate>" if tag == "PlacementDetail" else ""
    return f"<{tag}>{body}<PlacementRank>1</PlacementRank>{entry}</{tag}>"


def _tally(expected: ExpectedFigures, req: _Request, birth: date, sex: str) -> None:
    """Add one well-formed request to the expected figures and event counts."""
    ev = expected.events_by_type
    expected.requests_imported += 1
    decided_in_period = req.assessment is not None and req.assessment.outcome in ("Y", "N")
    historical = (req.assessment is not None and req.assessment.outcome == "H") or (
        req.outcome == "H" and not decided_in_period
    )
    if historical:
        expected.historical_requests += 1
    ev["ehc.request.received"] += 1
    a = req.assessment
    if a is not None and a.cease is None:  # SENneed is under ActivePlans: live plans only
        ev["ehc.need.recorded"] += len(req.needs)
    if a is not None and a.week20:
        ev["ehc.exception.started"] += 1
    if (req.outcome in ("Y", "N") and req.outcome_date is not None) or req.outcome == "W":
        ev["ehc.assessment.decision-to-assess"] += 1  # W without a date: dated on receipt
    if a is not None and a.outcome in ("Y", "N", "W") and a.outcome_date is not None:
        ev["ehc.assessment.decision"] += 1
        if a.outcome == "Y":
            ev["ehc.plan.final-issued"] += 1
    if a is not None and a.cease is not None:
        ev["ehc.plan.ceased"] += 1
    if historical:
        return

    year = expected.year
    if req.received.year == year:
        expected.requests_received += 1
        if req.outcome == "Y":
            expected.requests_assessed += 1
        elif req.outcome == "N":
            expected.requests_not_assessed += 1
        elif req.outcome == "A":
            expected.requests_ongoing += 1
        elif req.outcome == "W":
            expected.requests_withdrawn += 1
        if req.outcome in ("Y", "N") and req.outcome_date is not None:
            if (req.outcome_date - req.received).days <= SIX_WEEKS_DAYS:
                expected.decisions_within_6_weeks += 1
            else:
                expected.decisions_over_6_weeks += 1

    if a is None or a.outcome != "Y" or a.outcome_date is None or a.outcome_date.year != year:
        return
    days = (a.outcome_date - req.received).days
    band = age_band(age_on(birth, req.received))
    assert band is not None
    slices = [
        expected.plans,
        expected.plans_by_sex.setdefault(sex, PlanTimeliness()),
        expected.plans_by_age_band.setdefault(band.value, PlanTimeliness()),
    ]
    if not a.week20:
        slices += [
            expected.plans_ex,
            expected.plans_by_sex_ex.setdefault(sex, PlanTimeliness()),
            expected.plans_by_age_band_ex.setdefault(band.value, PlanTimeliness()),
        ]
    for s in slices:
        s.add(days)
