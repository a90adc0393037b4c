"""API tokens for people and dashboards (``tokens.yaml`` or ``SENDWATCH_TOKENS_FILE``).

Tokens are stored as SHA-256 hashes, each with a name and roles.  ``admin`` implies every
role.  Used by the alerts API (``read``, ``cases``, ``ack``) and by reporting
(``board``, ``operational``, ``admin``).  ``cases`` is case-level data in the alerts API
(milestone alerts, which name cases, and the notification outbox); a board token has
``read`` but not ``cases``.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator

_DEFAULT = Path(__file__).with_name("tokens.yaml")
_HEX64 = re.compile(r"^[0-9a-f]{64}$")

Role = Literal["read", "cases", "ack", "board", "operational", "admin", "pmo", "owner"]


class TokenSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    description: str = ""
    sha256: list[str] = Field(min_length=1)
    roles: list[Role] = Field(min_length=1)

    @field_validator("sha256")
    @classmethod
    def _hex(cls, value: list[str]) -> list[str]:
        for digest in value:
            if not _HEX64.match(digest):
                raise ValueError("sha256 entries are 64 lower-case hex digits")
        return value


def secret_bytes(value: str) -> bytes:
    """A posted secret as bytes, whatever it holds (non-ASCII, even a lone surrogate)."""
    return value.encode("utf-8", "surrogatepass")


def same_secret(a: str, b: str) -> bool:
    """Constant-time equality of two secrets.  ``hmac.compare_digest`` on ``str`` raises
    TypeError for non-ASCII text, which a caller can post, so compare bytes."""
    return hmac.compare_digest(secret_bytes(a), secret_bytes(b))


@dataclass(frozen=True)
class Principal:
    """Who presented a token, and what they may do."""

    name: str
    roles: frozenset[str]

    def allows(self, role: str) -> bool:
        return "admin" in self.roles or role in self.roles


class TokenRegistry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    version: int
    tokens: dict[str, TokenSpec]

    def authenticate(self, token: str) -> Principal | None:
        """The principal owning ``token``, or None (constant-time comparison)."""
        digest = hashlib.sha256(secret_bytes(token)).hexdigest()
        found: Principal | None = None
        for name, spec in self.tokens.items():
            for known in spec.sha256:
                if same_secret(digest, known):
                    found = Principal(name, frozenset(spec.roles))
        return found

    def from_header(self, authorization: str | None) -> Principal | None:
        """Parse ``Authorization: Bearer <token>``."""
        if not authorization:
            return None
        scheme, _, token = authorization.strip().partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return None
        return self.authenticate(token.strip())


@lru_cache(maxsize=4)
def load_tokens(path: str | Path | None = None) -> TokenRegistry:
    file = Path(path or _DEFAULT)
    return TokenRegistry.model_validate(yaml.safe_load(file.read_text()))
