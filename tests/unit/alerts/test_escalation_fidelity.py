"""Escalation that follows the problem, with the shipped ladders (Reform Plan R3, R5,
R11): an acknowledgement does not silence a series that keeps missing
(``escalate_if_still_missed_after``), and the R5 route tells ICB Place leadership with
the SRO (``notify_with_previous``).  Each level still notifies at most once per episode.
"""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from tests.unit.alerts.scenario import Scenario, check_case

CASES = yaml.safe_load(
    """
- name: acknowledged, and the next month still missed, the chain moves on to QAG
  steps:
    - {at: 2026-06-11, cycle: 2026-05, value: 40.0}
    - {at: 2026-07-11, cycle: 2026-06, value: 45.0}
    - {at: 2026-07-13, ack: R11, by: EHCP Team Manager}
    - {at: 2026-08-11, cycle: 2026-07, value: 50.0}
  exp_alerts:
    - {rule: R10, status: superseded}
    - {rule: R11, status: open, level: 2, acked_by: null, plan_due: 2026-08-25,
       cycles: [2026-06, 2026-07]}
  exp_mail:
    - [principal-ep@example.org, 0, alert, R10]
    - [ws3-ehcp-timeliness@example.org, 1, alert, R11]
    - [qag@example.org, 2, alert, R11]
  exp_text:
    - "Escalation to Quality Assurance Group (QAG): EHC plans issued within 20 weeks
       (including exceptions) still missed after acknowledgement"
    - "Acknowledged by EHCP Team Manager on 13 July 2026, still missed in July 2026:
       escalated to Quality Assurance Group (QAG)."
    - "This is level 2 of 4"
    - "exception report and recovery plan is due by Tuesday 25 August 2026"

- name: QAG acknowledged; two further missed months take it to the Partnership Board
  steps:
    - {at: 2026-06-11, cycle: 2026-05, value: 40.0}
    - {at: 2026-07-11, cycle: 2026-06, value: 45.0}
    - {at: 2026-07-18, tick: true}                      # nobody acknowledged: QAG
    - {at: 2026-07-20, ack: R11, by: QAG chair}
    - {at: 2026-07-24, plan: R11, by: QAG chair}
    - {at: 2026-08-11, cycle: 2026-07, value: 50.0}     # one further miss: QAG holds
    - {at: 2026-09-11, cycle: 2026-08, value: 55.0}     # two: the board
  exp_alerts:
    - {rule: R10, status: superseded}
    - {rule: R11, status: open, level: 3, plan_recorded: true}
  exp_mail:
    - [principal-ep@example.org, 0, alert, R10]
    - [ws3-ehcp-timeliness@example.org, 1, alert, R11]
    - [qag@example.org, 2, alert, R11]
    - [send-partnership-board@example.org, 3, alert, R11]
  exp_text:
    - "Acknowledged by QAG chair on 20 July 2026, still missed in July 2026 and August
       2026: escalated to SEND and Inclusion Partnership Board."
    - "If nobody acknowledges this alert by 9 October 2026, it goes to Children's
       Ambition Board / Health and Wellbeing Board."

- name: the level reached by a miss still moves on by time if nobody acknowledges it
  steps:
    - {at: 2026-06-11, cycle: 2026-05, value: 40.0}
    - {at: 2026-07-11, cycle: 2026-06, value: 45.0}
    - {at: 2026-07-13, ack: R11}
    - {at: 2026-08-11, cycle: 2026-07, value: 50.0}     # QAG, 14 days to acknowledge
    - {at: 2026-08-24, tick: true}
    - {at: 2026-08-25, tick: true}
  exp_alerts:
    - {rule: R10, status: superseded}
    - {rule: R11, status: open, level: 3}
  exp_mail:
    - [principal-ep@example.org, 0, alert, R10]
    - [ws3-ehcp-timeliness@example.org, 1, alert, R11]
    - [qag@example.org, 2, alert, R11]
    - [send-partnership-board@example.org, 3, alert, R11]
  exp_text: ["It was sent to Quality Assurance Group (QAG) and nobody acknowledged it
              within 14 days"]

- name: acknowledged and then met, the alert resolves and goes no further
  steps:
    - {at: 2026-06-11, cycle: 2026-05, value: 40.0}
    - {at: 2026-07-11, cycle: 2026-06, value: 45.0}
    - {at: 2026-07-13, ack: R11}
    - {at: 2026-08-11, cycle: 2026-07, value: 95.0}
    - {at: 2026-09-11, cycle: 2026-08, value: 40.0}
  exp_alerts:
    - {rule: R10, status: open, episode: 2}
    - {rule: R11, status: resolved, level: 1}
  exp_mail:
    - [principal-ep@example.org, 0, alert, R10]
    - [ws3-ehcp-timeliness@example.org, 1, alert, R11]
    - [ws3-ehcp-timeliness@example.org, 0, resolved, R11]
    - [principal-ep@example.org, 0, alert, R10]

- name: a restated acknowledged month and a month too small to judge are not further misses
  steps:
    - {at: 2026-06-11, cycle: 2026-05, value: 40.0}
    - {at: 2026-07-11, cycle: 2026-06, value: 45.0}
    - {at: 2026-07-13, ack: R11}
    - {at: 2026-07-20, cycle: 2026-06, value: 44.0, revision: 2}
    - {at: 2026-08-11, cycle: 2026-07, value: 0.0, denominator: 2}
  exp_alerts:
    - {rule: R10, status: superseded}
    - {rule: R11, status: acknowledged, level: 1}
  exp_mail:
    - [principal-ep@example.org, 0, alert, R10]
    - [ws3-ehcp-timeliness@example.org, 1, alert, R11]

- name: at the last level an acknowledgement holds; there is nobody further to tell
  steps:
    - {at: 2026-06-11, cycle: 2026-05, value: 40.0}
    - {at: 2026-07-11, cycle: 2026-06, value: 45.0}
    - {at: 2026-10-01, tick: true}                      # the whole ladder, by time
    - {at: 2026-10-02, plan: R11}
    - {at: 2026-10-03, ack: R11}
    - {at: 2026-10-11, cycle: 2026-09, value: 40.0}
  exp_alerts:
    - {rule: R10, status: superseded}
    - {rule: R11, status: acknowledged, level: 4}
    - {rule: R1, status: resolved}

- name: R5 tells ICB Place leadership with the SRO; a level is told once per episode
  kpi: advice_6wk_health
  steps:
    - {at: 2026-11-19, cycle: 2026-W46, value: 70.0}
    - {at: 2026-11-26, cycle: 2026-W47, value: 60.0}
    - {at: 2026-12-02, tick: true}                      # no acknowledgement: level 2
    - {at: 2026-12-03, cycle: 2026-W48, value: 95.0}    # met: resolved
    - {at: 2026-12-10, cycle: 2026-W49, value: 60.0}
    - {at: 2026-12-17, cycle: 2026-W50, value: 60.0}    # a new episode
  exp_alerts:
    - {rule: R10, status: superseded, episode: 2}
    - {rule: R5, status: open, level: 1, episode: 2}
  exp_mail:
    - [dco@example.org, 0, alert, R10]
    - [sro-send@example.org, 1, alert, R5]
    - [icb-place-leadership@example.org, 2, alert, R5]
    - [sro-send@example.org, 0, resolved, R5]
    - [icb-place-leadership@example.org, 0, resolved, R5]
    - [dco@example.org, 0, alert, R10]
    - [sro-send@example.org, 1, alert, R5]
    - [icb-place-leadership@example.org, 2, alert, R5]
  exp_text:
    - "[sendwatch R5] Escalation to ICB Place leadership"
    - "This is level 2 of 3 of the NHS/ICB dependency route"
    - "It comes to you at the same time as Senior Responsible Owner for SEND reform
       (SRO): this route notifies ICB Place leadership as soon as the escalation
       starts, not only if nobody acknowledges."
    - "joint recovery plan (actions, timescales and named owners) is due from Senior
       Responsible Owner for SEND reform (SRO) by Thursday 10 December 2026."

- name: the SRO's acknowledgement holds while the weeks still miss (no further level to tell)
  kpi: advice_6wk_health
  steps:
    - {at: 2026-11-19, cycle: 2026-W46, value: 70.0}
    - {at: 2026-11-26, cycle: 2026-W47, value: 60.0}
    - {at: 2026-11-27, ack: R5}
    - {at: 2026-12-03, cycle: 2026-W48, value: 60.0}
    - {at: 2026-12-09, plan: R5}
  exp_alerts:
    - {rule: R10, status: superseded}
    - {rule: R5, status: acknowledged, level: 1}
  exp_mail:
    - [dco@example.org, 0, alert, R10]
    - [sro-send@example.org, 1, alert, R5]
    - [icb-place-leadership@example.org, 2, alert, R5]

- name: a persisting R5 miss after the SRO's acknowledgement goes on to ICB governance
  kpi: advice_6wk_health
  steps:
    - {at: 2026-11-19, cycle: 2026-W46, value: 70.0}
    - {at: 2026-11-26, cycle: 2026-W47, value: 60.0}
    - {at: 2026-11-27, ack: R5}
    - {at: 2026-12-03, cycle: 2026-W48, value: 60.0}
    - {at: 2026-12-10, cycle: 2026-W49, value: 55.0}    # the second further miss
  exp_alerts:
    - {rule: R10, status: superseded}
    - {rule: R5, status: open, level: 3}
  exp_mail:
    - [dco@example.org, 0, alert, R10]
    - [sro-send@example.org, 1, alert, R5]
    - [icb-place-leadership@example.org, 2, alert, R5]
    - [icb-governance@example.org, 3, alert, R5]
    - [send-partnership-board@example.org, 3, alert, R5]
  exp_text:
    - "If it is acknowledged but 2 more closed weeks also miss the goal, it goes on to ICB
       governance and the SEND and Inclusion Partnership Board."
"""
)


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_escalation_fidelity_table(case: dict[str, Any]) -> None:
    check_case(Scenario(kpi=case.get("kpi", "ehcp_20wk")), case)


def test_the_timeline_says_what_an_acknowledgement_leaves_open_and_why_it_moved_on() -> None:
    h = Scenario()
    h.run(CASES[0]["steps"])
    timeline = h.timeline("R11")
    assert (
        "escalation_watch",
        "If the next closed month also misses the goal, the alert goes on to Quality "
        "Assurance Group (QAG).",
    ) in timeline
    assert (
        "level",
        "Escalation level 2 of 4: Quality Assurance Group (QAG) (acknowledged by EHCP Team Manager "
        "on 2026-07-13, but still missed in July 2026: the chain moves on).",
    ) in timeline
    esc = h.find("R11")
    assert esc.facts["escalated_on_miss"] == {
        "level": 2,
        "acked_by": "EHCP Team Manager",
        "acked_on": "2026-07-13",
        "cycles": ["July 2026"],
    }


def test_the_r5_start_names_both_levels() -> None:
    h = Scenario(kpi="advice_6wk_health")
    h.run(CASES[6]["steps"][:2])
    assert (
        "level",
        "Escalation level 1 of 3: Senior Responsible Owner for SEND reform (SRO). ICB Place "
        "leadership (level 2) is notified at the same time.",
    ) in h.timeline("R5")
