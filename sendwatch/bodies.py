"""Request bodies of the service APIs: no personal data in what is stored or logged.

A body's free text (a silence's reason, an acknowledgement's note, a recovery action, a
replay's audited reason) is kept in a database.  The personal-data guard of the event
contracts (``contracts/privacy.py``) runs on every body before it is validated: an NHS
number, a UPN, a postcode or an email address anywhere, or a date of birth or a name in
a pseudonymous id field, is a 422 naming the field and the kind, never the value.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, model_validator

from contracts.privacy import find_personal_data


class GuardedBody(BaseModel):
    @model_validator(mode="before")
    @classmethod
    def _no_personal_data(cls, value: Any) -> Any:
        hit = find_personal_data(value)
        if hit is not None:
            where, kind = hit
            raise ValueError(f"personal data is not allowed ({kind} at {where})")
        return value
