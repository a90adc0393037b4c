"""Sign-in sessions, kept on the server: the browser's cookie holds a random session id,
never the API token, and signing out revokes the session.  Also the sign-in's defences:
a CSRF token bound to the form, an Origin check on form posts, and a lockout after
repeated failures from one address.

Sessions live in the process's memory (a restart signs everyone out); only a digest of
each session id is kept.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from fastapi import Request

from contracts.tokens import Principal

SESSION_COOKIE = "sendwatch_session"
CSRF_COOKIE = "sendwatch_csrf"


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


@dataclass
class Session:
    principal: Principal
    csrf: str
    expires: float


@dataclass
class SessionStore:
    hours: float = 8.0
    max_failures: int = 5
    lockout_s: float = 900.0
    _sessions: dict[str, Session] = field(default_factory=dict)
    _failures: dict[str, list[float]] = field(default_factory=dict)

    def open(self, principal: Principal) -> tuple[str, Session]:
        """A new session: (the cookie's value, the session)."""
        self._expire()
        sid = secrets.token_urlsafe(32)
        s = Session(principal, secrets.token_urlsafe(24), time.monotonic() + self.hours * 3600)
        self._sessions[_digest(sid)] = s
        return sid, s

    def get(self, sid: str | None) -> Session | None:
        if not sid:
            return None
        s = self._sessions.get(_digest(sid))
        if s is None or s.expires < time.monotonic():
            return None
        return s

    def revoke(self, sid: str | None) -> None:
        if sid:
            self._sessions.pop(_digest(sid), None)

    def _expire(self) -> None:
        now = time.monotonic()
        for k in [k for k, s in self._sessions.items() if s.expires < now]:
            del self._sessions[k]

    # --- lockout ---

    def locked(self, address: str) -> float:
        """Seconds until ``address`` may try again (0: it may)."""
        now = time.monotonic()
        recent = [t for t in self._failures.get(address, []) if now - t < self.lockout_s]
        self._failures[address] = recent
        if len(recent) < self.max_failures:
            return 0.0
        return max(1.0, self.lockout_s - (now - recent[0]))

    def failed(self, address: str) -> None:
        self._failures.setdefault(address, []).append(time.monotonic())

    def succeeded(self, address: str) -> None:
        self._failures.pop(address, None)


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
    return bool(expected) and bool(given) and hmac.compare_digest(str(expected), str(given))
