"""Reporting's sign-in, on its real routes and templates (no broker: the lifespan is not
run): a server-side session that sign-out revokes (the token never goes into a cookie),
CSRF and Origin checks on the form posts, and a lockout after repeated failures, both
kept in the database so that they hold across processes and restarts."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from sendwatch.config import Settings

ORIGIN = {"Origin": "http://testserver"}
TOKEN = "dev-operational-token"


def reporting_process(var_dir: Path) -> TestClient:
    """A reporting app on the database in ``var_dir`` (migrated, as its start does).  Two
    of them on one directory are two reporting processes on one database, or one process
    before and after a restart."""
    from sendwatch.db import migrate
    from services.reporting.entrypoint import bootstrap, create_app

    settings = Settings.from_env(
        {
            "SENDWATCH_DEV": "1",
            "SENDWATCH_VAR_DIR": str(var_dir),
            "SENDWATCH_SIGN_IN_MAX_FAILURES": "3",
        }
    )
    runtime = bootstrap(settings)
    assert runtime.engine is not None
    migrate("reporting", runtime.engine)
    return TestClient(create_app(runtime), follow_redirects=False)


@pytest.fixture
def client(tmp_path: Path) -> TestClient:
    return reporting_process(tmp_path)


def csrf_of(page: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found, "the form carries a CSRF token"
    return found.group(1)


def sign_in(client: TestClient, token: str = TOKEN, **headers: str) -> object:
    form = client.get("/sign-in")
    return client.post(
        "/sign-in",
        data={"token": token, "csrf": csrf_of(form.text)},
        headers={**ORIGIN, **headers},
    )


def test_a_session_not_the_token_and_sign_out_revokes_it(client: TestClient) -> None:
    r = sign_in(client)
    assert r.status_code == 303
    cookie = r.headers["set-cookie"]
    assert (
        TOKEN not in cookie and "httponly" in cookie.lower() and "samesite=strict" in cookie.lower()
    )
    sid = client.cookies.get("sendwatch_session")
    assert sid and TOKEN not in sid
    # The session is the operational role (the outbox page: no upstream needed to be let in).
    assert client.get("/alerts/outbox").status_code == 200
    page = client.get("/sign-out")
    signed_out = client.post("/sign-out", data={"csrf": csrf_of(page.text)}, headers=ORIGIN)
    assert signed_out.status_code == 303
    # The old session id, replayed, is no longer a session.
    client.cookies.set("sendwatch_session", sid)
    assert client.get("/alerts/outbox").status_code in (401, 403)
    # The raw token as a cookie means nothing either.
    client.cookies.clear()
    client.cookies.set("sendwatch_token", TOKEN)
    assert client.get("/alerts/outbox").status_code in (401, 403)


def test_sign_in_needs_the_forms_csrf_token_and_this_sites_origin(client: TestClient) -> None:
    client.get("/sign-in")
    no_csrf = client.post("/sign-in", data={"token": TOKEN}, headers=ORIGIN)
    assert no_csrf.status_code == 403 and "sendwatch_session" not in client.cookies
    assert sign_in(client, Origin="https://evil.example").status_code == 403
    form = client.get("/sign-in")
    no_origin = client.post("/sign-in", data={"token": TOKEN, "csrf": csrf_of(form.text)})
    assert no_origin.status_code == 403
    assert "sendwatch_session" not in client.cookies


def test_repeated_failures_lock_the_address_out(client: TestClient) -> None:
    for _ in range(3):
        assert sign_in(client, "guess").status_code == 401
    locked = sign_in(client)  # even the right token, while locked out
    assert locked.status_code == 429 and int(locked.headers["retry-after"]) > 0
    assert "sendwatch_session" not in client.cookies


def test_sessions_and_the_lockout_hold_across_processes_and_restarts(tmp_path: Path) -> None:
    first, second = reporting_process(tmp_path), reporting_process(tmp_path)
    assert sign_in(first).status_code == 303
    sid = first.cookies.get("sendwatch_session")
    assert sid
    # The other process (or this one restarted) knows the session ...
    second.cookies.set("sendwatch_session", sid)
    assert second.get("/alerts/outbox").status_code == 200
    # ... and a sign-out there ends it here too.
    page = second.get("/sign-out")
    out = second.post("/sign-out", data={"csrf": csrf_of(page.text)}, headers=ORIGIN)
    assert out.status_code == 303
    assert first.get("/alerts/outbox").status_code in (401, 403)
    # Failures counted by one process lock the address out of the other.
    for _ in range(3):
        assert sign_in(first, "guess").status_code == 401
    assert sign_in(second).status_code == 429
    # No session id, token or client address is stored in clear.
    import sqlite3

    db = sqlite3.connect(tmp_path / "reporting.db")
    stored = " ".join(
        str(row)
        for table in ("reporting_session", "reporting_sign_in_failure")
        for row in db.execute(f"SELECT * FROM {table}")
    )
    assert stored and sid not in stored and TOKEN not in stored and "testclient" not in stored


def test_pages_send_the_security_headers(client: TestClient) -> None:
    r = client.get("/sign-in")
    assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
    assert r.headers["x-content-type-options"] == "nosniff"


def test_sign_in_with_the_database_down_is_a_503_not_a_500(client: TestClient) -> None:
    from sendwatch.db import make_engine

    ctx = client.app.state.runtime.deps  # type: ignore[attr-defined]
    ctx.sessions.engine = make_engine("postgresql://postgres@127.0.0.1:1/unreachable")
    r = sign_in(client)
    assert r.status_code == 503 and "database is unavailable" in r.json()["detail"]
    assert "Traceback" not in r.text and "127.0.0.1:1" not in r.text
