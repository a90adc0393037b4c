"""Personal-data guard shared by every contract.

Events carry pseudonymous ids only.  This module recognises the identifying data a SEN2
return or a case management system holds, in every string of an event (envelope and
body, whatever the field is called):

* by field name: names, dates of birth, UPN/ULN, NHS number, postcode, address, contact
  details (:data:`FORBIDDEN_FIELD_NAMES`);
* by value, in any field: NHS numbers that pass the modulus-11 check (also written
  ``943 476 5919`` or ``943-476-5919``), UPNs with a valid CBDS check letter (any case;
  upper-case UPN shapes always), full UK postcodes (any case, with or without the
  space) and email addresses;
* in pseudonymous ids (``subject``, ``person_id`` and other ``*_id`` fields): dates
  (``2015-02-03``, ``03/02/2015``, ``20150203``: a date of birth) and words that are not
  one of the configured id prefixes (``contracts/privacy.yaml``), which catches names.
  Event ids (``id``) get the value checks only: sources legitimately stamp them with the
  event's date (``tick-2026-06-12``), and they are idempotency keys that the services
  log only as a hash (the trace id).

Boundaries are explicit look-arounds on letters and digits, so ``_`` and other
separators do not hide a value (``p_9434765919_x`` is caught; ``\\b`` would not see it).
Hex digests and ``p-00000001``-style ids pass: a value must stand alone between
separators to count, and a 12- or 20-character digest never has a 10-digit or
13-character run of its own.

This runs on every event at ingest: the expressions are compiled once, and each string
is searched once by the one expression its field calls for (values, or pseudonymous
ids), after two C-speed gates (no digit: no number, UPN, postcode or date can be in
it; no ``@``: no email); only a match is looked at further (checksums, calendar
dates, the id vocabulary).
"""

from __future__ import annotations

import os
import re
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

_DEFAULT = Path(__file__).with_name("privacy.yaml")

FORBIDDEN_FIELD_NAMES = frozenset(
    {
        "name",
        "names",
        "forename",
        "forenames",
        "surname",
        "first_name",
        "firstname",
        "last_name",
        "lastname",
        "full_name",
        "fullname",
        "given_name",
        "family_name",
        "dob",
        "date_of_birth",
        "dateofbirth",
        "birth_date",
        "birthdate",
        "personbirthdate",
        "upn",
        "uln",
        "unique_pupil_number",
        "uniquelearnernumber",
        "unique_learner_number",
        "nhs_number",
        "nhsnumber",
        "postcode",
        "post_code",
        "address",
        "email",
        "phone",
        "telephone",
    }
)

EVENT_ID_KEYS = frozenset({"id", "original_id", "event_id"})
"""Idempotency keys: chosen by the source (uuids, ``evt-...``, ``tick-2026-06-12``),
checked for personal values but not for dates or words."""

_L = r"(?<![0-9A-Za-z])"
_R = r"(?![0-9A-Za-z])"
_NHS = r"\d{3}[ -]?\d{3}[ -]?\d{4}"
# A UPN: check letter, 3-digit LA number, 4-digit establishment, 3-digit serial, and a
# digit (or a letter, for a temporary UPN).
_UPN = r"[A-Za-z]\d{11}[0-9A-Za-z]"
_POSTCODE = r"[A-Za-z]{1,2}\d[A-Za-z\d]? ?\d[ABD-HJLNP-UW-Zabd-hjlnp-uw-z]{2}"
_EMAIL = r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"

# Kept for callers that match one shape (upper-case, as systems store them).
UPN_RE = re.compile(f"{_L}[A-HJ-NP-RT-Z]\\d{{11}}[0-9A-Z]{_R}")
POSTCODE_RE = re.compile(f"{_L}[A-Z]{{1,2}}\\d[A-Z\\d]? ?\\d[ABD-HJLNP-UW-Z]{{2}}{_R}")

_SEP = r"[-/._ ]"
_DAY = r"(?:0?[1-9]|[12]\d|3[01])"
_MONTH = r"(?:0?[1-9]|1[0-2])"
_YEAR = r"(?:19|20)\d\d"
_DAY2 = r"(?:0[1-9]|[12]\d|3[01])"
_MONTH2 = r"(?:0[1-9]|1[0-2])"

_GENERAL = f"{_L}(?:(?P<nhs_number>{_NHS})|(?P<upn>{_UPN})|(?P<postcode>{_POSTCODE})){_R}"
_DATE = (
    f"|{_L}(?P<date>(?P<ya>{_YEAR}){_SEP}(?P<ma>{_MONTH}){_SEP}(?P<da>{_DAY})"
    f"|(?P<db>{_DAY}){_SEP}(?P<mb>{_MONTH}){_SEP}(?P<yb>{_YEAR})){_R}"
)
_COMPACT_DATE = (
    f"|{_L}(?P<compact>(?P<yc>{_YEAR})(?P<mc>{_MONTH2})(?P<dc>{_DAY2})"
    f"|(?P<dd>{_DAY2})(?P<md>{_MONTH2})(?P<yd>{_YEAR})){_R}"
)
_WORD = r"(?P<word>[A-Za-z]{3,})"
# One expression per kind of field, so every string is searched once.
_VALUE_RE = re.compile(_GENERAL)
_PSEUDONYM_RE = re.compile(_GENERAL + _DATE + _COMPACT_DATE + "|" + _WORD)
_WORDS_RE = re.compile(_WORD)  # a pseudonymous id without digits: only words to check
_EMAIL_RE = re.compile(_EMAIL)
_DIGIT_RE = re.compile(r"\d")
_HEX_LETTERS = frozenset("abcdef")

# CBDS check letters: 0=A ... 7=H, 8=J ... 12=N, 13=P, 14=Q, 15=R, 16=T ... 22=Z.
_UPN_LETTERS = "ABCDEFGHJKLMNPQRTUVWXYZ"
_UPN_VALUE = {c: i for i, c in enumerate(_UPN_LETTERS)}


def nhs_number_valid(digits: str) -> bool:
    """The NHS number modulus-11 check on ten digits."""
    if len(digits) != 10 or not digits.isdigit():
        return False
    total = sum(int(d) * w for d, w in zip(digits[:9], range(10, 1, -1), strict=True))
    check = 11 - total % 11
    if check == 11:
        check = 0
    return check != 10 and check == int(digits[9])


def upn_check_letter(upn: str) -> str | None:
    """The CBDS check letter of a 13-character UPN (characters 2-13 weighted 2-13, sum
    mod 23); None when the shape is wrong."""
    text = upn.upper()
    if len(text) != 13 or not text[1:12].isdigit():
        return None
    last = text[12]
    tail = int(last) if last.isdigit() else _UPN_VALUE.get(last)
    if tail is None:
        return None
    total = sum(int(d) * w for d, w in zip(text[1:12], range(2, 13), strict=True)) + tail * 13
    return _UPN_LETTERS[total % 23]


def _upn(text: str) -> bool:
    if text.isupper() and UPN_RE.fullmatch(text):
        return True  # the stored shape, whatever its check letter
    return upn_check_letter(text) == text[0].upper()


def _real_date(m: re.Match[str], tags: str) -> bool:
    """The match's year, month and day (groups y/m/d + each tag) make a calendar date."""
    for tag in tags:
        y = m.group(f"y{tag}")
        if y is not None:
            try:
                date(int(y), int(m.group(f"m{tag}")), int(m.group(f"d{tag}")))
            except ValueError:
                return False
            return True
    return False


def _scan(text: str, pattern: re.Pattern[str]) -> str | None:
    """The kind of the first match that stands up (checksum, calendar, vocabulary)."""
    words: frozenset[str] | None = None
    groups = pattern.groupindex
    for match in pattern.finditer(text):
        found = match.group()
        # The innermost named group is lastgroup for dates; test the outer ones.
        if "word" in groups and match.group("word") is not None:
            words = words if words is not None else pseudonym_words()
            word = found.lower()
            if word not in words and not _HEX_LETTERS.issuperset(word):
                return "name"
        elif match.group("nhs_number") is not None:
            if nhs_number_valid(found.replace(" ", "").replace("-", "")):
                return "nhs_number"
        elif match.group("upn") is not None:
            if _upn(found):
                return "upn"
        elif match.group("postcode") is not None:
            return "postcode"
        elif match.group("date") is not None:
            if _real_date(match, "ab"):
                return "date_of_birth"
        elif match.group("compact") is not None and _real_date(match, "cd"):
            return "date_of_birth"
    return None


# An ISO 8601 date or time (at most six fractional digits, zone Z or +hh:mm): its
# longest digit run is six, its only letters T and Z, so it cannot hold an NHS number,
# a UPN, a postcode or an email.  Event times are most of the digit-bearing strings.
_ISO_TIME_RE = re.compile(
    r"\d{4}-\d\d-\d\d(?:[T ]\d\d:\d\d(?::\d\d(?:\.\d{1,6})?)?(?:Z|[+-]\d\d:\d\d)?)?"
)


def _value_kind(text: str) -> str | None:
    if len(text) < 5:  # shorter than any postcode, UPN, NHS number or address
        return None
    if _ISO_TIME_RE.fullmatch(text):
        return None
    if "@" in text and _EMAIL_RE.search(text):
        return "email"
    if _DIGIT_RE.search(text) is None:
        return None
    return _scan(text, _VALUE_RE)


@lru_cache(maxsize=4)
def pseudonym_words(path: str | None = None) -> frozenset[str]:
    file = Path(path or os.environ.get("SENDWATCH_PRIVACY_FILE") or _DEFAULT)
    doc: dict[str, Any] = yaml.safe_load(file.read_text(encoding="utf-8"))
    return frozenset(str(w).lower() for w in doc.get("pseudonym_words") or ())


def _pseudonym_kind(text: str) -> str | None:
    if "@" in text and _EMAIL_RE.search(text):
        return "email"
    return _scan(text, _PSEUDONYM_RE if _DIGIT_RE.search(text) else _WORDS_RE)


_KEY_VERDICTS: dict[str, tuple[bool, int]] = {}
_VALUES, _PSEUDONYM = 0, 1
_CHECKS = (_value_kind, _pseudonym_kind)


def _key(key: str) -> tuple[bool, int]:
    """(the key names personal data, which value check its strings get)."""
    verdict = _KEY_VERDICTS.get(key)
    if verdict is None:
        norm = key.strip().lower().replace("-", "_")
        forbidden = norm in FORBIDDEN_FIELD_NAMES or norm.replace("_", "") in FORBIDDEN_FIELD_NAMES
        pseudonymous = norm in ("subject", "person_id") or norm.endswith("_id")
        check = _PSEUDONYM if pseudonymous and norm not in EVENT_ID_KEYS else _VALUES
        verdict = (forbidden, check)
        if len(_KEY_VERDICTS) < 10_000:
            _KEY_VERDICTS[key] = verdict
    return verdict


def find_personal_data(
    value: Any,
    path: tuple[str | int, ...] = (),
    memo: dict[tuple[int, str], str | None] | None = None,
) -> tuple[str, str] | None:
    """Return (field path, kind) of the first personal value found, or None.

    ``kind`` is ``field_name`` when the key itself names personal data, else what a
    string value looks like: ``nhs_number``, ``upn``, ``postcode``, ``email``, and in
    pseudonymous ids ``date_of_birth`` or ``name``.  The path names the field, never the
    value.  ``memo`` (a dict the caller keeps for one batch) remembers each string's
    verdict, so a value repeated across a batch's events (a source, a type, a locality,
    a day) is searched once.
    """
    if isinstance(value, dict):
        for key, item in value.items():
            k = str(key)
            forbidden, check = _key(k)
            if forbidden:
                return _dotted((*path, k)), "field_name"
            if isinstance(item, str):
                if memo is None:
                    kind = _CHECKS[check](item)
                else:
                    mkey = (check, item)
                    if mkey in memo:
                        kind = memo[mkey]
                    else:
                        kind = memo[mkey] = _CHECKS[check](item)
                if kind is not None:
                    return _dotted((*path, k)), kind
            elif isinstance(item, dict | list):
                hit = find_personal_data(item, (*path, k), memo)
                if hit is not None:
                    return hit
    elif isinstance(value, list):
        for i, item in enumerate(value):
            hit = find_personal_data(item, (*path, i), memo)
            if hit is not None:
                return hit
    elif isinstance(value, str):
        kind = _value_kind(value)
        if kind is not None:
            return _dotted(path), kind
    return None


def _dotted(path: tuple[str | int, ...]) -> str:
    return ".".join(map(str, path))
