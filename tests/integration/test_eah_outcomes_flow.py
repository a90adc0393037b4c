"""Experts at Hand and outcomes on the real broker: events posted to ingest (and a
figures CSV through ``sendwatch import figures``) reach the dashboard's headline tiles;
R16's weekly backlog and capacity, missed two weeks running, escalate to the SRO and
ICB Place leadership by email (R10 then R5); complaints over the monthly cap raise the
R10 deterioration alert to the named owner."""

from __future__ import annotations

import re
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from cli.mailsink import MailSink
from tests.helpers import wait_for
from tests.integration.test_alerts import alerts, end_of_day, mail_to

EAH = {"Authorization": "Bearer dev-experts-at-hand-key"}
OUTCOMES = {"Authorization": "Bearer dev-outcomes-key"}
CLOCK = {"Authorization": "Bearer dev-clock-key"}
BOARD = {"Authorization": "Bearer dev-board-token"}
SRO, ICB = "sro-send@example.org", "icb-place-leadership@example.org"
OWNER = "principal-ep@example.org"


def event(n: int, etype: str, subject: str, day: date, source: str, **data: Any) -> dict:
    return {
        "id": f"flow-{n:08d}",
        "source": source,
        "type": etype,
        "subject": subject,
        "time": f"{day.isoformat()}T10:00:00+00:00",
        "data": data,
    }


@pytest.fixture
def sink(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Any:
    monkeypatch.setenv("SENDWATCH_NOTIFY_POLL_S", "0.2")
    monkeypatch.setenv("SENDWATCH_NOTIFY_RETRY_BASE_S", "0.3")
    with MailSink(tmp_path / "mail") as s:
        monkeypatch.setenv("SENDWATCH_SMTP_HOST", "127.0.0.1")
        monkeypatch.setenv("SENDWATCH_SMTP_PORT", str(s.port))
        yield s


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_events_and_an_import_reach_the_tiles_and_r16_and_r10_alerts(
    stack_factory: Any, sink: MailSink, tmp_path: Path
) -> None:
    stack = stack_factory("timeliness", "alerts", "reporting", "ingest")
    ingest = f"http://127.0.0.1:{stack.ports['ingest']}/v1/events"

    def post(events: list[dict], headers: dict[str, str]) -> None:
        r = httpx.post(ingest, json=events, headers=headers, timeout=30)
        assert r.status_code == 200 and r.json()["rejected"] == 0, r.text

    def tick(d: date) -> None:
        t = {
            "id": f"tick-{d.isoformat()}",
            "source": "clock",
            "type": "clock.tick",
            "subject": "clock:test",
            "time": end_of_day(d).isoformat(),
            "data": {},
        }
        post([t], CLOCK)

    # Experts at Hand: 12 SLT requests waiting since August against 6 sessions a week;
    # six children reached in the autumn term (fewer than 5 would be suppressed).
    n = 0
    eah: list[dict] = []
    for k in range(12):
        n += 1
        eah.append(
            event(
                n,
                "eah.request.received",
                f"eah-{k:08d}",
                date(2026, 8, 3),
                "experts-at-hand",
                service="slt",
                requester="setting",
                phase="primary",
                locality="ludlow",
            )
        )
    for week in (date(2026, 9, 7), date(2026, 9, 14)):
        n += 1
        eah.append(
            event(
                n,
                "eah.capacity.reported",
                "capacity-0001",
                week,
                "experts-at-hand",
                service="slt",
                sessions=6,
            )
        )
    for k in range(6):
        n += 1
        eah.append(
            event(
                n,
                "eah.cyp.supported",
                f"cyp-{k:08d}",
                date(2026, 9, 8),
                "experts-at-hand",
                service="slt",
                phase="primary",
                locality="wem",
            )
        )
    post(eah, EAH)

    # the figures DfE sends, through the CSV import
    csv_file = tmp_path / "figures.csv"
    csv_file.write_text(
        "measure,cohort,area,period,value,pupils,published\n"
        "attendance,ehcp,local,2025/26-T3,85.9,2050,2026-09-10\n"
        "attendance,ehcp,statistical-neighbours,2025/26-T3,86.4,,2026-09-10\n"
        "attendance,ehcp,local,summer,85.9,,\n"
    )
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "cli",
            "import",
            "figures",
            str(csv_file),
            "--url",
            ingest.removesuffix("/v1/events"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env=stack.env(),
    )
    assert done.returncode == 1, done.stderr  # one bad row
    assert "figures.csv:4: string_pattern_mismatch (period)" in done.stderr
    assert "1 rejected" in done.stdout and "2 rows imported" in done.stdout

    # The requests have waited past 4 weeks in every week since early September (weeks
    # 36 and 37 close, with 3 days' grace, on 17 September): R10, then R5 the second
    # week.  Capacity is reported from week 37: over it in weeks 37 and 38.
    tick(date(2026, 9, 17))
    port = stack.ports["alerts"]

    def series(rule: str, kpi: str) -> list[str]:
        return sorted(a["cycle"] for a in alerts(port, rule=rule) if a["kpi"] == kpi)

    assert wait_for(lambda: series("R5", "eah_backlog"), timeout=90) == ["2026-W37"]
    assert series("R10", "eah_backlog") == ["2026-W36"]
    assert wait_for(lambda: series("R10", "eah_demand_vs_capacity"), timeout=60) == ["2026-W37"]
    tick(date(2026, 9, 24))
    assert wait_for(lambda: series("R5", "eah_demand_vs_capacity"), timeout=90) == ["2026-W38"]
    wait_for(lambda: mail_to(sink, SRO) and mail_to(sink, ICB), timeout=60)

    # the dashboard: the attendance and Experts at Hand headlines show the real values
    home = f"http://127.0.0.1:{stack.ports['reporting']}/"

    def tiles() -> dict[str, str]:
        html = httpx.get(home, headers=BOARD, timeout=10).text
        found = re.findall(r'data-kpi="([a-z0-9_]+)">([^<]+)<', html)
        return {k: v.strip() for k, v in found}

    shown = wait_for(lambda: (t := tiles()).get("attendance_ehcp") == "85.9%" and t, timeout=60)
    assert shown["eah_reach_slt"] == "6"
    assert shown["attendance_ehcp_vs_neighbours"] == "99.4%"  # 85.9 / 86.4
    html = httpx.get(home, headers=BOARD, timeout=10).text
    assert html.count("data-headline=") == 6  # the plan's six headline metrics

    # K19: twelve complaints in October against the cap of 10; November 10 closes it
    complaints = []
    for k in range(12):
        n += 1
        complaints.append(
            event(
                n,
                "complaint.received",
                f"complaint-{k:06d}",
                date(2026, 10, 1) + timedelta(days=k),
                "outcomes",
                theme="communication",
                locality="shifnal",
            )
        )
    post(complaints, OUTCOMES)
    tick(date(2026, 11, 12))
    r10 = wait_for(
        lambda: [a for a in alerts(port, rule="R10") if a["kpi"] == "complaints_per_month"],
        timeout=90,
    )
    assert r10[0]["cycle"] == "2026-10" and r10[0]["facts"]["cycles"][0]["value"] == 12.0
    wait_for(lambda: mail_to(sink, OWNER), timeout=60)
