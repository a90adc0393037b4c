"""Alert rule tables, in the style of ``promtool test rules``: each case is a series of
inputs in event time (closed cycles, clock ticks, acknowledgements, recovery plans,
silences, milestone alerts) and the alerts and notifications expected at the end.

The steps run through the real handlers over a ``FakeUnitOfWork`` (``scenario.py``), as
the service runs each consumed batch and API action.
"""

from __future__ import annotations

from collections import Counter
from datetime import date
from typing import Any

import pytest
import yaml

from contracts.escalation import EscalationConfig
from tests.unit.alerts.scenario import CONFIG, Scenario, check_case

WS3 = "ws3-ehcp-timeliness@example.org"
QAG = "qag@example.org"
BOARD = "send-partnership-board@example.org"
CAB = "childrens-ambition-board@example.org"
HWB = "health-wellbeing-board@example.org"
SRO = "sro-send@example.org"
ICB = "icb-place-leadership@example.org"
PEP = "principal-ep@example.org"
DCO = "dco@example.org"


# --- the tables ----------------------------------------------------------------------

CASES = yaml.safe_load(
    """
- name: a single missed month raises a deterioration alert for the named owner
  steps:
    - {at: 2026-06-11, cycle: 2026-05, value: 40.0}
  exp_alerts:
    - {rule: R10, status: open, kind: deterioration, level: 0, cycle: 2026-05,
       follow_up_due: 2026-06-30, owner: Principal EP (WS3 lead)}
  exp_mail:
    - [principal-ep@example.org, 0, alert, R10]

- name: two consecutive missed months escalate to level 1 only (R11), once
  steps:
    - {at: 2026-06-11, cycle: 2026-05, value: 40.0}
    - {at: 2026-07-11, cycle: 2026-06, value: 45.0}
    - {at: 2026-07-12, tick: true}
    - {at: 2026-07-12, cycle: 2026-06, value: 45.0}       # a duplicate
  exp_alerts:
    - {rule: R10, status: superseded}
    - {rule: R11, status: open, kind: escalation, level: 1, cycle: 2026-06,
       policy: ws3-governance, policy_version: 3}
  exp_mail:
    - [principal-ep@example.org, 0, alert, R10]
    - [ws3-ehcp-timeliness@example.org, 1, alert, R11]

- name: a month with too few plans to judge neither raises nor breaks a run
  steps:
    - {at: 2026-06-11, cycle: 2026-05, value: 0.0, denominator: 1}     # 0 of 1: too few
    - {at: 2026-07-11, cycle: 2026-06, value: 50.0, denominator: 4}    # still too few
  exp_alerts: []
  exp_mail: []

- name: the trajectory target is the goal when the cycle has one
  steps:
    - {at: 2026-11-11, cycle: 2026-10, value: 70.0, target: 65.0}   # meets 65, misses 90
    - {at: 2026-12-11, cycle: 2026-11, value: 66.0, target: 65.0}
  exp_alerts: []
  exp_mail: []

- name: missing the trajectory target twice escalates even above the baseline
  steps:
    - {at: 2026-11-11, cycle: 2026-10, value: 60.0, target: 65.0}
    - {at: 2026-12-11, cycle: 2026-11, value: 64.9, target: 65.0}
  exp_alerts:
    - {rule: R10, status: superseded}
    - {rule: R11, status: open, level: 1}

- name: a met month between two misses breaks the run (no escalation)
  steps:
    - {at: 2026-06-11, cycle: 2026-05, value: 40.0}
    - {at: 2026-07-11, cycle: 2026-06, value: 95.0}
    - {at: 2026-08-11, cycle: 2026-07, value: 40.0}
  exp_alerts:
    - {rule: R10, status: open, episode: 2, cycle: 2026-07}
  exp_mail:
    - [principal-ep@example.org, 0, alert, R10]
    - [principal-ep@example.org, 0, resolved, R10]
    - [principal-ep@example.org, 0, alert, R10]

- name: an open escalation keeps the two latest missed cycles after a gap
  steps:
    - {at: 2026-06-11, cycle: 2026-05, value: 40.0}
    - {at: 2026-07-11, cycle: 2026-06, value: 45.0}
    - {at: 2026-08-11, cycle: 2026-07, value: null}
    - {at: 2026-09-11, cycle: 2026-08, value: 42.0}
  exp_alerts:
    - {rule: R10, status: superseded}
    - {rule: R11, status: open, cycle: 2026-08, cycles: [2026-06, 2026-08]}
    - {rule: R1, status: open}      # nobody acknowledged: QAG's plan went overdue

- name: a cycle with no value breaks the run
  steps:
    - {at: 2026-06-11, cycle: 2026-05, value: 40.0}
    - {at: 2026-07-11, cycle: 2026-06, value: null}
    - {at: 2026-08-11, cycle: 2026-07, value: 40.0}
  exp_alerts:
    - {rule: R10, status: open, episode: 1, cycle: 2026-07, follow_up_due: 2026-08-31}

- name: no acknowledgement within 7 days escalates to QAG, which owes a recovery plan
  steps:
    - {at: 2026-06-11, cycle: 2026-05, value: 40.0}
    - {at: 2026-07-11, cycle: 2026-06, value: 45.0}
    - {at: 2026-07-17, tick: true}
    - {at: 2026-07-18, tick: true}
  exp_alerts:
    - {rule: R10, status: superseded}
    - {rule: R11, status: open, level: 2, plan_due: 2026-07-31}   # asked Sat 18 July
  exp_mail:
    - [principal-ep@example.org, 0, alert, R10]
    - [ws3-ehcp-timeliness@example.org, 1, alert, R11]
    - [qag@example.org, 2, alert, R11]

- name: a long gap in time climbs the whole ladder, each level once
  steps:
    - {at: 2026-06-11, cycle: 2026-05, value: 40.0}
    - {at: 2026-07-11, cycle: 2026-06, value: 45.0}
    - {at: 2026-10-01, tick: true}
    - {at: 2026-10-02, tick: true}
  exp_alerts:
    - {rule: R10, status: superseded}
    - {rule: R11, status: open, level: 4}
    - {rule: R1, status: open, level: 2}
  exp_mail:
    - [principal-ep@example.org, 0, alert, R10]
    - [ws3-ehcp-timeliness@example.org, 1, alert, R11]
    - [qag@example.org, 2, alert, R11]
    - [send-partnership-board@example.org, 3, alert, R11]
    - [childrens-ambition-board@example.org, 4, alert, R11]
    - [health-wellbeing-board@example.org, 4, alert, R11]
    - [qag@example.org, 2, alert, R1]
    - [send-partnership-board@example.org, 3, alert, R1]

- name: acknowledging stops the chain
  steps:
    - {at: 2026-06-11, cycle: 2026-05, value: 40.0}
    - {at: 2026-07-11, cycle: 2026-06, value: 45.0}
    - {at: 2026-07-13, ack: R11, by: EHCP Team Manager}
    - {at: 2026-09-30, tick: true}
  exp_alerts:
    - {rule: R10, status: superseded}
    - {rule: R11, status: acknowledged, level: 1, acked_by: EHCP Team Manager}
  exp_mail:
    - [principal-ep@example.org, 0, alert, R10]
    - [ws3-ehcp-timeliness@example.org, 1, alert, R11]

- name: recovery resolves, cancels what is pending and tells everyone notified
  steps:
    - {at: 2026-06-11, cycle: 2026-05, value: 40.0}
    - {at: 2026-07-11, cycle: 2026-06, value: 45.0}
    - {at: 2026-07-18, tick: true}
    - {at: 2026-08-11, cycle: 2026-07, value: 92.0}
    - {at: 2026-12-01, tick: true}
  exp_alerts:
    - {rule: R10, status: superseded}
    - {rule: R11, status: resolved, level: 2}
  exp_mail:
    - [principal-ep@example.org, 0, alert, R10]
    - [ws3-ehcp-timeliness@example.org, 1, alert, R11]
    - [qag@example.org, 2, alert, R11]
    - [ws3-ehcp-timeliness@example.org, 0, resolved, R11]
    - [qag@example.org, 0, resolved, R11]

- name: a re-triggered alert starts again from level 1 in a new episode
  steps:
    - {at: 2026-06-11, cycle: 2026-05, value: 40.0}
    - {at: 2026-07-11, cycle: 2026-06, value: 45.0}
    - {at: 2026-07-18, tick: true}
    - {at: 2026-08-11, cycle: 2026-07, value: 92.0}
    - {at: 2026-09-11, cycle: 2026-08, value: 40.0}
    - {at: 2026-10-11, cycle: 2026-09, value: 41.0}
  exp_alerts:
    - {rule: R10, status: superseded, episode: 2}
    - {rule: R11, status: open, level: 1, episode: 2}
  exp_mail:
    - [principal-ep@example.org, 0, alert, R10]
    - [ws3-ehcp-timeliness@example.org, 1, alert, R11]
    - [qag@example.org, 2, alert, R11]
    - [ws3-ehcp-timeliness@example.org, 0, resolved, R11]
    - [qag@example.org, 0, resolved, R11]
    - [principal-ep@example.org, 0, alert, R10]
    - [ws3-ehcp-timeliness@example.org, 1, alert, R11]

- name: a restated month that now meets the goal resolves the alert
  steps:
    - {at: 2026-06-11, cycle: 2026-05, value: 40.0}
    - {at: 2026-07-11, cycle: 2026-06, value: 45.0}
    - {at: 2026-07-13, cycle: 2026-06, value: 91.0, revision: 2}
  exp_alerts:
    - {rule: R10, status: superseded}
    - {rule: R11, status: resolved}

- name: a restated month that now misses re-evaluates and escalates
  steps:
    - {at: 2026-06-11, cycle: 2026-05, value: 40.0}
    - {at: 2026-07-11, cycle: 2026-06, value: 91.0}
    - {at: 2026-07-13, cycle: 2026-06, value: 85.0, revision: 2}
  exp_alerts:
    - {rule: R10, status: resolved, episode: 1}    # resolved by June's first revision
    - {rule: R11, status: open, level: 1}

- name: an older revision arriving late changes nothing
  steps:
    - {at: 2026-06-11, cycle: 2026-05, value: 40.0, revision: 2}
    - {at: 2026-06-12, cycle: 2026-05, value: 95.0, revision: 1}
  exp_alerts:
    - {rule: R10, status: open}

- name: a backfill of old cycles records historical alerts and notifies nobody
  steps:
    - {at: 2026-06-11, tick: true}
    - {at: 2026-06-11, cycle: 2025-10, value: 30.0}
    - {at: 2026-06-11, cycle: 2025-11, value: 30.0}
    - {at: 2026-06-11, cycle: 2025-12, value: 30.0}
    - {at: 2026-06-11, cycle: 2026-01, value: 95.0}
    - {at: 2026-06-11, cycle: 2026-02, value: 30.0}
    - {at: 2026-06-11, cycle: 2026-03, value: 30.0}
    - {at: 2026-12-01, tick: true}
  exp_alerts:
    - {rule: R10, status: superseded, historical: true, episode: 2}
    - {rule: R11, status: open, historical: true, episode: 2, level: 0}
  exp_mail: []

- name: a historical escalation becomes live when a recent cycle also misses
  steps:
    - {at: 2026-06-11, tick: true}
    - {at: 2026-06-11, cycle: 2026-03, value: 30.0}
    - {at: 2026-06-11, cycle: 2026-04, value: 30.0}
    - {at: 2026-06-11, cycle: 2026-05, value: 30.0}
  exp_alerts:
    - {rule: R10, status: superseded, historical: true}
    - {rule: R11, status: open, historical: false, level: 1, cycle: 2026-05}
  exp_mail:
    - [ws3-ehcp-timeliness@example.org, 1, alert, R11]

- name: R5 on weekly health advice asks the SRO for a joint recovery plan, with ICB Place told
  kpi: advice_6wk_health
  steps:
    - {at: 2026-11-19, cycle: 2026-W46, value: 70.0}
    - {at: 2026-11-26, cycle: 2026-W47, value: 60.0}
    - {at: 2026-11-27, ack: R5, by: Natasha Moody (SRO)}
    - {at: 2026-12-10, tick: true}
    - {at: 2026-12-11, tick: true}
  exp_alerts:
    - {rule: R10, status: superseded}
    - {rule: R5, status: acknowledged, level: 1, plan_due: 2026-12-10}
    - {rule: R1, status: open, level: 1}
  exp_mail:
    - [dco@example.org, 0, alert, R10]
    - [sro-send@example.org, 1, alert, R5]
    - [icb-place-leadership@example.org, 2, alert, R5]   # with the SRO, at trigger
    - [sro-send@example.org, 1, alert, R1]
    - [icb-place-leadership@example.org, 2, alert, R1]

- name: a recovery plan recorded in time stops the overdue clock
  kpi: advice_6wk_health
  steps:
    - {at: 2026-11-19, cycle: 2026-W46, value: 70.0}
    - {at: 2026-11-26, cycle: 2026-W47, value: 60.0}
    - {at: 2026-11-27, ack: R5}
    - {at: 2026-12-09, plan: R5, by: Natasha Moody (SRO)}
    - {at: 2026-12-20, tick: true}
  exp_alerts:
    - {rule: R10, status: superseded}
    - {rule: R5, status: acknowledged, plan_due: 2026-12-10, plan_recorded: true}
  exp_mail:
    - [dco@example.org, 0, alert, R10]
    - [sro-send@example.org, 1, alert, R5]
    - [icb-place-leadership@example.org, 2, alert, R5]

- name: a plan recorded late resolves the overdue alert and tells its recipients
  kpi: advice_6wk_health
  steps:
    - {at: 2026-11-19, cycle: 2026-W46, value: 70.0}
    - {at: 2026-11-26, cycle: 2026-W47, value: 60.0}
    - {at: 2026-11-27, ack: R5}
    - {at: 2026-12-11, tick: true}
    - {at: 2026-12-14, plan: R1}
  exp_alerts:
    - {rule: R10, status: superseded}
    - {rule: R5, status: acknowledged, plan_recorded: true}
    - {rule: R1, status: resolved}
  exp_mail:
    - [dco@example.org, 0, alert, R10]
    - [sro-send@example.org, 1, alert, R5]
    - [icb-place-leadership@example.org, 2, alert, R5]
    - [sro-send@example.org, 1, alert, R1]
    - [icb-place-leadership@example.org, 2, alert, R1]
    - [sro-send@example.org, 0, resolved, R1]
    - [icb-place-leadership@example.org, 0, resolved, R1]

- name: unacknowledged R5 moves to ICB Place leadership after 5 days, already told once
  kpi: advice_6wk_health
  steps:
    - {at: 2026-11-19, cycle: 2026-W46, value: 70.0}
    - {at: 2026-11-26, cycle: 2026-W47, value: 60.0}
    - {at: 2026-12-01, tick: true}
  exp_alerts:
    - {rule: R10, status: superseded}
    - {rule: R5, status: open, level: 2}
  exp_mail:
    - [dco@example.org, 0, alert, R10]
    - [sro-send@example.org, 1, alert, R5]
    - [icb-place-leadership@example.org, 2, alert, R5]

- name: a silence mutes notifications and holds the chain; it resumes when it ends
  steps:
    - {at: 2026-06-01, silence: {kpi: ehcp_20wk, until: 2026-07-20, reason: data fix}}
    - {at: 2026-06-11, cycle: 2026-05, value: 40.0}
    - {at: 2026-07-11, cycle: 2026-06, value: 45.0}
    - {at: 2026-07-19, tick: true}
    - {at: 2026-07-21, tick: true}
  exp_alerts:
    - {rule: R10, status: superseded}
    - {rule: R11, status: open, level: 1}
  exp_mail:
    - [ws3-ehcp-timeliness@example.org, 1, alert, R11]

- name: a silence on another breakdown mutes nothing here
  steps:
    - {at: 2026-06-01, silence: {kpi: ehcp_20wk, breakdown: locality=oswestry, until: 2026-08-01}}
    - {at: 2026-06-11, cycle: 2026-05, value: 40.0}
  exp_alerts:
    - {rule: R10, status: open}
  exp_mail:
    - [principal-ep@example.org, 0, alert, R10]

- name: a slipped milestone alerts level 1 of the KPI's policy once; early warnings are recorded
  steps:
    - {at: 2026-05-07, milestone: {case: case-00000001, kind: early_warning}}
    - {at: 2026-05-14, milestone: {case: case-00000001, kind: slipped}}
    - {at: 2026-05-14, milestone: {case: case-00000001, kind: slipped}}
  exp_alerts:
    - {rule: MS1, status: open, level: 1, kind: milestone}
    - {rule: MS2, status: open, level: 0, kind: milestone}
  exp_mail:
    - [ws3-ehcp-timeliness@example.org, 1, alert, MS1]

- name: a slipped health advice milestone goes to the DCO (the workstream's owner), not the SRO
  steps:
    - at: 2026-05-14
      milestone: {case: case-00000002, name: advice_health, kpi: advice_6wk_health}
  exp_alerts:
    - {rule: MS1, status: open, level: 1}
  exp_mail:
    - [dco@example.org, 1, alert, MS1]

- name: an old milestone replayed is historical
  steps:
    - {at: 2026-09-01, tick: true}
    - {at: 2026-05-14, milestone: {case: case-00000003}}
  exp_alerts:
    - {rule: MS1, status: open, historical: true}
  exp_mail: []
"""
)


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_rule_table(case: dict[str, Any]) -> None:
    check_case(Scenario(kpi=case.get("kpi", "ehcp_20wk")), case)


def test_every_notification_names_the_rule_the_owner_and_the_link() -> None:
    h = Scenario()
    h.run(
        [
            {"at": "2026-06-11", "cycle": "2026-05", "value": 40.0},
            {"at": "2026-07-11", "cycle": "2026-06", "value": 45.0},
            {"at": "2026-07-18", "tick": True},
        ]
    )
    esc = h.find("R11")
    qag = [n for n in h.sent if n.recipient == QAG][0]
    body = qag.body
    assert qag.subject.startswith("[sendwatch R11] Escalation to Quality Assurance Group")
    for text in (
        "EHC plans issued within 20 weeks (including exceptions) (K1)",
        "the whole of Shropshire",
        "May 2026: 40.0%",
        "June 2026: 45.0%",
        "Standard 90.0%",
        "no trajectory target set",
        "Rule R11",
        "level 2 of 4",
        "nobody acknowledged it within 7 days",
        "Named accountable owner: Principal EP (WS3 lead).",
        "exception report and recovery plan is due by Friday 31 July 2026 (10 working days",
        f"http://127.0.0.1:8000/alerts/{esc.id}",
        "it goes to SEND and Inclusion Partnership Board",
    ):
        assert text in " ".join(body.split()), f"{text!r} not in:\n{body}"
    assert esc.plan_due == date(2026, 7, 31)


def test_ws3_level_1_message_reads_plainly() -> None:
    h = Scenario()
    h.run(
        [
            {"at": "2026-06-11", "cycle": "2026-05", "value": 40.0},
            {"at": "2026-07-11", "cycle": "2026-06", "value": 45.0},
        ]
    )
    n = [n for n in h.sent if n.recipient == WS3][0]
    flat = " ".join(n.body.split())
    assert "to Workstream 3: EHCP Quality and Timeliness" in flat
    assert "If nobody acknowledges this alert by 18 July 2026, it goes to Quality" in flat
    assert n.payload["rule"] == "R11" and n.payload["level"] == 1
    assert n.payload["link"].endswith(h.find("R11").id)


def test_alert_ids_are_stable_across_replays() -> None:
    steps = [
        {"at": "2026-06-11", "cycle": "2026-05", "value": 40.0},
        {"at": "2026-07-11", "cycle": "2026-06", "value": 45.0},
    ]
    a, b = Scenario(), Scenario()
    a.run(steps)
    b.run(steps)
    assert sorted(a.alerts) == sorted(b.alerts)
    assert a.uow.outcome.fired == Counter({"R10": 1, "R11": 1})


def test_an_open_alert_keeps_its_policy_version() -> None:
    h = Scenario()
    h.run(
        [
            {"at": "2026-06-11", "cycle": "2026-05", "value": 40.0},
            {"at": "2026-07-11", "cycle": "2026-06", "value": 45.0},
        ]
    )
    # The next version of the policy: a 1-day delay and a different QAG address.
    raw = CONFIG.model_dump(mode="json")
    ws3 = raw["policies"]["ws3-governance"]
    shipped = ws3["version"]
    ws3["version"] = shipped + 1
    ws3["levels"][0]["escalate_after_days"] = 1
    ws3["levels"][1]["recipients"] = [{"email": "qag-v2@example.org"}]
    h.config = EscalationConfig.model_validate(raw)
    h.run([{"at": "2026-07-14", "tick": True}])
    assert h.find("R11").level == 1  # still version 1's 7 days
    h.run([{"at": "2026-07-18", "tick": True}])
    esc = h.find("R11")
    assert (esc.level, esc.policy_version) == (2, shipped)
    assert [m[0] for m in h.mail() if m[1] == 2] == [QAG]
    # Recovery, then a re-trigger: the new episode starts under the new version.
    h.run(
        [
            {"at": "2026-08-11", "cycle": "2026-07", "value": 95.0},
            {"at": "2026-09-11", "cycle": "2026-08", "value": 40.0},
            {"at": "2026-10-11", "cycle": "2026-09", "value": 40.0},
            {"at": "2026-10-13", "tick": True},
        ]
    )
    esc = h.find("R11")
    assert (esc.episode, esc.policy_version, esc.level) == (2, shipped + 1, 2)
    assert [m[0] for m in h.mail() if m[1] == 2] == [QAG, "qag-v2@example.org"]
