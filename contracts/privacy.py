"""Personal-data guard shared by every contract.

Events carry pseudonymous ids only.  This module recognises the identifying fields a
SEN2 return or a case management system holds (names, dates of birth, UPN/ULN, NHS
number, postcode, address) by field name and, for UPNs and postcodes, by value.
"""

from __future__ import annotations

import re
from typing import Any

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

# A UPN is a check letter, the 3-digit LA number, the 4-digit DfE number, a 3-digit serial
# and a final digit or letter.  (A ULN is ten bare digits: too common a shape to match by
# value, so ULNs are caught by field name only.)
UPN_RE = re.compile(r"\b[A-HJ-NP-RT-Z]\d{11}[0-9A-Z]\b")
# Full UK postcode (outward + inward code), upper case as systems store them.
POSTCODE_RE = re.compile(r"\b[A-Z]{1,2}\d[A-Z\d]? ?\d[ABD-HJLNP-UW-Z]{2}\b")


_VALUE_RE = re.compile(f"(?P<upn>{UPN_RE.pattern})|(?P<postcode>{POSTCODE_RE.pattern})")
_KEY_VERDICTS: dict[str, bool] = {}


def _forbidden_key(key: str) -> bool:
    verdict = _KEY_VERDICTS.get(key)
    if verdict is None:
        norm = key.strip().lower().replace("-", "_")
        verdict = norm in FORBIDDEN_FIELD_NAMES or norm.replace("_", "") in FORBIDDEN_FIELD_NAMES
        if len(_KEY_VERDICTS) < 10_000:
            _KEY_VERDICTS[key] = verdict
    return verdict


def _value_kind(text: str) -> str | None:
    if len(text) < 5:  # shorter than any postcode or UPN
        return None
    match = _VALUE_RE.search(text)
    return None if match is None else str(match.lastgroup)


def find_personal_data(value: Any, path: tuple[str | int, ...] = ()) -> tuple[str, str] | None:
    """Return (field path, kind) of the first personal value found, or None.

    ``kind`` is ``field_name`` when the key itself names personal data, ``upn`` or
    ``postcode`` when a string value looks like one.  This runs on every event at
    ingest, so it does no work per value beyond one regex search of each string.
    """
    if isinstance(value, dict):
        for key, item in value.items():
            if _forbidden_key(str(key)):
                return _dotted((*path, str(key))), "field_name"
            if isinstance(item, str):
                kind = _value_kind(item)
                if kind is not None:
                    return _dotted((*path, str(key))), kind
            elif isinstance(item, dict | list):
                hit = find_personal_data(item, (*path, str(key)))
                if hit is not None:
                    return hit
    elif isinstance(value, list):
        for i, item in enumerate(value):
            hit = find_personal_data(item, (*path, i))
            if hit is not None:
                return hit
    elif isinstance(value, str):
        kind = _value_kind(value)
        if kind is not None:
            return _dotted(path), kind
    return None


def _dotted(path: tuple[str | int, ...]) -> str:
    return ".".join(map(str, path))
