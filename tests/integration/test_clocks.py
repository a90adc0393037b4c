"""Statutory clocks in event time, through the real broker: with no further case
events, clock ticks alone raise the early warning and then the slip, once each; KPI
values reach reporting with their cycle, target and RAG; a late event restates a closed
cycle as a new revision."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest

from tests.helpers import AUTH, OPERATIONAL, case_event, get_json, read_topic, tick_lanes, wait_for

CLOCK = {"Authorization": "Bearer dev-clock-key"}
LONDON = ZoneInfo("Europe/London")


def tick(day: datetime) -> dict:
    end = datetime(day.year, day.month, day.day, 23, 59, 59, tzinfo=LONDON).astimezone(UTC)
    return {
        "id": f"tick-{day:%Y%m%d}",
        "source": "clock",
        "type": "clock.tick",
        "subject": "clock:test",
        "time": end.isoformat(),
        "data": {},
    }


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_ticks_alone_raise_warning_then_slip(stack_factory, broker) -> None:
    stack = stack_factory("timeliness", "reporting", "ingest")
    url = f"http://127.0.0.1:{stack.ports['ingest']}/v1/events"
    r = httpx.post(url, json=[case_event(1, case=1)], headers=AUTH)  # received 2026-04-01
    assert r.status_code == 200
    start = datetime(2026, 4, 1)
    for d in range(0, 44):  # days 0..43 end-of-day ticks
        r = httpx.post(url, json=[tick(start + timedelta(days=d))], headers=CLOCK)
        assert r.status_code == 200, r.text
    wait_for(
        lambda: (
            get_json(stack.ports["timeliness"], "/v1/caseload", OPERATIONAL)["watermark"]
            is not None
            and get_json(stack.ports["timeliness"], "/v1/caseload", OPERATIONAL)["events_applied"]
            == 1 + 44 * tick_lanes()
        )
    )
    alerts = read_topic(broker.bootstrap, "sendwatch.milestones.v1", expect=2, timeout=20)
    got = sorted((a["data"]["milestone"], a["data"]["kind"], a["data"]["day"]) for a in alerts)
    assert got == [
        ("decision_to_assess", "early_warning", 35),
        ("decision_to_assess", "slipped", 43),
    ]

    # Replaying the same ticks changes nothing: no new alerts.
    for d in range(30, 44):
        httpx.post(url, json=[tick(start + timedelta(days=d))], headers=CLOCK)
    assert len(read_topic(broker.bootstrap, "sendwatch.milestones.v1", expect=3, timeout=5)) == 2

    # Open caseload and backlog reach reporting as point-in-time KPIs.
    def kpi(name: str, breakdown: str = "all") -> dict | None:
        rows = get_json(stack.ports["reporting"], "/v1/kpis", OPERATIONAL)["kpis"]
        return next(
            (
                k
                for k in rows
                if k["kpi"] == name and k["cycle"] == "current" and k["breakdown"] == breakdown
            ),
            None,
        )

    wait_for(lambda: (k := kpi("open_caseload")) and k["value"] == 1.0)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_closed_cycle_is_restated_by_a_late_event(stack_factory) -> None:
    stack = stack_factory("timeliness", "ingest")
    url = f"http://127.0.0.1:{stack.ports['ingest']}/v1/events"
    t = stack.ports["timeliness"]
    # Two plans issued in April 2026: one on time (day 100), one late (day 150).
    events = [
        case_event(1, case=1, day=-100),
        case_event(2, "ehc.plan.final-issued", case=1),
        case_event(3, case=2, day=-150),
        case_event(4, "ehc.plan.final-issued", case=2),
    ]
    assert httpx.post(url, json=events, headers=AUTH).status_code == 200
    # The clock moves past April's end + 10 days of grace: April closes.
    assert httpx.post(url, json=[tick(datetime(2026, 5, 15))], headers=CLOCK).status_code == 200

    def april() -> dict:
        rows = get_json(t, "/v1/kpis?kpi=ehcp_20wk&cycle=2026-04&breakdown=all", OPERATIONAL)[
            "values"
        ]
        return rows[0] if rows else {}

    v = wait_for(lambda: (a := april()) and a["closed"] and a)
    assert (v["numerator"], v["denominator"], v["value"], v["revision"]) == (1, 2, 50.0, 1)
    assert v["extra"]["weeks_20_to_52"] == 1 and v["extra"]["within_20_weeks"] == 1
    # A late event: a third plan issued in April, reported in May.
    late = [case_event(5, case=3, day=-20), case_event(6, "ehc.plan.final-issued", case=3)]
    assert httpx.post(url, json=late, headers=AUTH).status_code == 200
    v = wait_for(lambda: (a := april()) and a["revision"] == 2 and a)
    assert (v["numerator"], v["denominator"]) == (2, 3)
