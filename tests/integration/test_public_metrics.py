"""``/metrics`` needs no token, so reporting's KPI gauges show what the public view shows:
a small number the suppression policy hides is not exported at all (real services)."""

from __future__ import annotations

import re

import httpx
import pytest

from tests.helpers import AUTH, OPERATIONAL, case_event, get_json, wait_for


def gauge(text: str, kpi: str) -> list[str]:
    return re.findall(rf'^sendwatch_kpi_value\{{[^}}]*kpi="{kpi}"[^}}]*\}} (\S+)$', text, re.M)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_suppressed_value_is_not_on_metrics(stack_factory) -> None:
    stack = stack_factory("timeliness", "reporting", "ingest")
    p = stack.ports
    ingest = f"http://127.0.0.1:{p['ingest']}/v1/events"
    metrics = f"http://127.0.0.1:{p['reporting']}/metrics"

    def caseload_for(headers: dict[str, str] | None) -> float | None:
        kpis = get_json(p["reporting"], "/v1/kpis?kpi=open_caseload", headers)["kpis"]
        return next((k["value"] for k in kpis if k["breakdown"] == "all"), None)

    assert httpx.post(ingest, json=[case_event(n) for n in range(1, 4)], headers=AUTH).is_success
    wait_for(lambda: caseload_for(OPERATIONAL) == 3.0)  # the operational role sees it
    assert caseload_for(None) is None  # the public view hides 3 (shown as "<5")
    wait_for(lambda: "sendwatch_kpi_snapshot_sequence" in httpx.get(metrics).text)
    text = httpx.get(metrics).text
    assert gauge(text, "open_caseload") == []

    assert httpx.post(ingest, json=[case_event(n) for n in range(4, 11)], headers=AUTH).is_success
    wait_for(lambda: caseload_for(None) == 10.0)
    assert wait_for(lambda: gauge(httpx.get(metrics).text, "open_caseload") == ["10.0"])


BOARD = {"Authorization": "Bearer dev-board-token"}
READ = {"Authorization": "Bearer dev-alerts-read-token"}


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_service_apis_need_a_token_and_open_endpoints_leak_nothing(stack_factory) -> None:
    stack = stack_factory("timeliness", "alerts", "reporting", "ingest")
    p = stack.ports
    events = [case_event(1), case_event(2)]
    assert httpx.post(f"http://127.0.0.1:{p['ingest']}/v1/events", json=events, headers=AUTH)
    wait_for(lambda: get_json(p["timeliness"], "/v1/caseload", OPERATIONAL)["events_applied"] == 2)

    def status(service: str, method: str, path: str, headers: dict[str, str] | None) -> int:
        url = f"http://127.0.0.1:{p[service]}{path}"
        body = {"ids": ["evt-received-00000001"]} if method == "POST" else None
        return httpx.request(method, url, json=body, headers=headers, timeout=10).status_code

    timeliness = [
        ("GET", "/v1/caseload"),
        ("POST", "/v1/applied"),
        ("GET", "/v1/kpis"),
        ("GET", "/v1/cases-at-risk"),
        ("GET", "/v1/exports/dfe-timeliness?year=2026"),
    ]
    for method, path in timeliness:
        assert status("timeliness", method, path, None) == 401, path
        assert status("timeliness", method, path, BOARD) == 403, path
        assert status("timeliness", method, path, OPERATIONAL) == 200, path
    for path in ("/v1/caseload", "/v1/status", "/v1/alerts", "/v1/outbox"):
        assert status("alerts", "GET", path, None) == 401, path
        assert status("alerts", "GET", path, READ) == 200, path
    assert status("reporting", "GET", "/v1/status", None) == 401
    assert status("reporting", "GET", "/v1/status", READ) == 200
    # Reporting reads timeliness with its own service token.
    assert status("reporting", "GET", "/v1/cases-at-risk", OPERATIONAL) == 200

    for name, port in p.items():
        health = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5)
        assert health.status_code == 200
        assert set(health.json()["checks"].values()) == {"ok"}
        text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
        for e in events:
            assert e["id"] not in text and e["subject"] not in text, name
