"""The sign-in's cookies and its checks on form posts: a CSRF token bound to the form and
an Origin check.  The sessions themselves, and the lockout after repeated failures from
one address, are kept in the database (``services/reporting/adapters/sessions.py``): the
browser's cookie holds a random session id, never the API token, and signing out revokes
the session in every reporting process.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from fastapi import Request

from contracts.tokens import same_secret

SESSION_COOKIE = "sendwatch_session"
CSRF_COOKIE = "sendwatch_csrf"


def same_origin(request: Request) -> bool:
    """A form post's Origin (or, without one, its Referer) is this site."""
    claimed = request.headers.get("origin") or request.headers.get("referer")
    if not claimed or claimed == "null":
        return False
    parts = urlsplit(claimed)
    host = request.headers.get("host", "")
    scheme = request.headers.get("x-forwarded-proto", request.url.scheme).split(",")[0]
    return parts.netloc == host and parts.scheme in (scheme.strip(), "https")


def csrf_matches(expected: str | None, given: str | None) -> bool:
    return bool(expected) and bool(given) and same_secret(str(expected), str(given))
