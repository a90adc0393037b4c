"""R5 on the NHS community health measures, through the real alert handlers: two missed
weeks of capacity against demand (or open backlog, or use of commissioned capacity)
notify the SRO and ICB Place leadership and make a joint recovery plan due; the plan's
actions are tracked to their due dates and an overdue action alerts; marking it done
resolves that alert; the escalation resolving closes what is left."""

from __future__ import annotations

from datetime import date

import pytest

from services.alerts.domain.model import Alert, PlanAction, RecoveryPlan
from services.alerts.service_layer import handlers
from tests.unit.alerts.scenario import Scenario
from tests.unit.alerts.scenario import at as h_at

PLAN = RecoveryPlan(
    summary="Joint recovery plan: first-appointment capacity",
    actions=(
        PlanAction("Open two extra SLT clinics a week", "SLT service lead", date(2026, 12, 4)),
        PlanAction("Agree locum cover with the ICB", "ICB Place Director", date(2027, 1, 15)),
    ),
    recorded_by="SRO for SEND reform",
)


def escalation(h: Scenario) -> Alert:
    (a,) = [a for a in h.alerts.values() if a.kind == "escalation"]
    return a


def action_alerts(h: Scenario) -> list[Alert]:
    return [a for a in h.alerts.values() if "action_number" in a.facts]


@pytest.mark.parametrize(
    ("kpi", "missed", "met"),
    [
        ("health_capacity_vs_demand", [80.0, 70.0], 105.0),
        ("health_open_backlog", [40.0, 55.0], 0.0),
        ("health_commissioned_capacity_used", [80.0, 85.0], 97.0),
    ],
)
def test_two_missed_weeks_notify_the_sro_and_icb_place_and_ask_for_a_plan(
    kpi: str, missed: list[float], met: float
) -> None:
    h = Scenario(kpi=kpi)
    h.run(
        [
            {"at": "2026-11-19", "cycle": "2026-W46", "value": missed[0]},
            {"at": "2026-11-26", "cycle": "2026-W47", "value": missed[1]},
        ]
    )
    r5 = [m for m in h.mail() if m[3] == "R5"]
    assert r5 == [
        ("sro-send@example.org", 1, "alert", "R5"),
        ("icb-place-leadership@example.org", 2, "alert", "R5"),
    ]
    esc = escalation(h)
    assert esc.plan_due == date(2026, 12, 10) and "joint recovery plan" in str(esc.plan_document)
    h.run([{"at": "2026-12-03", "cycle": "2026-W48", "value": met}])
    assert escalation(h).status == "resolved"


def test_recovery_actions_are_tracked_and_an_overdue_action_alerts() -> None:
    h = Scenario(kpi="health_capacity_vs_demand")
    h.run(
        [
            {"at": "2026-11-19", "cycle": "2026-W46", "value": 80.0},
            {"at": "2026-11-26", "cycle": "2026-W47", "value": 70.0},
        ]
    )
    h.tick(h_at("2026-11-30"))
    handlers.record_plan(h.ctx, h.uow, escalation(h).id, PLAN)
    esc = escalation(h)
    assert [x["action"] for x in esc.facts["recovery_actions"]] == [
        "Open two extra SLT clinics a week",
        "Agree locum cover with the ICB",
    ]
    before = len(h.sent)
    h.tick(h_at("2026-12-04"))  # due today: not yet overdue
    assert action_alerts(h) == [] and len(h.sent) == before
    h.tick(h_at("2026-12-05"))
    (overdue,) = action_alerts(h)
    assert overdue.rule == "R5" and overdue.kind == "overdue" and overdue.status == "open"
    mails = [(n.recipient, n.notice) for n in h.sent[before:]]
    assert mails == [
        ("sro-send@example.org", "alert"),
        ("icb-place-leadership@example.org", "alert"),
    ]
    body = h.sent[-1].body
    assert "Open two extra SLT clinics a week" in " ".join(body.split())
    assert "SLT service lead" in body and "2026-12-04" in h.sent[-1].subject
    h.tick(h_at("2026-12-08"))  # no second alert for the same action
    assert len(action_alerts(h)) == 1 and len(h.sent) == before + 2

    handlers.complete_action(h.ctx, h.uow, overdue.id, 0, "SLT service lead")
    (overdue,) = action_alerts(h)
    assert overdue.status == "resolved"
    assert [n.notice for n in h.sent[before + 2 :]] == ["resolved", "resolved"]
    done = escalation(h).facts["recovery_actions"][0]
    assert done["done_by"] == "SLT service lead" and done["done_on"] == "2026-12-08"

    # the second action goes overdue; then the measure recovers: its alert resolves too
    h.tick(h_at("2027-01-16"))
    second = [a for a in action_alerts(h) if a.facts["action_number"] == 2]
    assert [a.status for a in second] == ["open"]
    h.run([{"at": "2027-01-21", "cycle": "2027-W03", "value": 110.0}])
    h.run([{"at": "2027-01-28", "cycle": "2027-W04", "value": 110.0}])
    assert escalation(h).status == "resolved"
    assert all(a.status == "resolved" for a in action_alerts(h))


def test_marking_an_unknown_action_done_is_a_clear_error() -> None:
    h = Scenario(kpi="health_capacity_vs_demand")
    h.run(
        [
            {"at": "2026-11-19", "cycle": "2026-W46", "value": 80.0},
            {"at": "2026-11-26", "cycle": "2026-W47", "value": 70.0},
        ]
    )
    handlers.record_plan(h.ctx, h.uow, escalation(h).id, PLAN)
    with pytest.raises(ValueError, match="no recovery action 7"):
        handlers.complete_action(h.ctx, h.uow, escalation(h).id, 7, "someone")
