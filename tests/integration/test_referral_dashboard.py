"""The dashboard's health section from real data: referrals posted to ingest, clock
ticks through timeliness, snapshots into reporting; the page's pathway tiles, CHS band
table and capacity row show what the events imply, and the KPI page of a pathway shows
its percentile waits."""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Any

import httpx
import pytest

from tests.helpers import wait_for
from tests.integration.test_alerts import end_of_day

NHS = {"Authorization": "Bearer dev-nhs-community-key"}
CLOCK = {"Authorization": "Bearer dev-clock-key"}
OPS = {"Authorization": "Bearer dev-operational-token"}
TODAY = date(2026, 11, 20)


def received(n: int, day: date, service: str) -> dict[str, Any]:
    return {
        "id": f"nhs-dash-{n:08d}",
        "source": "nhs-community",
        "type": "referral.received",
        "subject": f"ref-{n:08d}",
        "time": f"{day.isoformat()}T10:00:00+00:00",
        "data": {
            "person_id": f"p-{n:08d}",
            "service": service,
            "locality": "wem",
            "age_band": "5-10",
            "source_of_referral": "gp",
        },
    }


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_health_page_shows_the_pathways_bands_and_capacity(
    stack_factory, broker, database_url
) -> None:
    stack = stack_factory("timeliness", "alerts", "reporting", "ingest")
    ingest = f"http://127.0.0.1:{stack.ports['ingest']}/v1/events"
    # SLT: 3 waiting 10 days, 1 waiting 200 days (75% within 18 weeks);
    # ND 6-18: 1 waiting 400 days (0%).
    waits = [("slt", 10)] * 3 + [("slt", 200), ("nd_6_18", 400)]
    events = [received(n, TODAY - timedelta(days=w), s) for n, (s, w) in enumerate(waits)]
    assert httpx.post(ingest, json=events, headers=NHS).status_code == 200
    tick = {
        "id": "tick-dash",
        "source": "clock",
        "type": "clock.tick",
        "subject": "clock:test",
        "time": end_of_day(TODAY).isoformat(),
        "data": {},
    }
    assert httpx.post(ingest, json=[tick], headers=CLOCK).status_code == 200
    base = f"http://127.0.0.1:{stack.ports['reporting']}"

    def tile(page: str, kpi: str) -> str | None:
        m = re.search(rf'data-kpi="{kpi}">([^<]+)<', page)
        return m.group(1) if m else None

    def all_row(page: str) -> list[str]:
        row = re.search(r"<th scope=\"row\">All pathways</th>((?:<td>[^<]*</td>)+)", page)
        return re.findall(r"<td>([^<]*)</td>", row.group(1)) if row else []

    # 0-1, 1-2 (10 days: 3), 2-4, 4-12, 12-18, 18-52 (200: 1), 52-104 (400: 1), over 104:
    # the waits as at the tick's day (the current position moves with the clock)
    want = ["0", "3", "0", "0", "0", "1", "1", "0"]

    slt_waits = [
        "Wait, median</dt><dd>1.4 weeks",
        "Wait, 92nd</dt><dd>28.6 weeks",
        "Wait, 95th</dt><dd>28.6 weeks",
    ]

    def ready() -> str | None:
        # each KPI's current position arrives in its own snapshot: wait for all of them
        page = httpx.get(f"{base}/health", headers=OPS, timeout=10).text
        if all_row(page) != want or 'data-service="ot"' not in page:
            return None
        slt = page[page.index('data-service="slt"') : page.index('data-service="ot"')]
        return page if all(w in slt for w in slt_waits) else None

    page = wait_for(ready, timeout=60)
    assert tile(page, "k2_slt_waiting_18wk") == "75.0%"
    assert tile(page, "k4_nd_6_18_waiting_18wk") == "0.0%"
    assert "1 waiting" in page and "4 waiting" in page
    assert "to be established" in page  # K4's goal
    assert 'role="img"' in page and "<script" not in page
    assert "Partnership view" in page and "R5" in page
    assert "health_capacity_vs_demand" in page
    # the percentile waits the NHS reads, per pathway (nearest rank of 10, 10, 10, 200)
    slt = page[page.index('data-service="slt"') : page.index('data-service="ot"')]
    assert "Wait, median</dt><dd>1.4 weeks" in slt
    assert "Wait, 92nd</dt><dd>28.6 weeks" in slt
    assert "Wait, 95th</dt><dd>28.6 weeks" in slt
    # the board's suppressed view: small numbers hidden, never the figures above
    board = httpx.get(f"{base}/health", headers={"Authorization": "Bearer dev-board-token"})
    assert board.status_code == 200 and tile(board.text, "k2_slt_waiting_18wk") != "75.0%"
