"""CloudEvents-style envelope every message on the bus is wrapped in.

``id`` is the idempotency key: a source that retries sends the same id, and every
consumer counts an id once.  ``subject`` is a pseudonymous case or person id.  Every
string of an envelope and its body is checked for personal data (``privacy.py``), and
its times must lie inside the plausibility window (``plausibility.py``).
"""

from __future__ import annotations

from typing import Annotated, Any, Generic, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    model_validator,
)
from pydantic_core import PydanticCustomError

from contracts.plausibility import PlausibleTime
from contracts.privacy import find_personal_data

SCHEMA_VERSION = "1.0"

# Pseudonymous ids: lower-case letters, digits and a few separators.  Upper-case runs are
# not allowed, which keeps UPNs (letter + 12 digits) and postcodes out by construction.
PseudonymousId = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9._:-]{5,79}$")]
EventId = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]{7,127}$")]
SourceId = Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]{1,63}$")]


class StrictModel(BaseModel):
    """Base for every contract model: unknown fields are rejected, values are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


D = TypeVar("D", bound=StrictModel)


class Envelope(StrictModel, Generic[D]):
    id: EventId = Field(description="Idempotency key; retries reuse it.")
    source: SourceId = Field(description="The sending system, e.g. case-management.")
    type: str = Field(description="Event type, e.g. ehc.request.received.")
    subject: PseudonymousId = Field(description="Pseudonymous case (or person) id.")
    time: PlausibleTime = Field(
        description="When it happened (event time), inside the plausibility window."
    )
    recorded: PlausibleTime | None = Field(
        default=None, description="When the source recorded it; ingest fills it if absent."
    )
    schema_version: str = Field(default=SCHEMA_VERSION, pattern=r"^1\.\d+$")
    data: D

    @model_validator(mode="before")
    @classmethod
    def _no_personal_data(cls, value: Any, info: ValidationInfo) -> Any:
        if info.context and info.context.get("privacy_checked"):
            return value  # the caller has just scanned this very input
        hit = find_personal_data(value)
        if hit is not None:
            where, kind = hit
            raise PydanticCustomError(
                "personal_data",
                "personal data is not allowed in events ({kind} at {field})",
                {"kind": kind, "field": where},
            )
        return value

    def partition_key(self) -> bytes:
        """Events of one case go to one partition, so they stay in order."""
        return self.subject.encode()
