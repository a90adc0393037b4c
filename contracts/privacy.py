"""Personal-data guard shared by every contract.

Events carry pseudonymous ids only.  This module recognises the identifying fields a
SEN2 return or a case management system holds (names, dates of birth, UPN/ULN, NHS
number, postcode, address) by field name and, for UPNs and postcodes, by value.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
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


def _normalise(key: str) -> str:
    return key.strip().lower().replace("-", "_")


def find_personal_data(value: Any, path: tuple[str | int, ...] = ()) -> tuple[str, str] | None:
    """Return (field path, kind) of the first personal value found, or None.

    ``kind`` is ``field_name`` when the key itself names personal data, ``upn`` or
    ``postcode`` when a string value looks like one.
    """
    for where, kind in _walk(value, path):
        return where, kind
    return None


def _walk(value: Any, path: tuple[str | int, ...]) -> Iterator[tuple[str, str]]:
    if isinstance(value, dict):
        for key, item in value.items():
            here = (*path, str(key))
            norm = _normalise(str(key))
            if norm in FORBIDDEN_FIELD_NAMES or norm.replace("_", "") in FORBIDDEN_FIELD_NAMES:
                yield ".".join(map(str, here)), "field_name"
                return
            yield from _walk(item, here)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _walk(item, (*path, i))
    elif isinstance(value, str):
        where = ".".join(map(str, path))
        if UPN_RE.search(value):
            yield where, "upn"
        elif POSTCODE_RE.search(value):
            yield where, "postcode"
