"""Programme delivery end to end: the alerts service as a real process on the real
broker, with a real SMTP server.  A dependency marked off track raises an R1 exception
(to its owner and the milestone's forum); the exception report falls due, goes overdue,
is recorded; the QAG pack lists it; unresolved after QAG it goes to the Partnership
Board; the monthly highlight report shows all of it and agrees with the API's figures.
A kill -9 of the alerts service with mail waiting sends nothing twice."""

from __future__ import annotations

import asyncio
import json
import signal
from collections import Counter
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer

from cli.mailsink import MailSink
from tests.helpers import wait_for

TOPIC = "sendwatch.programme-events.v1"
PMO = {"Authorization": "Bearer dev-pmo-token"}
OWNER = {"Authorization": "Bearer dev-owner-token"}
BOARD = {"Authorization": "Bearer dev-board-token"}
DEP_OWNER = "ws2-lead@example.org"
WS3 = "ws3-ehcp-timeliness@example.org"
PB = "send-partnership-board@example.org"
PMO_LEAD = "pmo-lead@example.org"


def noon(day: str) -> str:
    d = date.fromisoformat(day)
    return datetime(d.year, d.month, d.day, 12, tzinfo=UTC).isoformat()


def record(port: int, headers: dict[str, str], **body: Any) -> dict[str, Any]:
    r = httpx.post(
        f"http://127.0.0.1:{port}/v1/programme/events", json=body, headers=headers, timeout=10
    )
    assert r.status_code == 202, r.text
    return r.json()


def get(port: int, path: str, headers: dict[str, str] = BOARD) -> httpx.Response:
    r = httpx.get(f"http://127.0.0.1:{port}{path}", headers=headers, timeout=30)
    assert r.status_code == 200, r.text
    return r


def ticks(bootstrap: str, days: list[str]) -> None:
    async def go() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
        await producer.start()
        try:
            for day in days:
                d = date.fromisoformat(day)
                msg = {
                    "id": f"tick-e2e-{day}",
                    "source": "clock",
                    "type": "clock.tick",
                    "subject": "clock:simulated",
                    "data": {},
                    "time": datetime(d.year, d.month, d.day, 23, 59, tzinfo=UTC).isoformat(),
                }
                await producer.send_and_wait(TOPIC, json.dumps(msg).encode(), key=b"clock")
        finally:
            await producer.stop()

    asyncio.run(go())


def kinds(sink: MailSink) -> Counter[tuple[str, str]]:
    return Counter((m["X-Sendwatch-Notice"], m["To"]) for m in sink.messages)


def outbox(port: int) -> list[dict[str, Any]]:
    return get(
        port, "/v1/outbox?limit=1000", {"Authorization": "Bearer dev-alerts-read-token"}
    ).json()["notifications"]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_dependency_off_track_to_partnership_board(
    stack_factory, broker, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("SENDWATCH_NOTIFY_POLL_S", "0.2")
    monkeypatch.setenv("SENDWATCH_NOTIFY_RETRY_BASE_S", "0.3")
    monkeypatch.setenv("SENDWATCH_NOTIFY_RETRY_MAX_S", "1")
    monkeypatch.setenv("SENDWATCH_ALERTS_HORIZON_DAYS", "60")
    # a relay killed while it holds a claim blocks those rows until the lease runs out;
    # the lease is shorter than the waits below
    monkeypatch.setenv("SENDWATCH_NOTIFY_LEASE_S", "3")
    with MailSink(tmp_path / "mail") as sink:
        monkeypatch.setenv("SENDWATCH_SMTP_HOST", "127.0.0.1")
        monkeypatch.setenv("SENDWATCH_SMTP_PORT", str(sink.port))
        monkeypatch.setenv("SENDWATCH_SMTP_FROM", "sendwatch@example.org")
        stack = stack_factory("alerts")
        port = stack.ports["alerts"]

        # roles: the board reads and may not write; an owner may not raise items
        r = httpx.post(
            f"http://127.0.0.1:{port}/v1/programme/events",
            headers=BOARD,
            json={"type": "programme.raid.raised", "subject": "raid-000001", "data": {}},
            timeout=10,
        )
        assert r.status_code == 403
        raised = {
            "type": "programme.raid.raised",
            "subject": "raid-000001",
            "time": noon("2026-12-14"),
            "id": "e2e-raid-1",
            "data": {
                "kind": "dependency",
                "owner": "ws2-lead",
                "due": "2027-01-29",
                "impact": 4,
                "likelihood": 3,
                "dependency": "d-dfs",
                "milestones": ["o03-q4"],
            },
        }
        r = httpx.post(
            f"http://127.0.0.1:{port}/v1/programme/events", headers=OWNER, json=raised, timeout=10
        )
        assert r.status_code == 403
        bad = {**raised, "data": {**raised["data"], "milestones": ["o99-q9"]}}
        r = httpx.post(
            f"http://127.0.0.1:{port}/v1/programme/events", headers=PMO, json=bad, timeout=10
        )
        assert r.status_code == 422 and "milestones" in r.text

        record(port, PMO, **raised)
        # the dependency's owner marks it off track
        record(
            port,
            OWNER,
            type="programme.raid.updated",
            subject="raid-000001",
            time=noon("2026-12-18"),
            id="e2e-raid-2",
            data={**raised["data"], "status": "off_track", "reason": "funding_gap"},
        )
        wait_for(
            lambda: (
                kinds(sink)[("exception", WS3)] == 1 and kinds(sink)[("exception", DEP_OWNER)] == 1
            ),
            timeout=30,
        )
        exc = [m for m in sink.messages if m["X-Sendwatch-Notice"] == "exception"][0]
        assert "2027-01-06" in exc.get_content()  # 10 working days across Christmas

        # the report is due on 6 January; on the 7th it is overdue.  The mail server
        # refuses for now: the overdue mails wait in the outbox when the service dies
        sink.pause()
        ticks(broker.bootstrap, ["2027-01-06", "2027-01-07"])
        wait_for(
            lambda: (
                len([n for n in outbox(port) if n["notice"] == "overdue" and n["attempts"] >= 1])
                == 3
            ),
            timeout=30,
        )
        view = get(port, "/v1/programme").json()
        [case] = view["exceptions"]
        assert case["overdue"] and case["report_due"] == "2027-01-06"
        victim = stack.children["alerts"]
        victim.send_signal(signal.SIGKILL)
        victim.wait(timeout=10)
        # everything is delivered again (the same ids) to the restarted service
        ticks(broker.bootstrap, ["2027-01-06", "2027-01-07"])
        sink.pause(refuse=False)
        stack.start_service("alerts")
        stack.wait_healthy()
        wait_for(lambda: kinds(sink)[("overdue", PMO_LEAD)] == 1, timeout=30)

        # recorded: the report and recovery plan, a QAG decision against its pack
        record(
            port,
            PMO,
            type="programme.action.agreed",
            subject="action-000001",
            time=noon("2027-01-08"),
            id="e2e-action-1",
            data={
                "owner": "ws2-lead",
                "due": "2027-01-22",
                "raid": "raid-000001",
                "milestone": "o03-q4",
                "recovery": True,
            },
        )
        record(
            port,
            OWNER,
            type="programme.exception.recorded",
            subject="raid-000001",
            time=noon("2027-01-08"),
            id="e2e-report-1",
            data={
                "raid": "raid-000001",
                "milestone": "o03-q4",
                "options": ["additional_funding", "resequence"],
                "recovery_actions": ["action-000001"],
            },
        )
        wait_for(lambda: kinds(sink)[("recorded", WS3)] == 1, timeout=30)
        pack = get(
            port, "/v1/programme/documents/qag-pack?meeting=2027-01-12&as_of=2027-01-07"
        ).text
        assert "| raid-000001 | dependency | d-dfs | ws2-lead | off_track |" in pack
        assert "## Exceptions awaiting a recovery plan" in pack
        assert "| o03-q4 |" in pack.split("## Exceptions awaiting a recovery plan")[1]
        record(
            port,
            PMO,
            type="programme.decision.recorded",
            subject="decision-000001",
            time=noon("2027-01-12"),
            id="e2e-decision-1",
            data={
                "forum": "qag",
                "date": "2027-01-12",
                "outcome": "corrective_action",
                "raid": "raid-000001",
                "pack": "2027-01-12",
            },
        )

        # unresolved after its QAG (12 January): the Partnership Board, once.  The board
        # has quiet hours (19:00-08:00, escalation.yaml): the notice, decided at a 23:59
        # tick, is queued at once and held until 08:00; the next day's tick delivers it.
        ticks(broker.bootstrap, ["2027-01-13", "2027-01-14"])
        [held] = wait_for(
            lambda: [n for n in outbox(port) if n["notice"] == "escalation" and n["to"] == PB],
            timeout=30,
        )
        assert held["status"] == "pending" and held["held_for"] == "quiet_hours"
        assert held["held_until"] == "2027-01-15T08:00:00+00:00"
        assert kinds(sink)[("escalation", PB)] == 0
        ticks(broker.bootstrap, ["2027-01-15"])
        wait_for(lambda: kinds(sink)[("escalation", PB)] == 1, timeout=30)
        agenda = get(port, "/v1/programme/agenda/pb").json()
        assert agenda["meeting"] == "2027-02-10"
        assert {
            "item": "escalation",
            "raid": "raid-000001",
            "milestone": "o03-q4",
            "level": 1,
            "since": "2027-01-13",
        } in agenda["items"]

        # nothing twice, across the kill
        ticks(broker.bootstrap, ["2027-01-15"])
        wait_for(lambda: not [n for n in outbox(port) if n["status"] == "pending"], timeout=30)
        sent = Counter((m["X-Sendwatch-Alert"], m["To"]) for m in sink.messages)
        assert sent and max(sent.values()) == 1, sent
        k = kinds(sink)
        assert k[("exception", DEP_OWNER)] == k[("overdue", DEP_OWNER)] == 1
        assert k[("escalation", PB)] == 1

        # the highlight report for January shows it all and matches the API's figures
        md = get(port, "/v1/programme/documents/highlight?month=2027-01&as_of=2027-01-14").text
        api = get(port, "/v1/programme?as_of=2027-01-14").json()
        for label, value in api["figures"].items():
            assert f"| {label} | {value} |" in md
        assert api["figures"]["open exceptions"] == len(api["exceptions"]) == 1
        assert api["figures"]["escalations"] == 1
        assert "| decision-000001 | qag | 2027-01-12 | corrective_action | raid-000001 |" in md
        assert "| o03-q4 | EHCP timeliness/quality and health access | raid-000001 |" in md
        assert "| 2027-01-08 | pb |" in md  # report recorded; escalated to the board
        assert "| action-000001 | ws2-lead | raid-000001 | 2027-01-22 | open |" in md
        html = get(
            port, "/v1/programme/documents/highlight?month=2027-01&as_of=2027-01-14&format=html"
        ).text
        assert "<h2>Recovery actions</h2>" in html
