"""R5 end to end on NHS community data, on the real broker with a real SMTP server:
referrals and weekly capacity posted to ingest as the nhs-community source; clock ticks
close the weeks in timeliness; two missed weeks of capacity against demand mail the SRO
and ICB Place leadership; a joint recovery plan is recorded with its actions; an action
past its due date mails an overdue alert; after a restart of the alerts service no level
is mailed twice."""

from __future__ import annotations

import signal
from datetime import date, timedelta
from typing import Any

import httpx
import pytest

from cli.mailsink import MailSink
from tests.helpers import wait_for
from tests.integration.test_alerts import (  # the alert tests' fixtures and helpers
    ICB,
    SRO,
    alerts,
    body,
    end_of_day,
    fast_notify,  # noqa: F401
    mail_to,
    post,
    settle,
    sink,  # noqa: F401
)

NHS = {"Authorization": "Bearer dev-nhs-community-key"}
CLOCK = {"Authorization": "Bearer dev-clock-key"}
MONDAYS = (date(2026, 11, 9), date(2026, 11, 16))  # ISO weeks 2026-W46 and W47


def referral(n: int, day: date) -> dict[str, Any]:
    return {
        "id": f"nhs-r5-{n:08d}",
        "source": "nhs-community",
        "type": "referral.received",
        "subject": f"ref-{n:08d}",
        "time": f"{day.isoformat()}T10:00:00+00:00",
        "data": {
            "person_id": f"p-{n:08d}",
            "service": "slt",
            "locality": "ludlow",
            "age_band": "5-10",
            "source_of_referral": "school",
        },
    }


def capacity(monday: date, slots: int) -> dict[str, Any]:
    sunday = monday + timedelta(days=6)
    iso = monday.isocalendar()
    return {
        "id": f"nhs-cap-slt-{iso.year}w{iso.week:02d}",
        "source": "nhs-community",
        "type": "referral.capacity.reported",
        "subject": "svc-000001",
        "time": f"{sunday.isoformat()}T18:00:00+00:00",
        "data": {
            "service": "slt",
            "week": f"{iso.year}-W{iso.week:02d}",
            "sessions_commissioned": 100,
            "sessions_delivered": 100,
            "first_slots_offered": slots,
            "staff_in_post_wte": 4.0,
            "funded_posts_wte": 4.0,
        },
    }


def r5_mails(mails: MailSink) -> list[tuple[str, str]]:
    return [(m["To"], m["Subject"]) for m in mails.messages if "[sendwatch R5]" in m["Subject"]]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_two_missed_weeks_of_capacity_mail_sro_and_icb_then_an_overdue_action(
    stack_factory,
    broker,
    sink: MailSink,  # noqa: F811 (the fixture imported above)
) -> None:
    stack = stack_factory("timeliness", "alerts", "ingest")
    ingest = f"http://127.0.0.1:{stack.ports['ingest']}/v1/events"
    port = stack.ports["alerts"]

    def tick(d: str) -> None:
        t = {
            "id": f"tick-{d}",
            "source": "clock",
            "type": "clock.tick",
            "subject": "clock:test",
            "time": end_of_day(d).isoformat(),
            "data": {},
        }
        assert httpx.post(ingest, json=[t], headers=CLOCK).status_code == 200

    # 20 SLT referrals a week against 10 first-appointment slots: 50% against 100%.
    events = [
        referral(w * 100 + i, m + timedelta(days=i % 5))
        for w, m in enumerate(MONDAYS)
        for i in range(20)
    ]
    events += [capacity(m, 10) for m in MONDAYS]
    r = httpx.post(ingest, json=events, headers=NHS)
    assert r.status_code == 200, r.text
    tick("2026-11-19")  # week 46 has closed (3 days' grace)
    det = wait_for(lambda: alerts(port, rule="R10"), timeout=60)
    assert {a["kpi"] for a in det} == {"health_capacity_vs_demand"}
    tick("2026-11-26")  # week 47 has closed: the second missed week
    esc = wait_for(lambda: alerts(port, rule="R5"), timeout=60)[0]
    assert esc["kpi"] == "health_capacity_vs_demand"
    wait_for(lambda: mail_to(sink, SRO) and mail_to(sink, ICB), timeout=30)
    sro, icb = body(mail_to(sink, SRO)[0]), body(mail_to(sink, ICB)[0])
    assert "First-appointment capacity against new referrals" in sro
    assert "50.0" in sro and "joint recovery plan" in sro
    assert "It comes to you at the same time as Senior Responsible Owner" in icb

    plan = {
        "summary": "Joint LA-ICB recovery plan for SLT first-appointment capacity",
        "actions": [
            {
                "action": "Two extra SLT clinics a week",
                "owner": "SLT service lead",
                "due": "2026-11-30",
            },
            {"action": "Agree locum cover", "owner": "ICB Place Director", "due": "2027-01-15"},
        ],
    }
    assert post(port, f"/v1/alerts/{esc['id']}/recovery-plan", plan).status_code == 200
    detail = httpx.get(
        f"http://127.0.0.1:{port}/v1/alerts/{esc['id']}",
        headers={"Authorization": "Bearer dev-alerts-read-token"},
        timeout=10,
    ).json()
    actions = (
        detail["alert"]["facts"]["recovery_actions"]
        if "alert" in detail
        else (detail["facts"]["recovery_actions"])
    )
    assert [(a["n"], a["owner"], a["due"]) for a in actions] == [
        (1, "SLT service lead", "2026-11-30"),
        (2, "ICB Place Director", "2027-01-15"),
    ]

    tick("2026-11-30")  # due today: not overdue yet
    settle(1.5)
    assert len(r5_mails(sink)) == 2
    tick("2026-12-01")  # action 1 is now overdue
    wait_for(lambda: len(r5_mails(sink)) == 4, timeout=30)
    overdue = [m for m in sink.messages if "Overdue: recovery action 1" in m["Subject"]]
    assert sorted(m["To"] for m in overdue) == [ICB, SRO]
    assert "Two extra SLT clinics a week" in body(overdue[0])
    assert "Named owner: SLT service lead" in body(overdue[0])

    # Restart the alerts service; time moves on: no level is mailed again.
    before = sorted(r5_mails(sink))
    victim = stack.children["alerts"]
    victim.send_signal(signal.SIGKILL)
    victim.wait(timeout=10)
    stack.start_service("alerts")
    stack.wait_healthy()
    tick("2026-12-02")
    tick("2026-12-03")  # week 48 closes (capacity not reported: demand only)
    wait_for(lambda: len(alerts(port, rule="R5")) >= 2, timeout=30)
    settle(2.0)
    after = sorted(r5_mails(sink))
    assert after == before
    assert len(set(after)) == len(after)  # each (recipient, notice) once
