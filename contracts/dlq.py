"""Dead-letter records: rejected input with a machine-readable reason."""

from __future__ import annotations

import contextlib
import hashlib
import json
from datetime import UTC, datetime
from enum import StrEnum
from typing import Literal
from uuid import uuid4

from pydantic import Field

from contracts.envelope import Envelope, StrictModel
from contracts.privacy import find_personal_data


class RejectReason(StrEnum):
    MALFORMED_JSON = "malformed_json"
    NOT_AN_OBJECT = "not_an_object"
    UNKNOWN_FIELD = "unknown_field"
    MISSING_FIELD = "missing_field"
    INVALID_VALUE = "invalid_value"
    UNKNOWN_TYPE = "unknown_type"
    PERSONAL_DATA = "personal_data"
    FORBIDDEN_SOURCE = "forbidden_source"


class DeadLetterData(StrictModel):
    reason: RejectReason
    field: str | None = Field(description="Dotted path of the offending field, if any")
    message: str
    original_id: str | None = None
    original_source: str | None = None
    topic: str | None = Field(default=None, description="Topic the input was meant for")
    payload: str | None = Field(
        default=None, description="The rejected input, unless it held personal data"
    )
    payload_sha256: str
    payload_redacted: bool = False


class DeadLetter(Envelope[DeadLetterData]):
    type: Literal["sendwatch.dead-letter"]


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
    max_payload: int = 16_384,
) -> DeadLetter:
    """Build a DLQ record.  Personal data never reaches the DLQ: such payloads are dropped
    and only their digest kept."""
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
    digest = hashlib.sha256(text.encode()).hexdigest()
    redacted = reason is RejectReason.PERSONAL_DATA or find_personal_data(text) is not None
    if not redacted:
        with contextlib.suppress(ValueError):
            redacted = find_personal_data(json.loads(text)) is not None
    safe_id = original_id if original_id and find_personal_data(original_id) is None else None
    return DeadLetter(
        id=f"dlq-{uuid4().hex}",
        source=rejected_by,
        type="sendwatch.dead-letter",
        subject=f"dlq:{digest[:16]}",
        time=datetime.now(UTC),
        data=DeadLetterData(
            reason=reason,
            field=field,
            message=message[:500],
            original_id=safe_id,
            original_source=original_source,
            topic=topic,
            payload=None if redacted else text[:max_payload],
            payload_sha256=digest,
            payload_redacted=redacted,
        ),
    )


def classify(exc: Exception) -> tuple[RejectReason, str | None, str]:
    """Map a validation failure to (reason code, offending field, message)."""
    from pydantic import ValidationError

    if not isinstance(exc, ValidationError):
        return RejectReason.INVALID_VALUE, None, str(exc)
    errors = exc.errors(include_url=False)
    # Personal data outranks everything else: it is the one reason that redacts.
    for err in errors:
        if err["type"] == "personal_data":
            ctx = err.get("ctx") or {}
            return RejectReason.PERSONAL_DATA, str(ctx.get("field")), err["msg"]
    err = errors[0]
    kind = err["type"]
    loc = [str(p) for p in err["loc"]]
    # Drop the discriminator tag pydantic puts first for tagged unions.
    if loc and "." in loc[0] and not loc[0].startswith("data"):
        loc = loc[1:]
    field = ".".join(loc) or None
    if kind == "json_invalid":
        return RejectReason.MALFORMED_JSON, None, err["msg"]
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return RejectReason.NOT_AN_OBJECT, field, err["msg"]
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        return RejectReason.UNKNOWN_TYPE, "type", err["msg"]
    if kind == "extra_forbidden":
        return RejectReason.UNKNOWN_FIELD, field, err["msg"]
    if kind == "missing":
        return RejectReason.MISSING_FIELD, field, err["msg"]
    return RejectReason.INVALID_VALUE, field, err["msg"]
