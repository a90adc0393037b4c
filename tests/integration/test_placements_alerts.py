"""Placement events through ingest and timeliness to the alerts service, with clock
ticks, on the real broker: K20 above its 9% cap for two closed months reaches the WS2
owner (R10) and the WS2 sufficiency route (R11) by email, and a high-cost decision not
reviewed within 10 working days reaches WS2 as an MS1 exception, through a real SMTP
server."""

from __future__ import annotations

from datetime import date
from typing import Any

import httpx
import pytest

from cli.mailsink import MailSink
from tests.helpers import wait_for
from tests.integration.test_alerts import (  # noqa: F401  (fixtures)
    CLOCK,
    alerts,
    body,
    end_of_day,
    fast_notify,
    mail_to,
    sink,
)
from tests.placements_fixture import ev

PLACEMENTS = {"Authorization": "Bearer dev-placements-key"}
OWNER = "ws2-commissioning-manager@example.org"
WS2 = "ws2-sufficiency@example.org"
START = date(2026, 5, 1)


def people() -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for n in range(10):
        who = f"person-{n:06d}"
        out.append(ev("placement.plan.started", who, START, locality="ludlow", phase="primary"))
        setting = "special_independent" if n < 2 else "mainstream_academy"
        out.append(
            ev(
                "placement.placement.started",
                who,
                START,
                setting_type=setting,
                rank=1,
                la_funded=True,
                out_of_area=n < 2,
                distance_km=40.0 if n < 2 else 3.0,
            )
        )
    out.append(
        ev(
            "placement.high-cost.decided",
            "pl-0000000000000042",
            date(2026, 5, 4),
            person_id="person-000001",
            locality="ludlow",
            decision="approved",
            annual_cost=150000,
            cost_band="100k-200k",
            setting_type="special_independent",
            out_of_area=True,
        )
    )
    return out


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_k20_and_high_cost_alerts_reach_smtp(stack_factory, sink: MailSink) -> None:  # noqa: F811
    stack = stack_factory("timeliness", "alerts", "ingest")
    url = f"http://127.0.0.1:{stack.ports['ingest']}/v1/events"
    r = httpx.post(url, json=people(), headers=PLACEMENTS, timeout=30)
    assert r.status_code == 200, r.text

    def tick(d: date) -> None:
        t = {
            "id": f"tick-{d.isoformat()}",
            "source": "clock",
            "type": "clock.tick",
            "subject": "clock:test",
            "time": end_of_day(d).isoformat(),
            "data": {},
        }
        assert httpx.post(url, json=[t], headers=CLOCK, timeout=30).status_code == 200

    port = stack.ports["alerts"]
    tick(date(2026, 5, 15))  # day 9 working days after the decision: early warning only
    tick(date(2026, 5, 19))  # the 11th working day: not reviewed in 10 working days
    ms = wait_for(lambda: alerts(port, rule="MS1"), timeout=60)[0]
    assert ms["kpi"] == "high_cost_awaiting_review"
    assert ms["facts"]["due"] == "2026-05-18"
    tick(date(2026, 5, 20))  # slips go in the recipient's 08:00 daily digest
    wait_for(lambda: mail_to(sink, WS2), timeout=30)
    assert "review or challenge of a new high-cost placement decision" in body(
        mail_to(sink, WS2)[0]
    )

    tick(date(2026, 6, 12))  # May has closed: 20% against the 9% cap
    det = wait_for(lambda: alerts(port, rule="R10"), timeout=60)[0]
    assert det["kpi"] == "inmss_share" and det["cycle"] == "2026-05"
    assert det["facts"]["cycles"][0]["value"] == 20.0
    wait_for(lambda: mail_to(sink, OWNER), timeout=30)
    tick(date(2026, 7, 12))  # June too: escalation along the sufficiency route
    esc = wait_for(lambda: alerts(port, rule="R11"), timeout=60)[0]
    assert esc["kpi"] == "inmss_share" and esc["cycle"] == "2026-06"
    wait_for(lambda: len(mail_to(sink, WS2)) >= 2, timeout=30)
    text = " ".join(body(m) for m in mail_to(sink, WS2))
    assert "May 2026: 20.0% (2 of 10)" in text and "June 2026: 20.0% (2 of 10)" in text
    assert len(mail_to(sink, OWNER)) == 1
