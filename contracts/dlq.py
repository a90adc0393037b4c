"""Dead-letter records: rejected input with a machine-readable reason.

A dead letter never holds the rejected input: any field of it can carry free text
(a malformed body, a value in an unknown field, a claimed type or source), so only its
SHA-256 digest and size are kept, with the reason, the offending field and the event id
when that id is itself free of personal data.  Messages are written by sendwatch and
never repeat a posted value.
"""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Literal
from uuid import uuid4

from pydantic import Field

from contracts.envelope import Envelope, StrictModel
from contracts.localities import UNKNOWN_LOCALITY
from contracts.plausibility import IMPLAUSIBLE_TIME
from contracts.privacy import find_personal_data


class RejectReason(StrEnum):
    MALFORMED_JSON = "malformed_json"
    TOO_DEEP = "too_deep"
    NOT_AN_OBJECT = "not_an_object"
    UNKNOWN_FIELD = "unknown_field"
    MISSING_FIELD = "missing_field"
    INVALID_VALUE = "invalid_value"
    IMPLAUSIBLE_TIME = "implausible_time"
    UNKNOWN_LOCALITY = "unknown_locality"
    UNKNOWN_TYPE = "unknown_type"
    PERSONAL_DATA = "personal_data"
    FORBIDDEN_SOURCE = "forbidden_source"
    UNPROCESSABLE = "unprocessable"
    CONFLICT = "conflict"


class DeadLetterData(StrictModel):
    reason: RejectReason
    field: str | None = Field(description="Dotted path of the offending field, if any")
    message: str = Field(description="What is wrong; never repeats the rejected value")
    original_id: str | None = Field(
        default=None, description="The event id, when it holds no personal data"
    )
    original_source: str | None = None
    topic: str | None = Field(default=None, description="Topic the input was meant for")
    partition: int | None = Field(default=None, description="Where a consumer read it")
    offset: int | None = None
    payload_sha256: str = Field(description="Digest of the rejected input (never the input)")
    payload_bytes: int = Field(ge=0, description="Size of the rejected input")


class DeadLetter(Envelope[DeadLetterData]):
    type: Literal["sendwatch.dead-letter"]


def safe_event_id(value: Any) -> str | None:
    """``value`` if it is a plausible event id with no personal data in it, else None."""
    if plausible_event_id(value) is not None and find_personal_data({"original_id": value}) is None:
        return str(value)
    return None


def plausible_event_id(value: Any) -> str | None:
    """``value`` if it has the shape of an event id (for a value already scanned for
    personal data), else None."""
    return value if isinstance(value, str) and _EVENT_ID.fullmatch(value) else None


_EVENT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{7,127}")
_SEGMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_-]{0,63}|\d{1,6}")


def safe_field(field: str | None) -> str | None:
    """A field path fit to repeat: each segment an identifier (or a list index) with no
    personal data in it; anything else (an unknown field named with free text) becomes
    ``<unnamed>``."""
    if field is None:
        return None
    parts = field.split(".")
    out = [
        p if _SEGMENT.fullmatch(p) and find_personal_data({"k": p}) is None else "<unnamed>"
        for p in parts
    ]
    return ".".join(out)


def dead_letter(
    *,
    rejected_by: str,
    reason: RejectReason,
    field: str | None,
    message: str,
    raw: bytes | str,
    original_id: str | None = None,
    original_source: str | None = None,
    topic: str | None = None,
    partition: int | None = None,
    offset: int | None = None,
) -> DeadLetter:
    """Build a DLQ record: the input's digest and size, never the input itself."""
    data = raw.encode() if isinstance(raw, str) else raw
    digest = hashlib.sha256(data).hexdigest()
    return DeadLetter(
        id=f"dlq-{uuid4().hex}",
        source=rejected_by,
        type="sendwatch.dead-letter",
        subject=f"dlq:{digest[:16]}",
        time=datetime.now(UTC),
        data=DeadLetterData(
            reason=reason,
            field=safe_field(field),
            message=message[:500],
            original_id=safe_event_id(original_id),
            original_source=original_source,
            topic=topic,
            partition=partition,
            offset=offset,
            payload_sha256=digest,
            payload_bytes=len(data),
        ),
    )


def _message(err: Any) -> str:
    """Pydantic's message, with the rejected value taken out where it repeats it (a
    union tag, a custom validator's text)."""
    msg = str(err.get("msg", "invalid"))
    value = err.get("input")
    if isinstance(value, str) and len(value) >= 2 and value in msg:
        msg = msg.replace(value, "…")
    if err.get("type") in ("union_tag_invalid", "union_tag_not_found"):
        return "unknown event type"
    return msg


def classify(exc: Exception) -> tuple[RejectReason, str | None, str]:
    """Map a validation failure to (reason code, offending field, message).  Neither the
    field nor the message repeats a rejected value."""
    from pydantic import ValidationError

    if not isinstance(exc, ValidationError):
        return RejectReason.INVALID_VALUE, None, type(exc).__name__
    errors = exc.errors(include_url=False)
    # Personal data outranks everything else.
    for err in errors:
        if err["type"] == "personal_data":
            ctx = err.get("ctx") or {}
            return (
                RejectReason.PERSONAL_DATA,
                safe_field(str(ctx.get("field"))),
                f"personal data is not allowed in events ({ctx.get('kind')})",
            )
    err = errors[0]
    kind = err["type"]
    loc = [str(p) for p in err["loc"]]
    # Drop the discriminator tag pydantic puts first for tagged unions.
    if loc and "." in loc[0] and not loc[0].startswith("data"):
        loc = loc[1:]
    field = safe_field(".".join(loc) or None)
    msg = _message(err)
    if kind == "json_invalid":
        return RejectReason.MALFORMED_JSON, None, msg
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return RejectReason.NOT_AN_OBJECT, field, msg
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        return RejectReason.UNKNOWN_TYPE, "type", msg
    if kind == "extra_forbidden":
        return RejectReason.UNKNOWN_FIELD, field, "unknown field (not in the contract)"
    if kind == "missing":
        return RejectReason.MISSING_FIELD, field, msg
    if kind == IMPLAUSIBLE_TIME:
        return RejectReason.IMPLAUSIBLE_TIME, field, msg
    if kind == UNKNOWN_LOCALITY:
        return RejectReason.UNKNOWN_LOCALITY, field, msg
    return RejectReason.INVALID_VALUE, field, msg
