"""Keyed pseudonyms and derived breakdowns for the SEN2 import (pure).

* Ids are HMAC-SHA-256 under a secret key (``SENDWATCH_PSEUDONYM_KEY``), so nobody
  without the key can confirm a guessed UPN against a published id, and the same file
  imported twice with the same key gives the same ids (idempotent re-import).
* A date of birth becomes the age at the request's ``ReceivedDate``, then a DfE age band
  and a phase; a postcode becomes a locality through ``contracts/localities.yaml``.  The
  outward code is used for the look-up and not kept.
"""

from __future__ import annotations

import hashlib
from datetime import date
from functools import lru_cache
from pathlib import Path

import yaml

import contracts
from contracts.codes import AgeBand, Phase

KEY_ENV = "SENDWATCH_PSEUDONYM_KEY"
MIN_KEY_LENGTH = 16
LOCALITIES_FILE = Path(contracts.__file__).with_name("localities.yaml")

_BLOCK = 64  # SHA-256 block size
_IPAD = bytes(b ^ 0x36 for b in range(256))
_OPAD = bytes(b ^ 0x5C for b in range(256))


class PseudonymKeyError(RuntimeError):
    """No pseudonymisation key (or one too short to protect the identifiers)."""


def resolve_key(key: str | None = None) -> str:
    """The key given (the command reads ``$SENDWATCH_PSEUDONYM_KEY``); refuses to go on
    without one."""
    value = key
    if not value or not value.strip():
        raise PseudonymKeyError(
            f"the SEN2 import needs a pseudonymisation key: set {KEY_ENV} to a secret of at "
            f"least {MIN_KEY_LENGTH} characters (keep it: the same key gives the same ids, "
            "so a re-import updates rather than duplicates)"
        )
    if len(value) < MIN_KEY_LENGTH:
        raise PseudonymKeyError(
            f"the pseudonymisation key is too short: use at least {MIN_KEY_LENGTH} characters"
        )
    return value


class Pseudonymiser:
    """Keyed ids of persons, cases and events.  The key never appears in its repr.

    HMAC-SHA-256 (RFC 2104) with the inner and outer pads hashed once: the same value as
    ``hmac.digest(key, message, "sha256")`` at less than half the cost per id, which
    matters at ~5 ids per request.
    """

    __slots__ = ("_inner", "_outer")

    def __init__(self, key: str | bytes) -> None:
        raw = key.encode() if isinstance(key, str) else key
        if len(raw) < MIN_KEY_LENGTH:
            raise PseudonymKeyError(
                f"the pseudonymisation key is too short: use at least {MIN_KEY_LENGTH} characters"
            )
        if len(raw) > _BLOCK:
            raw = hashlib.sha256(raw).digest()
        raw = raw.ljust(_BLOCK, b"\0")
        self._inner = hashlib.sha256(raw.translate(_IPAD))
        self._outer = hashlib.sha256(raw.translate(_OPAD))

    def __repr__(self) -> str:
        return "Pseudonymiser(key=<hidden>)"

    def _hex(self, message: str, length: int) -> str:
        inner = self._inner.copy()
        inner.update(message.encode())
        outer = self._outer.copy()
        outer.update(inner.digest())
        return outer.hexdigest()[:length]

    def keyed(self, message: str, length: int = 24) -> str:
        """A keyed token of ``message`` (hex, ``length`` characters)."""
        return self._hex(message, length)

    @staticmethod
    def identity(upn: str | None, uln: str | None, file_name: str, position: int) -> str:
        """The HMAC input naming a person: ``upn:``/``uln:`` + the identifier, else
        ``pos:`` + file name + position.  Holds the raw identifier: never log it."""
        if upn:
            return f"upn:{upn}"
        if uln:
            return f"uln:{uln}"
        return f"pos:{file_name}#{position}"

    def person_id(self, identity: str) -> str:
        return "p-" + self._hex(identity, 20)

    def case_id(self, identity: str, received: date, request_position: int) -> str:
        return "case-" + self._hex(f"{identity}|{received.isoformat()}|{request_position}", 20)

    def event_id(self, case_id: str, event_type: str, discriminator: str = "") -> str:
        return "sen2-" + self._hex(f"{case_id}|{event_type}|{discriminator}", 24)


# --------------------------------------------------------------------------- age


def age_on(birth: date, on: date) -> int:
    """Whole years of age on ``on`` (a 29 February birthday counts from 1 March)."""
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))


def age_band(age: int) -> AgeBand | None:
    """DfE's published age groups; None outside 0-25 (no EHC plan applies)."""
    if age < 0 or age > 25:
        return None
    if age < 5:
        return AgeBand.UNDER_5
    if age <= 10:
        return AgeBand.AGE_5_10
    if age <= 15:
        return AgeBand.AGE_11_15
    if age <= 19:
        return AgeBand.AGE_16_19
    return AgeBand.AGE_20_25


PHASE_OF_BAND: dict[AgeBand, Phase] = {
    AgeBand.UNDER_5: Phase.EARLY_YEARS,
    AgeBand.AGE_5_10: Phase.PRIMARY,
    AgeBand.AGE_11_15: Phase.SECONDARY,
    AgeBand.AGE_16_19: Phase.POST_16,
    AgeBand.AGE_20_25: Phase.POST_19,
}


# --------------------------------------------------------------------------- place


def outward_code(postcode: str | None) -> str | None:
    """The outward code of a UK postcode ("SY3 8HQ" -> "SY3"); an outward code alone
    is accepted as is; None when it is neither."""
    if not postcode:
        return None
    compact = "".join(postcode.split()).upper()
    if 5 <= len(compact) <= 7 and compact[-3].isdigit() and compact[-2:].isalpha():
        compact = compact[:-3]
    if 2 <= len(compact) <= 4 and compact[0].isalpha() and compact.isalnum():
        return compact
    return None


class LocalityMap:
    """Outward code -> locality, from ``contracts/localities.yaml``."""

    __slots__ = ("unknown", "_by_outward")

    def __init__(self, by_outward: dict[str, str], unknown: str = "unknown") -> None:
        self._by_outward = by_outward
        self.unknown = unknown

    @classmethod
    def from_yaml(cls, text: str) -> LocalityMap:
        doc = yaml.safe_load(text)
        mapping: dict[str, str] = {}
        for locality, codes in (doc.get("localities") or {}).items():
            for code in codes or ():
                mapping[str(code).upper()] = str(locality)
        return cls(mapping, str(doc.get("unknown") or "unknown"))

    def locality(self, postcode: str | None) -> str:
        code = outward_code(postcode)
        if code is None:
            return self.unknown
        return self._by_outward.get(code, self.unknown)

    @property
    def outward_codes(self) -> dict[str, str]:
        return dict(self._by_outward)


@lru_cache(maxsize=4)
def load_localities(path: str | None = None) -> LocalityMap:
    return LocalityMap.from_yaml(Path(path or LOCALITIES_FILE).read_text(encoding="utf-8"))
