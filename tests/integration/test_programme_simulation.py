"""The simulated programme office through ingest to the alerts service: weekly PMO
updates, a slipping dependency, its R1 exception and the QAG decisions; the monthly
highlight report for a simulated month agrees with the API's figures for that month."""

from __future__ import annotations

import asyncio
import re
from datetime import date

import httpx
import pytest

from services.ingest.sources.simulator.model import SimConfig
from services.ingest.sources.simulator.runner import run_simulation
from tests.helpers import wait_for

BOARD = {"Authorization": "Bearer dev-board-token"}
READ = {"Authorization": "Bearer dev-alerts-read-token"}


def get(port: int, path: str, headers: dict[str, str] = BOARD) -> httpx.Response:
    r = httpx.get(f"http://127.0.0.1:{port}{path}", headers=headers, timeout=30)
    assert r.status_code == 200, r.text
    return r


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_simulated_month_highlight_matches_the_api(stack_factory) -> None:
    stack = stack_factory("ingest", "alerts", "reporting")
    port = stack.ports["alerts"]
    stats = asyncio.run(
        run_simulation(
            f"http://127.0.0.1:{stack.ports['ingest']}",
            "dev-case-management-key",
            seed=7,
            start=date(2026, 11, 2),
            days=76,
            speed=86400.0 * 40,
            config=SimConfig(requests_per_year=40.0),
            programme_key="dev-pmo-key",
        )
    )
    assert stats.rejected == 0
    wait_for(lambda: get(port, "/v1/programme").json()["as_of"] >= "2027-01-15", timeout=60)

    api = get(port, "/v1/programme?as_of=2026-12-31").json()
    md = get(port, "/v1/programme/documents/highlight?month=2026-12").text
    figures = dict(re.findall(r"^\| ([a-z /0-9]+) \| (\d+) \|$", md, re.M))
    assert {k: int(v) for k, v in figures.items()} == api["figures"]
    # the simulated story: one dependency slipped, R1 opened, a report and QAG decisions
    [case] = api["exceptions"][:1]
    assert case["triggers"] == ["status"] and case["report_recorded"] is not None
    assert not case["overdue"]
    assert api["figures"]["open dependencies"] == 5 and api["figures"]["open risks"] == 7
    assert [d["outcome"] for d in api["decisions"]] == ["corrective_action"]
    assert "| corrective_action |" in md and "## Recovery actions" in md
    january = get(port, "/v1/programme?as_of=2027-01-12").json()
    assert [d["outcome"] for d in january["decisions"]] == [
        "corrective_action",
        "recovery_plan_accepted",
    ]
    # QAG accepted the recovery plan: resolved (still listed while the item is off track)
    slipped = [c for c in january["exceptions"] if c["raid"] == case["raid"]]
    assert slipped and {c["resolved"] for c in slipped} == {"2027-01-12"}
    # items left past their own due date (31 December) are exceptions too (R1)
    assert {tuple(c["triggers"]) for c in january["exceptions"] if c not in slipped} <= {
        ("missed_due",)
    }

    # the dashboard: programme view, RAID log with filters, overdue recovery actions, agenda
    web = stack.ports["reporting"]
    page = get(web, "/programme").text
    assert "<h2>Q3 milestones</h2>" in page and case["raid"] in page
    assert 'id="overdue-recovery-actions"' in page
    overdue = get(port, "/v1/programme").json()["overdue_recovery_actions"]["count"]
    tile = page.split('id="overdue-recovery-actions"')[1]
    assert f'<p class="sw-tile__value">{overdue}</p>' in tile
    raid = get(web, "/programme/raid?kind=dependency").text
    assert "5 item(s)" in raid and "risk</td>" not in raid
    assert "7 item(s)" in get(web, "/programme/raid?kind=risk").text
    agenda = get(web, "/programme/agenda/qag").text
    assert "Quality Assurance Group: next meeting" in agenda
    assert httpx.get(f"http://127.0.0.1:{web}/programme", timeout=10).status_code == 401
