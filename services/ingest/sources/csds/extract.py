"""Read a CSDS-style referral extract into referral events (pure: no I/O beyond reading
the two files).

``REFERRALS.csv``: referral_id, nhs_number, date_of_birth, sex, postcode, service,
referral_received_date, source_of_referral, priority, referral_outcome,
referral_outcome_date, triage_date, discharge_date, discharge_reason.
``CONTACTS.csv``: referral_id, contact_date, attendance, mechanism.

UTF-8 with a header row, ISO dates.  Only keyed pseudonyms of ``referral_id`` and
``nhs_number`` are kept; the date of birth becomes the age band at the referral date and
the postcode a locality (``contracts/localities.yaml``); neither is kept.  A bad row (an
unknown code, an impossible date, an NHS number failing its modulus-11 check, a missing
required field) is reported by file and line number, naming the field but never the
value, and skipped; a contact of a referral that was not imported is skipped too.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from enum import StrEnum
from pathlib import Path
from typing import Any

from contracts.codes import Priority
from contracts.plausibility import load_window
from contracts.referral_events import (
    Attendance,
    DischargeReason,
    Mechanism,
    Outcome,
    ReferralSource,
    Service,
)
from services.ingest.sources.sen2.pseudonymise import (
    PHASE_OF_BAND,
    LocalityMap,
    Pseudonymiser,
    age_band,
    age_on,
    load_localities,
)

SOURCE = "nhs-community"
REFERRAL_COLUMNS = (
    "referral_id",
    "nhs_number",
    "date_of_birth",
    "sex",
    "postcode",
    "service",
    "referral_received_date",
    "source_of_referral",
    "priority",
    "referral_outcome",
    "referral_outcome_date",
    "triage_date",
    "discharge_date",
    "discharge_reason",
)
CONTACT_COLUMNS = ("referral_id", "contact_date", "attendance", "mechanism")
REQUIRED = (
    "referral_id",
    "nhs_number",
    "date_of_birth",
    "sex",
    "service",
    "referral_received_date",
    "source_of_referral",
    "priority",
)
SEXES = ("M", "F", "U")


class ExtractFormatError(ValueError):
    """A file is not a CSDS extract of this layout (its header row is wrong)."""


@dataclass(frozen=True)
class RowProblem:
    file: str
    line: int
    field: str | None
    reason: str

    def __str__(self) -> str:
        where = f"{self.file} line {self.line}"
        return f"{where}: {self.field}: {self.reason}" if self.field else f"{where}: {self.reason}"


@dataclass
class Extract:
    events: list[dict[str, Any]] = field(default_factory=list)
    problems: list[RowProblem] = field(default_factory=list)
    referrals: int = 0
    contacts: int = 0


class BadRow(ValueError):
    def __init__(self, column: str | None, reason: str) -> None:
        super().__init__(reason)
        self.column = column
        self.reason = reason


def nhs_number_valid(value: str) -> bool:
    """The NHS number's modulus-11 check (weights 10..2 over the first nine digits; a
    check digit of 10 is never issued, 11 stands for 0)."""
    digits = value.replace(" ", "")
    if len(digits) != 10 or not digits.isdigit():
        return False
    total = sum(int(d) * w for d, w in zip(digits[:9], range(10, 1, -1), strict=True))
    check = 11 - total % 11
    if check == 11:
        check = 0
    return check != 10 and check == int(digits[9])


def _code(row: dict[str, str], column: str, codes: type[StrEnum]) -> str:
    value = row[column]
    if value not in {c.value for c in codes}:
        raise BadRow(column, "unknown code")
    return value


def _date(row: dict[str, str], column: str, *, window: bool = True) -> date | None:
    value = row[column]
    if not value:
        return None
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise BadRow(column, "impossible date (not a calendar date in ISO form)") from None
    if len(value) != 10:
        raise BadRow(column, "impossible date (not YYYY-MM-DD)")
    problem = load_window().problem(day) if window else None
    if problem is not None:
        raise BadRow(column, f"impossible date ({problem})")
    return day


def _after(day: date | None, received: date, column: str) -> None:
    if day is not None and day < received:
        raise BadRow(column, "impossible date (before the referral was received)")


def _noon(day: date) -> str:
    return datetime.combine(day, time(12), tzinfo=UTC).isoformat()


def _rows(path: Path, columns: tuple[str, ...]) -> Iterator[tuple[int, dict[str, str]]]:
    with path.open(encoding="utf-8", newline="") as f:
        reader = csv.reader(f)
        header = next(reader, None)
        if header is None or tuple(h.strip() for h in header) != columns:
            raise ExtractFormatError(
                f"{path.name}: the header row must be exactly: {','.join(columns)}"
            )
        for row in reader:
            if not row or all(not v.strip() for v in row):
                continue
            line = reader.line_num
            values = [v.strip() for v in row]
            if len(values) != len(columns):
                yield line, {"__width__": str(len(values))}
                continue
            yield line, dict(zip(columns, values, strict=True))


class ReferralPseudonyms(Pseudonymiser):
    """Keyed ids (HMAC-SHA-256) of referrals, persons (by NHS number) and events."""

    __slots__ = ()

    def referral(self, referral_id: str) -> str:
        return "ref-" + self._hex(f"referral:{referral_id}", 24)

    def nhs_person(self, nhs_number: str) -> str:
        return "p-" + self._hex(f"nhs:{nhs_number.replace(' ', '')}", 20)

    def csds_event(self, message: str) -> str:
        return "csds-" + self._hex(message, 24)


class Converter:
    def __init__(self, pseudonyms: ReferralPseudonyms, localities: LocalityMap | None = None):
        self.p = pseudonyms
        self.localities = localities or load_localities()

    def subject(self, referral_id: str) -> str:
        return self.p.referral(referral_id)

    def person(self, nhs_number: str) -> str:
        return self.p.nhs_person(nhs_number)

    def event(
        self, subject: str, etype: str, day: date, data: dict[str, Any], tag: str = ""
    ) -> dict[str, Any]:
        return {
            "id": self.p.csds_event(f"{subject}|{etype}|{tag}"),
            "source": SOURCE,
            "type": etype,
            "subject": subject,
            "time": _noon(day),
            "data": data,
        }

    def referral(self, row: dict[str, str]) -> tuple[str, date, dict[str, Any], list[Any]]:
        """(subject, received day, attributes, events) of one referral row."""
        if "__width__" in row:
            raise BadRow(None, f"expected {len(REFERRAL_COLUMNS)} fields, found {row['__width__']}")
        for column in REQUIRED:
            if not row[column]:
                raise BadRow(column, "missing required field")
        if not nhs_number_valid(row["nhs_number"]):
            raise BadRow("nhs_number", "fails the NHS number modulus-11 check")
        if row["sex"] not in SEXES:
            raise BadRow("sex", "unknown code")
        service = _code(row, "service", Service)
        source = _code(row, "source_of_referral", ReferralSource)
        priority = _code(row, "priority", Priority)
        birth = _date(row, "date_of_birth", window=False)  # the age band checks it
        received = _date(row, "referral_received_date")
        assert birth is not None and received is not None
        if received < birth:
            raise BadRow("referral_received_date", "impossible date (before the date of birth)")
        band = age_band(age_on(birth, received))
        if band is None:
            raise BadRow("date_of_birth", "age at referral outside 0-25")
        outcome = row["referral_outcome"]
        if outcome:
            outcome = _code(row, "referral_outcome", Outcome)
        outcome_day = _date(row, "referral_outcome_date")
        if outcome and outcome_day is None:
            raise BadRow("referral_outcome_date", "missing required field (with an outcome)")
        if outcome_day is not None and not outcome:
            raise BadRow("referral_outcome", "missing required field (with an outcome date)")
        triage_day = _date(row, "triage_date")
        discharge_day = _date(row, "discharge_date")
        reason = row["discharge_reason"]
        if reason:
            reason = _code(row, "discharge_reason", DischargeReason)
        if discharge_day is not None and not reason:
            raise BadRow("discharge_reason", "missing required field (with a discharge date)")
        if reason and discharge_day is None:
            raise BadRow("discharge_date", "missing required field (with a discharge reason)")
        for column, day in (
            ("referral_outcome_date", outcome_day),
            ("triage_date", triage_day),
            ("discharge_date", discharge_day),
        ):
            _after(day, received, column)

        subject = self.subject(row["referral_id"])
        attrs: dict[str, Any] = {
            "person_id": self.person(row["nhs_number"]),
            "service": service,
            "locality": self.localities.locality(row["postcode"] or None),
            "age_band": band.value,
            "sex": row["sex"],
            "phase": PHASE_OF_BAND[band].value,
        }
        events = [
            self.event(
                subject,
                "referral.received",
                received,
                {**attrs, "source_of_referral": source, "priority": priority},
            )
        ]
        if outcome and outcome_day is not None:
            events.append(
                self.event(subject, "referral.outcome", outcome_day, {**attrs, "outcome": outcome})
            )
        if triage_day is not None:
            events.append(self.event(subject, "referral.triaged", triage_day, dict(attrs)))
        if discharge_day is not None:
            data = {**attrs, "reason": reason}
            events.append(self.event(subject, "referral.discharged", discharge_day, data))
        return subject, received, attrs, events

    def contact(
        self, row: dict[str, str], known: dict[str, tuple[str, date, dict[str, Any]]], n: int
    ) -> dict[str, Any]:
        if "__width__" in row:
            raise BadRow(None, f"expected {len(CONTACT_COLUMNS)} fields, found {row['__width__']}")
        for column in CONTACT_COLUMNS:
            if not row[column]:
                raise BadRow(column, "missing required field")
        found = known.get(row["referral_id"])
        if found is None:
            raise BadRow("referral_id", "no imported referral with this id")
        subject, received, attrs = found
        attendance = _code(row, "attendance", Attendance)
        mechanism = _code(row, "mechanism", Mechanism)
        day = _date(row, "contact_date")
        assert day is not None
        _after(day, received, "contact_date")
        data = {**attrs, "attendance": attendance, "mechanism": mechanism}
        tag = f"{day.isoformat()}|{attendance}|{mechanism}|{n}"
        return self.event(subject, "referral.contact", day, data, tag)


def read_extract(
    referrals: Path,
    contacts: Path,
    pseudonyms: ReferralPseudonyms,
    *,
    localities: LocalityMap | None = None,
) -> Extract:
    """Every valid row as events, every bad one as a problem (file, line, field)."""
    conv = Converter(pseudonyms, localities)
    out = Extract()
    known: dict[str, tuple[str, date, dict[str, Any]]] = {}
    seen: set[str] = set()
    for line, row in _rows(referrals, REFERRAL_COLUMNS):
        rid = row.get("referral_id", "")
        try:
            if rid and rid in seen:
                raise BadRow("referral_id", "duplicate referral id")
            subject, received, attrs, events = conv.referral(row)
        except BadRow as bad:
            out.problems.append(RowProblem(referrals.name, line, bad.column, bad.reason))
            seen.add(rid)
            continue
        seen.add(rid)
        known[rid] = (subject, received, attrs)
        out.events.extend(events)
        out.referrals += 1
    repeats: dict[tuple[str, ...], int] = {}
    for line, row in _rows(contacts, CONTACT_COLUMNS):
        try:
            key = tuple(row.get(c, "") for c in CONTACT_COLUMNS)
            repeats[key] = repeats.get(key, 0) + 1
            out.events.append(conv.contact(row, known, repeats[key]))
        except BadRow as bad:
            out.problems.append(RowProblem(contacts.name, line, bad.column, bad.reason))
            continue
        out.contacts += 1
    return out
