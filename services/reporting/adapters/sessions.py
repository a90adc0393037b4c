"""Sign-in sessions and the sign-in lockout, in reporting's database.

The browser's cookie holds a random session id; the table keeps only its digest, who
signed in and until when, so a stolen database gives no usable cookie.  Because both
live in the database, a restart keeps everyone signed in and the lockout in force, and
a sign-out (or a lockout) in one reporting process holds in every other."""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import delete, func, select
from sqlalchemy.engine import Engine
from sqlmodel import Session as DbSession
from sqlmodel import col

from contracts.tokens import Principal
from services.reporting.adapters.orm import SignInFailure, SignInSession


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


@dataclass(frozen=True)
class Session:
    principal: Principal
    csrf: str
    expires: float


@dataclass
class SessionStore:
    engine: Engine
    hours: float = 8.0
    max_failures: int = 5
    lockout_s: float = 900.0
    clock: Callable[[], float] = time.time

    def open(self, principal: Principal) -> tuple[str, Session]:
        """A new session: (the cookie's value, the session).  Expired ones go."""
        now = self.clock()
        sid = secrets.token_urlsafe(32)
        s = Session(principal, secrets.token_urlsafe(24), now + self.hours * 3600)
        with DbSession(self.engine) as db:
            db.execute(delete(SignInSession).where(col(SignInSession.expires) < now))
            db.add(
                SignInSession(
                    digest=_digest(sid),
                    principal=principal.name,
                    roles=",".join(sorted(principal.roles)),
                    csrf=s.csrf,
                    expires=s.expires,
                )
            )
            db.commit()
        return sid, s

    def get(self, sid: str | None) -> Session | None:
        if not sid:
            return None
        with DbSession(self.engine) as db:
            row = db.get(SignInSession, _digest(sid))
        if row is None or row.expires < self.clock():
            return None
        roles = frozenset(r for r in row.roles.split(",") if r)
        return Session(Principal(row.principal, roles), row.csrf, row.expires)

    def revoke(self, sid: str | None) -> None:
        if not sid:
            return
        with DbSession(self.engine) as db:
            db.execute(delete(SignInSession).where(col(SignInSession.digest) == _digest(sid)))
            db.commit()

    # --- lockout, by a digest of the client address ---

    def locked(self, address: str) -> float:
        """Seconds until ``address`` may try again (0: it may)."""
        now = self.clock()
        with DbSession(self.engine) as db:
            count, first = db.execute(
                select(func.count(), func.min(SignInFailure.at)).where(
                    col(SignInFailure.address) == _digest(address),
                    col(SignInFailure.at) > now - self.lockout_s,
                )
            ).one()
        if count < self.max_failures:
            return 0.0
        return max(1.0, self.lockout_s - (now - float(first)))

    def failed(self, address: str) -> None:
        now = self.clock()
        with DbSession(self.engine) as db:
            db.execute(delete(SignInFailure).where(col(SignInFailure.at) <= now - self.lockout_s))
            db.add(SignInFailure(address=_digest(address), at=now))
            db.commit()

    def succeeded(self, address: str) -> None:
        with DbSession(self.engine) as db:
            db.execute(delete(SignInFailure).where(col(SignInFailure.address) == _digest(address)))
            db.commit()
