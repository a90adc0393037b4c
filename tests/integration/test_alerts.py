"""The alerts service end to end, as a real process against the real broker, with a
real SMTP server (aiosmtpd) and a real HTTP receiver for webhooks.

Most scenarios publish hand-made KPI snapshots (closed cycle values, with the event-time
watermark) straight to ``sendwatch.kpi-snapshots.v1``, and milestone alerts to
``sendwatch.milestones.v1``; one test goes all the way from case events and clock ticks
through ingest and timeliness to an alert email.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import threading
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime
from datetime import time as dtime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
import yaml
from aiokafka import AIOKafkaProducer

from cli.mailsink import MailSink
from cli.tansu import free_port
from tests.helpers import AUTH, case_event, wait_for

LONDON = ZoneInfo("Europe/London")
SNAPSHOTS = "sendwatch.kpi-snapshots.v1"
MILESTONES = "sendwatch.milestones.v1"
READ = {"Authorization": "Bearer dev-alerts-read-token"}
ACK = {"Authorization": "Bearer dev-alerts-ack-token"}
CLOCK = {"Authorization": "Bearer dev-clock-key"}

WS3 = "ws3-ehcp-timeliness@example.org"
QAG = "qag@example.org"
BOARD = "send-partnership-board@example.org"
OWNER = "principal-ep@example.org"
SRO = "sro-send@example.org"
ICB = "icb-place-leadership@example.org"
DCO = "dco@example.org"


# --- building and publishing messages -------------------------------------------------


def end_of_day(d: str | date) -> datetime:
    day = date.fromisoformat(d) if isinstance(d, str) else d
    return datetime.combine(day, dtime(23, 59, 59), tzinfo=LONDON).astimezone(UTC)


def closed(
    cycle: str,
    value: float | None,
    kpi: str = "ehcp_20wk",
    *,
    revision: int = 1,
    target: float | None = None,
    standard: float = 90.0,
    breakdown: str = "all",
) -> dict[str, Any]:
    kind = "week" if "-W" in cycle else "month"
    return {
        "kpi": kpi,
        "cycle": cycle,
        "cycle_kind": kind,
        "breakdown": breakdown,
        "value": value,
        "numerator": None if value is None else int(value),
        "denominator": None if value is None else 100,
        "closed": True,
        "revision": revision,
        "target": target,
        "standard": standard,
        "rag": "red",
    }


class Feed:
    """Hand-made KPI snapshots with increasing sequence numbers."""

    def __init__(self, bootstrap: str) -> None:
        self.bootstrap = bootstrap
        self.sequence = 0
        self.sent: list[tuple[str, dict[str, Any]]] = []

    def snapshot(self, watermark: str | date, *values: dict[str, Any]) -> dict[str, Any]:
        self.sequence += 1
        wm = end_of_day(watermark)
        msg = {
            "id": f"snap-test-{self.sequence:012d}-0000",
            "source": "timeliness",
            "type": "sendwatch.kpi.snapshot",
            "subject": "kpi-set:timeliness",
            "time": wm.isoformat(),
            "data": {
                "producer": "timeliness",
                "sequence": self.sequence,
                "as_of": wm.isoformat(),
                "watermark": wm.isoformat(),
                "events_applied": self.sequence,
                "values": list(values),
            },
        }
        self.publish([(SNAPSHOTS, msg)])
        return msg

    def milestone(self, case: str, at: str, milestone: str, kpi: str, due: str) -> dict:
        msg = {
            "id": f"ms-{case}-{milestone}-slipped",
            "source": "timeliness",
            "type": "ehc.milestone.slipped",
            "subject": case,
            "time": end_of_day(at).isoformat(),
            "data": {
                "milestone": milestone,
                "kind": "slipped",
                "kpi": kpi,
                "start": "2026-09-01",
                "due": due,
                "day": 43,
                "locality": "oswestry",
                "age_band": "11-15",
            },
        }
        self.publish([(MILESTONES, msg)])
        return msg

    def publish(self, messages: list[tuple[str, dict[str, Any]]]) -> None:
        async def go() -> None:
            producer = AIOKafkaProducer(bootstrap_servers=self.bootstrap, acks="all")
            await producer.start()
            try:
                for topic, msg in messages:
                    key = (msg["subject"] if topic == MILESTONES else "timeliness").encode()
                    await producer.send_and_wait(topic, json.dumps(msg).encode(), key=key)
            finally:
                await producer.stop()

        asyncio.run(go())
        self.sent += messages


# --- receivers --------------------------------------------------------------------------


class Hooks:
    """A real HTTP server that records JSON webhook posts."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        hooks = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length", 0))
                hooks.received.append(json.loads(self.rfile.read(length)))
                hooks.headers.append(dict(self.headers))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Hooks:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def mail_to(sink: MailSink, address: str) -> list[Any]:
    return [m for m in sink.messages if m["To"] == address]


def body(msg: Any) -> str:
    return " ".join(msg.get_content().split())


@pytest.fixture
def fast_notify(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SENDWATCH_NOTIFY_POLL_S", "0.2")
    # A relay killed while it holds a claim blocks those rows (and its recipients' later
    # ones) until the lease runs out: keep that shorter than the tests' waits.
    monkeypatch.setenv("SENDWATCH_NOTIFY_LEASE_S", "3")
    monkeypatch.setenv("SENDWATCH_NOTIFY_RETRY_BASE_S", "0.3")
    monkeypatch.setenv("SENDWATCH_NOTIFY_RETRY_MAX_S", "1")
    monkeypatch.setenv("SENDWATCH_DASHBOARD_URL", "http://dashboard.example.org")


@pytest.fixture
def sink(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, fast_notify: None) -> Iterator[MailSink]:
    with MailSink(tmp_path / "mail") as s:
        monkeypatch.setenv("SENDWATCH_SMTP_HOST", "127.0.0.1")
        monkeypatch.setenv("SENDWATCH_SMTP_PORT", str(s.port))
        monkeypatch.setenv("SENDWATCH_SMTP_FROM", "sendwatch@example.org")
        yield s


def api(port: int, path: str, headers: dict[str, str] = READ) -> Any:
    r = httpx.get(f"http://127.0.0.1:{port}{path}", headers=headers, timeout=10)
    r.raise_for_status()
    return r.json()


def post(port: int, path: str, body: Any = None, headers: dict[str, str] = ACK) -> httpx.Response:
    return httpx.post(f"http://127.0.0.1:{port}{path}", json=body, headers=headers, timeout=10)


def alerts(port: int, **filters: str) -> list[dict[str, Any]]:
    query = "&".join(f"{k}={v}" for k, v in filters.items())
    return api(port, f"/v1/alerts?{query}")["alerts"]


def settle(seconds: float = 1.0) -> None:
    """Give the service time to do something it must not do."""
    time.sleep(seconds)


# --- the scenarios --------------------------------------------------------------------


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_two_missed_months_send_exactly_one_email_to_level_1(
    stack_factory, broker, sink: MailSink
) -> None:
    """Duplicated snapshots and an SMTP server answering 'try again later' still give
    exactly one email to level 1 (and one R10 notice to the named owner)."""
    sink.pause()  # the mail server is refusing (451) at first
    stack = stack_factory("alerts")
    port = stack.ports["alerts"]
    feed = Feed(broker.bootstrap)
    # Live, a month apart (published together they would be a catch-up: the May cycle
    # would be more than 14 days older than "now" and so historical).
    may = feed.snapshot("2026-06-11", closed("2026-05", 40.0))
    wait_for(lambda: alerts(port, rule="R10"), timeout=30)
    june = feed.snapshot("2026-07-11", closed("2026-06", 45.0))
    feed.publish([(SNAPSHOTS, may), (SNAPSHOTS, june)])  # duplicates (same ids)
    feed.snapshot("2026-07-11", closed("2026-06", 45.0))  # a new id, same revision

    esc = wait_for(lambda: alerts(port, rule="R11"), timeout=30)[0]
    assert (esc["status"], esc["level"], esc["level_body"]) == (
        "open",
        1,
        "Workstream 3: EHCP Quality and Timeliness",
    )
    # The decision is in the outbox; the refusing server delays it.
    box = wait_for(
        lambda: [
            n for n in api(port, "/v1/outbox?status=pending")["notifications"] if n["attempts"] >= 2
        ],
        timeout=20,
    )
    assert all("451" in (n["last_error"] or "") for n in box)
    assert sink.messages == []
    sink.pause(False)  # the server is back
    wait_for(lambda: mail_to(sink, WS3) and mail_to(sink, OWNER) and True, timeout=20)
    settle()
    assert len(mail_to(sink, WS3)) == 1
    assert len(mail_to(sink, OWNER)) == 1
    assert len(sink.messages) == 2

    msg = mail_to(sink, WS3)[0]
    text = body(msg)
    assert msg["Subject"].startswith("[sendwatch R11] Escalation to Workstream 3")
    for phrase in (
        "EHC plans issued within 20 weeks (including exceptions) (K1)",
        "the whole of Shropshire",
        "May 2026: 40.0% (40 of 100). Standard 90.0%; no trajectory target set",
        "June 2026: 45.0% (45 of 100)",
        "Rule R11",
        "level 1 of 4",
        "Named accountable owner: Principal EP (WS3 lead).",
        "If nobody acknowledges this alert by 18 July 2026, it goes to Quality Assurance Group",
        f"http://dashboard.example.org/alerts/{esc['id']}",
    ):
        assert phrase in text, f"{phrase!r} not in {text}"
    assert msg["X-Sendwatch-Alert"] == esc["id"]
    assert list((stack.var_dir.parent / "mail").glob("*.eml"))  # the sink keeps .eml files

    # The timeline shows the attempts that failed and the delivery.
    detail = api(port, f"/v1/alerts/{esc['id']}")
    kinds = [(e["kind"], e["recipient"]) for e in detail["timeline"]]
    assert ("opened", None) in kinds and ("level", None) in kinds
    assert ("notification_queued", WS3) in kinds
    assert kinds.count(("notification_sent", WS3)) == 1
    sent = [n for n in detail["notifications"] if n["to"] == WS3]
    assert len(sent) == 1 and sent[0]["status"] == "sent"
    assert kinds.count(("notification_retry", WS3)) == sent[0]["attempts"] - 1
    assert detail["policy"] == "ws3-governance" and detail["policy_version"] == 3

    # R10 was superseded by the escalation.
    det = alerts(port, rule="R10")[0]
    assert det["status"] == "superseded" and det["owner"] == "Principal EP (WS3 lead)"

    # The API: roles, filters, bad input.
    base = f"http://127.0.0.1:{port}"
    assert httpx.get(f"{base}/v1/alerts").status_code == 401
    assert (
        httpx.get(f"{base}/v1/alerts", headers={"Authorization": "Bearer nope"}).status_code == 401
    )
    assert post(port, f"/v1/alerts/{esc['id']}/ack", headers=READ).status_code == 403
    assert httpx.get(f"{base}/v1/alerts?status=exploded", headers=READ).status_code == 422
    assert httpx.get(f"{base}/v1/alerts?kpi=nope", headers=READ).status_code == 422
    assert httpx.get(f"{base}/v1/alerts?limit=-1", headers=READ).status_code == 422
    assert httpx.get(f"{base}/v1/alerts/al-000000000000", headers=READ).status_code == 404
    assert post(port, "/v1/alerts/al-000000000000/ack").status_code == 404
    bad = httpx.post(
        f"{base}/v1/alerts/{esc['id']}/ack",
        content=b"{not json",
        headers={**ACK, "Content-Type": "application/json"},
    )
    assert bad.status_code == 422
    assert (
        post(port, "/v1/silences", {"reason": "no scope", "until": "2027-01-01"}).status_code == 422
    )
    assert len(alerts(port, historical="false")) == 2
    assert api(port, "/v1/escalations")["open"][0]["id"] == esc["id"]
    metrics = httpx.get(f"{base}/metrics").text
    assert 'sendwatch_alerts_fired_total{rule="R11"} 1.0' in metrics
    assert 'sendwatch_notifications_total{channel="email",outcome="sent"} 2.0' in metrics
    assert httpx.get(f"{base}/v1/caseload").status_code == 401
    assert httpx.get(f"{base}/v1/status").status_code == 401
    assert httpx.get(f"{base}/v1/caseload", headers=READ).status_code == 200


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_ladder_ack_recovery_and_retrigger(
    stack_factory, broker, sink: MailSink, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No acknowledgement within 7 days escalates to QAG (email and webhook); an
    acknowledgement stops the chain; recovery resolves and tells everyone notified; a
    re-trigger starts again from level 1."""
    with Hooks() as hooks:
        config = yaml.safe_load(Path("contracts/escalation.yaml").read_text())
        config["policies"]["ws3-governance"]["levels"][1]["recipients"].append(
            {"webhook": hooks.url, "name": "QAG Teams channel"}
        )
        custom = tmp_path / "escalation.yaml"
        custom.write_text(yaml.safe_dump(config))
        monkeypatch.setenv("SENDWATCH_ESCALATION_FILE", str(custom))
        stack = stack_factory("alerts")
        port = stack.ports["alerts"]
        feed = Feed(broker.bootstrap)
        feed.snapshot("2026-06-11", closed("2026-05", 40.0))
        wait_for(lambda: alerts(port, rule="R10"), timeout=30)
        feed.snapshot("2026-07-11", closed("2026-06", 45.0))
        esc = wait_for(lambda: alerts(port, rule="R11"), timeout=30)[0]
        wait_for(lambda: mail_to(sink, WS3), timeout=20)

        # A week passes in event time with nobody acknowledging: QAG (level 2).
        feed.snapshot("2026-07-17")
        settle(1.0)
        assert mail_to(sink, QAG) == []
        feed.snapshot("2026-07-19")
        wait_for(lambda: mail_to(sink, QAG) and hooks.received, timeout=20)
        qag = body(mail_to(sink, QAG)[0])
        assert "level 2 of 4" in qag
        assert "nobody acknowledged it within 7 days" in qag
        assert "exception report and recovery plan is due by Friday 31 July 2026" in qag
        hook = hooks.received[0]
        assert (hook["rule"], hook["level"], hook["notice"], hook["alert_id"]) == (
            "R11",
            2,
            "alert",
            esc["id"],
        )
        assert hook["body_notified"] == "Quality Assurance Group (QAG)"
        assert hook["link"] == f"http://dashboard.example.org/alerts/{esc['id']}"
        assert hooks.headers[0]["Idempotency-Key"].startswith("sendwatch-outbox-")

        # QAG acknowledges and records the exception report and recovery plan.
        r = post(port, f"/v1/alerts/{esc['id']}/ack", {"by": "Jane Doe", "note": "On it"})
        assert r.status_code == 200, r.text
        assert r.json()["status"] == "acknowledged"
        assert r.json()["acknowledged_by"] == "Jane Doe (dev-alerts-ack)"
        assert post(port, f"/v1/alerts/{esc['id']}/ack").status_code == 409
        plan = {
            "summary": "Clear the backlog of EP advice",
            "recorded_by": "AD Children's Services",
            "actions": [
                {
                    "action": "Commission 40 locum EP assessments",
                    "owner": "Principal EP",
                    "due": "2026-09-30",
                },
                {
                    "action": "Weekly panel for plans past week 16",
                    "owner": "EHCP Team Manager",
                    "due": "2026-08-14",
                },
            ],
        }
        r = post(port, f"/v1/alerts/{esc['id']}/recovery-plan", plan)
        assert r.status_code == 200, r.text
        assert r.json()["recovery_plan"]["recorded_at"] is not None

        # Time passes beyond level 2's delay (14 days): the chain has stopped.
        feed.snapshot("2026-08-05")
        settle()
        assert mail_to(sink, BOARD) == []
        assert alerts(port, rule="R1") == []  # the plan was recorded in time

        # July meets the standard: resolved, and a resolved notice to everyone notified.
        feed.snapshot("2026-08-12", closed("2026-07", 92.0))
        wait_for(lambda: alerts(port, rule="R11")[0]["status"] == "resolved", timeout=20)
        wait_for(
            lambda: (
                len(mail_to(sink, WS3)) == 2
                and len(mail_to(sink, QAG)) == 2
                and len(hooks.received) == 2
            ),
            timeout=20,
        )
        resolved = mail_to(sink, WS3)[1]
        assert resolved["Subject"].startswith("[sendwatch R11] Resolved: EHC plans issued")
        assert "in July 2026 the measure was 92.0% against its standard of 90.0%" in body(resolved)
        assert hooks.received[1]["notice"] == "resolved"

        # August and September miss again: a new episode starting at level 1.
        feed.snapshot("2026-09-11", closed("2026-08", 40.0))
        wait_for(lambda: alerts(port, rule="R10")[0]["episode"] == 2, timeout=20)
        feed.snapshot("2026-10-11", closed("2026-09", 41.0))
        again = wait_for(
            lambda: (a := alerts(port, rule="R11")[0])["episode"] == 2 and a, timeout=20
        )
        assert (again["id"], again["status"], again["level"]) == (esc["id"], "open", 1)
        wait_for(lambda: len(mail_to(sink, WS3)) == 3, timeout=20)
        settle()
        assert [len(mail_to(sink, a)) for a in (WS3, QAG, BOARD, OWNER)] == [3, 2, 0, 2]
        assert len(hooks.received) == 2

        detail = api(port, f"/v1/alerts/{esc['id']}")
        kinds = [e["kind"] for e in detail["timeline"]]
        for kind in (
            "opened",
            "level",
            "notification_sent",
            "acknowledged",
            "plan_due",
            "plan_recorded",
            "resolved",
            "retriggered",
        ):
            assert kind in kinds, kind
        ack = next(e for e in detail["timeline"] if e["kind"] == "acknowledged")
        assert ack["actor"] == "Jane Doe (dev-alerts-ack)" and ack["episode"] == 1
        webhook_sent = [
            e
            for e in detail["timeline"]
            if e["kind"] == "notification_sent" and e["channel"] == "webhook"
        ]
        assert len(webhook_sent) == 2
        assert detail["recovery_plans"][0]["actions"][0]["owner"] == "Principal EP"


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_r5_weekly_health_advice_escalates_to_the_sro_and_the_plan_goes_overdue(
    stack_factory, broker, sink: MailSink
) -> None:
    stack = stack_factory("alerts")
    port = stack.ports["alerts"]
    feed = Feed(broker.bootstrap)
    # Week 46 (9-15 Nov 2026) closes on 19 Nov (3 days' grace); week 47 on 26 Nov.
    feed.snapshot("2026-11-19", closed("2026-W46", 70.0, "advice_6wk_health"))
    wait_for(lambda: alerts(port, rule="R10"), timeout=30)
    feed.snapshot("2026-11-26", closed("2026-W47", 60.0, "advice_6wk_health"))
    r5 = wait_for(lambda: alerts(port, rule="R5"), timeout=30)[0]
    assert r5["level_body"] == "Senior Responsible Owner for SEND reform (SRO)"
    assert r5["recovery_plan"]["due"] == "2026-12-10"
    wait_for(lambda: mail_to(sink, SRO), timeout=20)
    sro = mail_to(sink, SRO)[0]
    text = body(sro)
    assert sro["Subject"].startswith("[sendwatch R5] Escalation to Senior Responsible Owner")
    for phrase in (
        "Health advice for EHC needs assessments returned within 6 weeks",
        "the week of 9 to 15 November 2026: 70.0%",
        "the week of 16 to 22 November 2026: 60.0%",
        "Rule R5",
        "the SRO escalates to ICB Place leadership",
        "Escalate to ICB Place leadership and require a joint recovery plan with actions, "
        "timescales and named owners",
        "Named accountable owner: Designated Clinical Officer.",
        "joint recovery plan (actions, timescales and named owners) is due by Thursday "
        "10 December 2026 (10 working days",
    ):
        assert phrase in text, f"{phrase!r} not in {text}"
    assert len(mail_to(sink, DCO)) == 1  # the R10 notice for week 46
    # ICB Place leadership is told at the same time as the SRO (R5), once.
    wait_for(lambda: mail_to(sink, ICB), timeout=20)
    icb = body(mail_to(sink, ICB)[0])
    assert mail_to(sink, ICB)[0]["Subject"].startswith("[sendwatch R5] Escalation to ICB Place")
    assert "level 2 of 3" in icb
    assert "It comes to you at the same time as Senior Responsible Owner" in icb
    assert "is due from Senior Responsible Owner for SEND reform (SRO) by Thursday" in icb

    # The SRO acknowledges: no further escalation mail to ICB Place leadership.
    assert post(port, f"/v1/alerts/{r5['id']}/ack", {"by": "Natasha Moody"}).status_code == 200
    # A slipped health advice milestone goes to the workstream's owner, the DCO (MS1).
    feed.milestone(
        "case-00004242", "2026-11-27", "advice_health", "advice_6wk_health", "2026-11-26"
    )
    settle(1.0)
    assert len(mail_to(sink, DCO)) == 1  # slips wait for the DCO's 08:00 daily digest
    feed.snapshot("2026-11-28")
    wait_for(lambda: len(mail_to(sink, DCO)) == 2, timeout=20)
    ms1 = mail_to(sink, DCO)[1]
    assert ms1["Subject"].startswith("[sendwatch MS1] Milestone slipped: health advice")
    assert "To Designated Clinical Officer, for Health dependencies (ICB)." in body(ms1)
    assert "case case-00004242 (locality oswestry" in body(ms1)

    # No plan by the due date: on 11 December the plan is overdue (R1).
    feed.snapshot("2026-12-10")
    settle(1.0)
    assert alerts(port, rule="R1") == []
    feed.snapshot("2026-12-11")
    overdue = wait_for(lambda: alerts(port, rule="R1"), timeout=20)[0]
    assert overdue["parent_id"] == r5["id"]
    wait_for(lambda: len(mail_to(sink, ICB)) == 2 and len(mail_to(sink, SRO)) == 2, timeout=20)
    overdue_icb = mail_to(sink, ICB)[1]
    assert overdue_icb["Subject"].startswith("[sendwatch R1] Overdue: joint recovery")
    assert "was due by 10 December 2026" in body(overdue_icb)

    # Bad plans are refused; a good one resolves the overdue alert.
    for bad in (
        {"summary": "x", "actions": []},
        {"summary": "Joint plan", "actions": [{"action": "Recruit", "due": "2027-01-31"}]},
        {
            "summary": "Joint plan",
            "actions": [{"action": "Recruit", "owner": "ICB", "due": "soon"}],
        },
        {"summary": "Joint plan", "actions": "all of them"},
        {
            "summary": "Joint plan",
            "actions": [{"action": "Recruit", "owner": "ICB", "due": "9999-12-31"}],
        },
    ):
        assert post(port, f"/v1/alerts/{r5['id']}/recovery-plan", bad).status_code == 422
    good = {
        "summary": "Joint LA-ICB recovery plan for health advice",
        "actions": [
            {
                "action": "Two additional community paediatrician sessions a week",
                "owner": "ICB Director of Strategic Commissioning",
                "due": "2027-01-15",
            },
            {
                "action": "Weekly tracker of advice requests over 4 weeks",
                "owner": "Designated Clinical Officer",
                "due": "2026-12-18",
            },
        ],
    }
    assert post(port, f"/v1/alerts/{overdue['id']}/recovery-plan", good).status_code == 200
    wait_for(lambda: alerts(port, rule="R1")[0]["status"] == "resolved", timeout=20)
    wait_for(lambda: len(mail_to(sink, ICB)) == 3, timeout=20)
    assert "Resolved" in mail_to(sink, ICB)[2]["Subject"]
    assert alerts(port, rule="R5")[0]["status"] == "acknowledged"
    r5_mail = [m for m in sink.messages if m["Subject"].startswith("[sendwatch R5]")]
    assert sorted(m["To"] for m in r5_mail) == [ICB, SRO]  # each once, at trigger


@pytest.mark.brokers
def test_kill_9_between_decision_and_send_still_sends_each_level_once(
    stack_factory, broker, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, fast_notify: None
) -> None:
    """The escalation decision is committed (outbox) while the mail server is down; the
    alerts service is killed with SIGKILL; the snapshots are delivered again; the
    restarted service sends each level exactly once."""
    smtp_port = free_port()  # nothing listens here yet: connection refused
    monkeypatch.setenv("SENDWATCH_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("SENDWATCH_SMTP_PORT", str(smtp_port))
    stack = stack_factory("alerts")
    port = stack.ports["alerts"]
    feed = Feed(broker.bootstrap)
    feed.snapshot("2026-06-11", closed("2026-05", 40.0))
    wait_for(lambda: alerts(port, rule="R10"), timeout=30)
    feed.snapshot("2026-07-11", closed("2026-06", 45.0))

    def tried() -> bool:  # both decided; the first tried (the server is down: it waits)
        pending = api(port, "/v1/outbox?status=pending")["notifications"]
        return len(pending) == 2 and any(n["attempts"] >= 1 for n in pending)

    wait_for(tried, timeout=30)
    victim = stack.children["alerts"]
    victim.send_signal(signal.SIGKILL)
    victim.wait(timeout=10)
    with contextlib.suppress(httpx.HTTPError):
        httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
        raise AssertionError("the alerts service is still answering")

    feed.publish(list(feed.sent))  # every snapshot again, same ids
    feed.snapshot("2026-07-12", closed("2026-06", 45.0))  # new id, same revision
    with MailSink(tmp_path / "mail", port=smtp_port) as sink:
        stack.start_service("alerts")
        stack.wait_healthy()
        wait_for(lambda: mail_to(sink, WS3) and mail_to(sink, OWNER) and True, timeout=30)
        settle(1.5)
        assert len(mail_to(sink, WS3)) == 1
        assert len(mail_to(sink, OWNER)) == 1
        assert len(sink.messages) == 2
    box = api(port, "/v1/outbox")
    assert box["total"] == 2 and {n["status"] for n in box["notifications"]} == {"sent"}
    assert alerts(port, rule="R11")[0]["level"] == 1


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_backfill_sends_nothing_and_silences_mute(stack_factory, broker, sink: MailSink) -> None:
    stack = stack_factory("alerts")
    port = stack.ports["alerts"]
    feed = Feed(broker.bootstrap)
    # Six months of missed cycles arrive at once, long after they closed: a backfill.
    feed.snapshot(
        "2026-12-01",
        *(closed(f"2026-{m:02d}", 30.0 + m) for m in range(4, 10)),
        closed("2026-09", 10.0, breakdown="locality=oswestry"),  # not watched
    )
    wait_for(lambda: alerts(port, rule="R11"), timeout=30)
    # A replayed slip from October (the topics are consumed independently, so it is sent
    # once "now" has reached December).
    feed.milestone(
        "case-00000077", "2026-10-01", "decision_to_assess", "decision_6wk", "2026-09-30"
    )
    wait_for(lambda: alerts(port, rule="MS1"), timeout=30)
    esc = alerts(port, rule="R11")[0]
    assert (esc["historical"], esc["status"], esc["level"]) == (True, "open", 0)
    assert alerts(port, rule="MS1")[0]["historical"] is True
    assert all(a["historical"] for a in alerts(port))
    assert alerts(port, historical="false") == []
    assert len(alerts(port, historical="true")) == 3

    # A silence on health advice: alerts are recorded, nobody is notified.
    r = post(
        port,
        "/v1/silences",
        {
            "kpi": "advice_6wk_health",
            "until": "2027-01-31",
            "reason": "ICB data migration: figures unreliable",
        },
    )
    assert r.status_code == 201, r.text
    assert (
        post(
            port, "/v1/silences", {"kpi": "nope", "until": "2027-01-31", "reason": "x y z"}
        ).status_code
        == 422
    )
    assert (
        post(
            port,
            "/v1/silences",
            {"kpi": "ehcp_20wk", "until": "2026-01-01", "reason": "in the past"},
        ).status_code
        == 422
    )
    assert (
        post(
            port,
            "/v1/silences",
            {"kpi": "ehcp_20wk", "until": "2027-01-01T00:00:00", "reason": "naive time"},
        ).status_code
        == 422
    )
    far = post(port, "/v1/silences", {"kpi": "ehcp_20wk", "until": "9999-12-31", "reason": "far"})
    assert far.status_code == 422 and "9999" not in far.text
    feed.snapshot("2026-12-10", closed("2026-W49", 50.0, "advice_6wk_health"))
    wait_for(lambda: alerts(port, rule="R10"), timeout=20)
    feed.snapshot("2026-12-17", closed("2026-W50", 50.0, "advice_6wk_health"))
    r5 = wait_for(lambda: alerts(port, rule="R5"), timeout=20)[0]
    assert (r5["historical"], r5["muted"]) == (False, True)
    settle()
    assert sink.messages == []
    assert api(port, "/v1/outbox")["total"] == 0
    detail = api(port, f"/v1/alerts/{r5['id']}")
    muted = [e for e in detail["timeline"] if e["kind"] == "notification_muted"]
    assert muted and muted[0]["recipient"] == SRO and "ICB data migration" in muted[0]["message"]
    assert detail["silences"][0]["reason"].startswith("ICB data migration")

    # When the silence ends the level held back is notified (with ICB Place leadership,
    # told with the SRO), once.
    feed.snapshot("2027-02-01")
    wait_for(lambda: mail_to(sink, SRO) and mail_to(sink, ICB), timeout=20)
    settle()
    assert sorted(m["To"] for m in sink.messages) == [ICB, SRO]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_case_events_through_ingest_and_timeliness_to_an_alert_email(
    stack_factory, sink: MailSink
) -> None:
    """Late final plans in May and June 2026, posted to ingest; end-of-day clock ticks
    close the months in timeliness; the alerts service escalates to WS3 by email."""
    stack = stack_factory("timeliness", "alerts", "ingest")
    url = f"http://127.0.0.1:{stack.ports['ingest']}/v1/events"

    def plan(case: int, received_day: int, issued_day: int) -> list[dict]:
        return [
            case_event(case * 10, case=case, day=received_day),
            case_event(case * 10 + 1, "ehc.plan.final-issued", case=case, day=issued_day),
        ]

    # Days count from 1 April 2026.  May: five issued on 11 May after 151 days (late),
    # one on time: 16.7% against May's goal on the line from the 20% baseline to the
    # Q3 target (about 30%).  June: five issued on 10 June after 160 days (late).  (A
    # month with fewer than five plans is too small to judge: min_denominator.)
    events = [e for c in range(1, 6) for e in plan(c, -111, 40)]
    events += [e for c in range(6, 7) for e in plan(c, -60, 45)]
    events += [e for c in range(7, 12) for e in plan(c, -90, 70)]
    assert httpx.post(url, json=events, headers=AUTH).status_code == 200

    def tick(d: str) -> None:
        t = {
            "id": f"tick-{d}",
            "source": "clock",
            "type": "clock.tick",
            "subject": "clock:test",
            "time": end_of_day(d).isoformat(),
            "data": {},
        }
        assert httpx.post(url, json=[t], headers=CLOCK).status_code == 200

    port = stack.ports["alerts"]
    tick("2026-06-12")  # May (+10 days' grace) has closed: 16.7% against about 30%
    det = wait_for(lambda: alerts(port, rule="R10"), timeout=60)[0]
    assert det["cycle"] == "2026-05" and det["facts"]["cycles"][0]["value"] == 16.7
    tick("2026-07-12")  # June has closed: 0%
    esc = wait_for(lambda: alerts(port, rule="R11"), timeout=60)[0]
    assert esc["cycle"] == "2026-06"
    wait_for(lambda: mail_to(sink, WS3), timeout=30)
    text = body(mail_to(sink, WS3)[0])
    assert "May 2026: 16.7% (1 of 6)" in text and "June 2026: 0.0% (0 of 5)" in text
    assert len(mail_to(sink, OWNER)) == 1


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_an_acknowledged_alert_still_missed_goes_to_the_next_level_once(
    stack_factory, broker, sink: MailSink
) -> None:
    """WS3 acknowledges; July misses too: the chain moves on to QAG, whose mail says who
    acknowledged, when, and what was still missed (Reform Plan R3)."""
    stack = stack_factory("alerts")
    port = stack.ports["alerts"]
    feed = Feed(broker.bootstrap)
    feed.snapshot("2026-06-11", closed("2026-05", 40.0))
    wait_for(lambda: alerts(port, rule="R10"), timeout=30)
    feed.snapshot("2026-07-11", closed("2026-06", 45.0))
    esc = wait_for(lambda: alerts(port, rule="R11"), timeout=30)[0]
    wait_for(lambda: mail_to(sink, WS3), timeout=20)
    r = post(port, f"/v1/alerts/{esc['id']}/ack", {"by": "Sam Lee"})
    assert r.status_code == 200 and r.json()["status"] == "acknowledged"
    july = feed.snapshot("2026-08-11", closed("2026-07", 50.0))
    feed.publish([(SNAPSHOTS, july)])  # redelivered
    wait_for(lambda: mail_to(sink, QAG), timeout=20)
    settle()
    assert len(mail_to(sink, QAG)) == 1 and len(mail_to(sink, WS3)) == 1
    qag = mail_to(sink, QAG)[0]
    assert "still missed after acknowledgement" in qag["Subject"]
    assert (
        "Acknowledged by Sam Lee (dev-alerts-ack) on 11 July 2026, still missed in July 2026: "
        "escalated to Quality Assurance Group (QAG)." in body(qag)
    )
    now = alerts(port, rule="R11")[0]
    assert (now["status"], now["level"], now["acknowledged_by"]) == ("open", 2, None)
    kinds = [e["kind"] for e in api(port, f"/v1/alerts/{esc['id']}")["timeline"]]
    assert "escalation_watch" in kinds and kinds.count("level") == 2
