"""An event posted over HTTP reaches every downstream service (real broker, real DB)."""

from __future__ import annotations

import httpx
import pytest

from tests.helpers import AUTH, OPERATIONAL, case_event, get_json, wait_for


@pytest.mark.brokers
def test_posted_event_reaches_every_service(stack_factory) -> None:
    stack = stack_factory("timeliness", "alerts", "reporting", "ingest")
    p = stack.ports
    events = [case_event(1), case_event(2), case_event(3)]
    events.append(case_event(4, "ehc.plan.final-issued", case=3, day=120))
    r = httpx.post(f"http://127.0.0.1:{p['ingest']}/v1/events", json=events, headers=AUTH)
    assert r.status_code == 200, r.text
    assert r.json()["accepted"] == 4

    # timeliness applied all four events: three requests opened, one closed by its plan
    wait_for(lambda: get_json(p["timeliness"], "/v1/caseload", OPERATIONAL)["events_applied"] == 4)
    assert get_json(p["timeliness"], "/v1/caseload", OPERATIONAL)["open_caseload"] == 2

    def reporting_value() -> float | None:
        kpis = get_json(p["reporting"], "/v1/kpis", OPERATIONAL)["kpis"]
        return next((k["value"] for k in kpis if k["kpi"] == "open_caseload"), None)

    wait_for(lambda: reporting_value() == 2.0)
    wait_for(lambda: get_json(p["alerts"], "/v1/caseload", OPERATIONAL)["open_caseload"] == 2)

    # A resent event (same id) is not counted again anywhere.
    r = httpx.post(f"http://127.0.0.1:{p['ingest']}/v1/events", json=events[:1], headers=AUTH)
    assert r.status_code == 200
    one_more = case_event(5)
    httpx.post(f"http://127.0.0.1:{p['ingest']}/v1/events", json=[one_more], headers=AUTH)
    wait_for(lambda: get_json(p["timeliness"], "/v1/caseload", OPERATIONAL)["events_applied"] == 5)
    assert get_json(p["timeliness"], "/v1/caseload", OPERATIONAL)["open_caseload"] == 3
    wait_for(lambda: reporting_value() == 3.0)

    # Operations: health and per-partition lag on every service.
    for name in ("ingest", "timeliness", "alerts", "reporting"):
        assert get_json(p[name], "/healthz")["status"] == "ok"

    def lag_lines() -> list[str]:
        text = httpx.get(f"http://127.0.0.1:{p['timeliness']}/metrics").text
        return [
            ln
            for ln in text.splitlines()
            if ln.startswith("sendwatch_consumer_lag{") and 'topic="sendwatch.case-events.v1"' in ln
        ]

    # timeliness consumes every domain's topic; the case events' three partitions here
    lines = wait_for(lambda: len(lag_lines()) == 3 and lag_lines())
    assert {ln.split('partition="')[1].split('"')[0] for ln in lines} == {"0", "1", "2"}
    # Lag is log-end minus committed offset, the same computation on either broker: once
    # every event is applied and committed it is zero on every partition.
    wait_for(lambda: all(float(ln.rsplit(" ", 1)[1]) == 0.0 for ln in lag_lines()), timeout=30)
    metrics = httpx.get(f"http://127.0.0.1:{p['timeliness']}/metrics").text
    assert 'sendwatch_events_applied_total{service="timeliness"} 5.0' in metrics
    assert 'sendwatch_events_duplicate_total{service="timeliness"} 1.0' in metrics
    assert "sendwatch_processing_latency_seconds_bucket" in metrics


def test_logs_carry_the_trace_of_every_message_and_never_its_id(stack_factory) -> None:
    """Every service logs each message's trace id (a hash of the event id), never the
    event id itself: a source may have put personal data in it."""
    import json

    from sendwatch.consumer import trace_of

    stack = stack_factory("timeliness", "ingest")
    p = stack.ports
    events = [case_event(i) for i in range(1, 6)]
    r = httpx.post(f"http://127.0.0.1:{p['ingest']}/v1/events", json=events, headers=AUTH)
    assert r.status_code == 200
    wait_for(lambda: get_json(p["timeliness"], "/v1/caseload", OPERATIONAL)["events_applied"] == 5)

    def logged(service: str, what: str) -> list[str]:
        """The trace ids of the per-request (ingest) or per-batch (timeliness) lines."""
        lines = (stack.var_dir / "logs" / f"{service}.log").read_text().splitlines()
        return sorted(
            trace
            for line in lines
            if line.startswith("{") and f'"{what}"' in line
            for trace in json.loads(line)["trace_ids"]
        )

    expected = sorted(trace_of(e["id"]) for e in events)
    assert logged("ingest", "events_received") == expected
    assert wait_for(lambda: logged("timeliness", "batch_processed") == expected or None)
    for service in ("ingest", "timeliness"):
        text = (stack.var_dir / "logs" / f"{service}.log").read_text()
        assert not [e["id"] for e in events if e["id"] in text]
        assert '"event_id"' not in text
