"""Who is looking: API tokens (``contracts/tokens.yaml``) from ``Authorization: Bearer``
or, for the browser, a server-side session (``services/reporting/adapters/sessions.py``)
whose id the sign-in form sets in the ``sendwatch_session`` cookie; the token never goes
into a cookie.

Roles in reporting: ``board`` (suppressed aggregates), ``operational`` (unsuppressed
figures and cases at risk), ``admin`` (everything), ``read`` (alerts pages).  No token
means the public view: the same suppressed aggregates a board member sees, and no alerts
or cases.
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request

from contracts.tokens import Principal, TokenRegistry
from services.reporting.adapters.sessions import SessionStore
from services.reporting.domain.suppression import SuppressionPolicy
from services.reporting.sessions import SESSION_COOKIE


@dataclass(frozen=True)
class Viewer:
    principal: Principal | None
    suppressed: bool
    invalid_token: bool = False  # a token was presented but is unknown

    @property
    def name(self) -> str:
        return self.principal.name if self.principal else "public"

    def can(self, role: str) -> bool:
        return self.principal is not None and self.principal.allows(role)

    @property
    def audience(self) -> str:
        if not self.suppressed:
            return "operational"
        return "board" if self.can("board") else "public"


def viewer(
    request: Request,
    tokens: TokenRegistry,
    policy: SuppressionPolicy,
    sessions: SessionStore | None = None,
) -> Viewer:
    header = request.headers.get("authorization")
    principal = tokens.from_header(header) if header else None
    invalid = bool(header) and principal is None
    if principal is None and not header and sessions is not None:
        cookie = request.cookies.get(SESSION_COOKIE)
        if cookie:
            session = sessions.get(cookie)
            principal = session.principal if session else None
            invalid = principal is None
    unsuppressed = principal is not None and any(
        principal.allows(role) for role in policy.unsuppressed_roles
    )
    return Viewer(principal, not unsuppressed, invalid)
