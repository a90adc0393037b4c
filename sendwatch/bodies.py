"""Request bodies of the service APIs: no personal data in what is stored or logged.

A NUL character anywhere in a body is refused too (PostgreSQL cannot store one).

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


def nul_at(value: Any, path: str = "") -> str | None:
    """The dotted path of the first string (or key) holding a NUL character, or None.
    PostgreSQL cannot store one in a text column: it was a 500."""
    stack: list[tuple[Any, str]] = [(value, path)]
    while stack:
        node, where = stack.pop()
        if isinstance(node, str):
            if "\x00" in node:
                return where
        elif isinstance(node, dict):
            for k, v in node.items():
                key = str(k)
                if "\x00" in key:
                    return where or "a key"
                stack.append((v, f"{where}.{key}" if where else key))
        elif isinstance(node, list):
            stack.extend((v, f"{where}.{i}" if where else str(i)) for i, v in enumerate(node))
    return None


class GuardedBody(BaseModel):
    @model_validator(mode="before")
    @classmethod
    def _no_personal_data(cls, value: Any) -> Any:
        where = nul_at(value)
        if where is not None:
            raise ValueError(f"a NUL character is not allowed (at {where or 'the body'})")
        hit = find_personal_data(value)
        if hit is not None:
            where, kind = hit
            raise ValueError(f"personal data is not allowed ({kind} at {where})")
        return value
