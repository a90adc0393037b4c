"""Free text in the service APIs' request bodies is stored (a silence's reason, an
acknowledgement's note, a recovery action, a replay's audited reason): a body with an
NHS number, a UPN, a postcode or an email in any field is refused with a 422 that names
the field and the kind, never the value, before anything is stored."""

from __future__ import annotations

import importlib

import pytest
from fastapi.testclient import TestClient

ACK = {"Authorization": "Bearer dev-alerts-ack-token"}
OPS = {"Authorization": "Bearer dev-operational-token"}
VALUES = [
    ("9434765919", "nhs_number"),
    ("943 476 5919", "nhs_number"),
    ("a123456789012".replace("a", "A"), None),  # the UPN shape (check letter aside)
    ("SY3 8HQ", "postcode"),
    ("sy38hq", "postcode"),
    ("ottoline.quenby@example.org", "email"),
]


@pytest.fixture(scope="module")
def apps(tmp_path_factory: pytest.TempPathFactory) -> dict[str, TestClient]:
    mp = pytest.MonkeyPatch()
    mp.setenv("SENDWATCH_DEV", "1")
    mp.setenv("SENDWATCH_VAR_DIR", str(tmp_path_factory.mktemp("var")))
    try:
        return {
            name: TestClient(importlib.import_module(f"services.{name}.entrypoint").create_app())
            for name in ("alerts", "timeliness")
        }
    finally:
        mp.undo()


@pytest.mark.parametrize(("value", "kind"), VALUES)
def test_personal_values_in_alerts_bodies_are_refused(apps, value: str, kind: str | None) -> None:
    posts = [
        ("/v1/silences", {"until": "2026-06-01", "reason": f"migration for {value}"}, "reason"),
        ("/v1/alerts/a-1/ack", {"note": f"spoke to {value}"}, "note"),
        (
            "/v1/alerts/a-1/recovery-plan",
            {
                "summary": "plan",
                "actions": [{"action": f"call {value}", "owner": "EP", "due": "2026-06-01"}],
            },
            "action",
        ),
    ]
    for path, body, field in posts:
        r = apps["alerts"].post(path, json=body, headers=ACK)
        assert r.status_code == 422, (path, r.text)
        detail = r.json()["detail"]
        assert "personal data" in detail and field in detail, detail
        if kind:
            assert kind in detail
        assert value.lower() not in r.text.lower()


@pytest.mark.parametrize(("value", "kind"), VALUES)
def test_personal_values_in_a_replay_reason_are_refused(apps, value: str, kind: str | None) -> None:
    r = apps["timeliness"].post("/v1/replay", json={"reason": f"asked by {value}"}, headers=OPS)
    assert r.status_code == 422, r.text
    assert "personal data" in r.json()["detail"] and value.lower() not in r.text.lower()


@pytest.mark.parametrize(
    ("service", "method", "path", "body", "headers"),
    [
        ("timeliness", "get", "/v1/kpis?cycle=%00", None, OPS),
        ("timeliness", "get", "/v1/exports/dfe%00x?year=2025", None, OPS),
        ("timeliness", "post", "/v1/replay", {"reason": "why\x00not"}, OPS),
        ("timeliness", "post", "/v1/applied", {"ids": ["evt-1\x00"]}, OPS),
        ("alerts", "post", "/v1/silences", {"until": "2026-06-01", "reason": "a\x00b"}, ACK),
        ("alerts", "get", "/v1/alerts?kpi=%00", None, ACK),
    ],
)
def test_a_nul_character_is_a_422_not_a_500(apps, service, method, path, body, headers) -> None:
    """PostgreSQL cannot hold a NUL in a text column: the fuzzer's %00 in a parameter and
    \\u0000 in a body were 500s."""
    client = apps[service]
    r = client.request(method.upper(), path, json=body, headers=headers)
    assert r.status_code == 422, r.text
    assert "NUL" in r.json()["detail"]
