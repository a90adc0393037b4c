"""Every service's HTTP guard: a body limit before any route runs (with or without a
declared length, with or without a token) and the security headers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI, Request
from fastapi.testclient import TestClient

from sendwatch.http_limits import Guard


def app(limit: int) -> FastAPI:
    a = FastAPI()
    a.add_middleware(Guard, max_body=limit)

    @a.post("/echo")
    async def echo(request: Request) -> dict[str, int]:
        return {"bytes": len(await request.body())}

    return a


@pytest.fixture
def client() -> TestClient:
    return TestClient(app(1000))


def test_a_declared_length_over_the_limit_is_413(client: TestClient) -> None:
    r = client.post("/echo", content=b"x" * 1001)
    assert r.status_code == 413 and r.json()["error"] == "payload_too_large"
    assert client.post("/echo", content=b"x" * 1000).json() == {"bytes": 1000}


def test_a_streamed_body_is_cut_off_at_the_limit(client: TestClient) -> None:
    sent = 0

    def chunks() -> Iterator[bytes]:
        nonlocal sent
        for _ in range(10_000):
            sent += 100
            yield b"y" * 100

    r = client.post("/echo", content=chunks())
    assert r.status_code == 413


def test_security_headers_and_hsts_only_behind_tls(client: TestClient) -> None:
    r = client.post("/echo", content=b"{}")
    assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["referrer-policy"] == "same-origin"
    assert "strict-transport-security" not in r.headers
    tls = client.post("/echo", content=b"{}", headers={"X-Forwarded-Proto": "https"})
    assert tls.headers["strict-transport-security"].startswith("max-age=")


def test_every_service_app_has_the_guard(tmp_path: Path) -> None:
    from sendwatch.config import Settings
    from services.reporting.entrypoint import bootstrap, create_app

    settings = Settings.from_env(
        {
            "SENDWATCH_DEV": "1",
            "SENDWATCH_MAX_BODY_BYTES": "4096",
            "SENDWATCH_VAR_DIR": str(tmp_path),
        }
    )
    reporting = TestClient(create_app(bootstrap(settings)))
    r = reporting.post("/sign-in", content=b"token=" + b"a" * 10_000)
    assert r.status_code == 413
