"""Roles in the alerts API, on its real routes over a migrated SQLite database (no broker:
the lifespan is not run).  A board token reads KPI-level alerts only: case-level
(milestone) alerts and the notification outbox need the ``cases`` role.  Silences have a
maximum length."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from sendwatch.config import Settings
from sendwatch.db import migrate
from services.alerts.adapters.orm import AlertRow, ClockRow, OutboxRow
from services.alerts.adapters.repository import CLOCK_KEY

BOARD = {"Authorization": "Bearer dev-board-token"}
READ = {"Authorization": "Bearer dev-alerts-read-token"}
OPERATIONAL = {"Authorization": "Bearer dev-operational-token"}
ACK = {"Authorization": "Bearer dev-alerts-ack-token"}
NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def _alert(aid: str, kind: str, rule: str) -> AlertRow:
    return AlertRow(
        id=aid,
        fingerprint=f"fp-{aid}",
        rule=rule,
        kind=kind,
        kpi="ehcp_20wk",
        cycle_kind="month",
        breakdown="all",
        cycle="2026-11",
        title=f"{kind} alert",
        status="open",
        episode=1,
        historical=False,
        opened_at=NOW,
        updated_at=NOW,
    )


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    from services.alerts.entrypoint import bootstrap, create_app

    settings = Settings.from_env({"SENDWATCH_VAR_DIR": str(tmp_path), "SENDWATCH_DEV": "1"})
    runtime = bootstrap(settings)
    assert runtime.engine is not None
    migrate("alerts", runtime.engine)
    with Session(runtime.engine) as s:
        s.add(ClockRow(key=CLOCK_KEY, now=NOW))
        s.add(_alert("kpi-alert-1", "deterioration", "R1"))
        s.add(_alert("case-alert-1", "milestone", "MS1"))
        s.add(
            OutboxRow(
                alert_id="case-alert-1",
                episode=1,
                level=1,
                notice="raise",
                channel="email",
                recipient="ws3@example.org",
                subject="Case EHC-000123 missed its draft plan",
                body="Case EHC-000123 ...",
                payload="{}",
                status="pending",
                next_attempt_at=NOW,
                decided_at=NOW,
                created_at=NOW,
            )
        )
        s.commit()
    yield TestClient(create_app(runtime))
    runtime.engine.dispose()


def test_board_token_reads_kpi_level_alerts_but_not_cases_or_the_outbox(
    client: TestClient,
) -> None:
    board = client.get("/v1/alerts", headers=BOARD)
    assert board.status_code == 200
    assert [a["id"] for a in board.json()["alerts"]] == ["kpi-alert-1"]
    assert board.json()["total"] == 1
    assert client.get("/v1/alerts?kind=milestone", headers=BOARD).status_code == 403
    assert client.get("/v1/alerts/case-alert-1", headers=BOARD).status_code == 403
    assert client.get("/v1/alerts/kpi-alert-1", headers=BOARD).status_code == 200
    outbox = client.get("/v1/outbox", headers=BOARD)
    assert outbox.status_code == 403 and "EHC-000123" not in outbox.text
    assert client.get("/v1/escalations", headers=BOARD).status_code == 200


@pytest.mark.parametrize("headers", [READ, OPERATIONAL])
def test_case_role_reads_everything(client: TestClient, headers: dict[str, str]) -> None:
    every = client.get("/v1/alerts", headers=headers).json()
    assert {a["id"] for a in every["alerts"]} == {"kpi-alert-1", "case-alert-1"}
    assert client.get("/v1/alerts/case-alert-1", headers=headers).status_code == 200
    outbox = client.get("/v1/outbox", headers=headers)
    assert outbox.status_code == 200 and outbox.json()["total"] == 1


def test_no_token_is_401(client: TestClient) -> None:
    assert client.get("/v1/alerts").status_code == 401
    assert client.get("/v1/outbox").status_code == 401


def test_a_silence_has_a_maximum_length(client: TestClient) -> None:
    ok = client.post(
        "/v1/silences",
        json={"kpi": "ehcp_20wk", "until": "2027-01-31", "reason": "data migration"},
        headers=ACK,
    )
    assert ok.status_code == 201, ok.text
    long = client.post(
        "/v1/silences",
        json={"kpi": "ehcp_20wk", "until": "2027-06-30", "reason": "for ever, almost"},
        headers=ACK,
    )
    assert long.status_code == 422 and "at most 90 days" in long.text
