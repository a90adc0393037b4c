"""Bearer-token checks for the service APIs (tokens and roles: ``contracts/tokens.yaml``).

``requires(tokens, role)`` is a FastAPI dependency: no or an unknown token is a 401, a
token without the role a 403; ``admin`` implies every role.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Header, HTTPException

from contracts.tokens import Principal, TokenRegistry


def requires(tokens: TokenRegistry, role: str) -> Callable[..., Principal]:
    def check(authorization: Annotated[str | None, Header()] = None) -> Principal:
        who = tokens.from_header(authorization)
        if who is None:
            raise HTTPException(
                401,
                "missing or unknown token (Authorization: Bearer <token>)",
                headers={"WWW-Authenticate": "Bearer"},
            )
        if not who.allows(role):
            raise HTTPException(403, f"this token lacks the {role!r} role")
        return who

    return check
