"""Every KPI is judged the same way, whatever it measures: caps (direction ``lower``),
units other than percent, the goal the value carries (an interim goal before the first
trajectory point), a target still to be established, and the close date the value
carries.  The KPIs here are not in the shipped dictionary: the rules know none by name.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from contracts.escalation import EscalationConfig
from contracts.kpi_dictionary import EventCount, KpiDictionary
from services.alerts.domain.model import judged_goal
from services.alerts.domain.series import cycle_result, to_be_established
from tests.unit.alerts.scenario import CONFIG, DICTIONARY, Scenario, check_case

OWNER = "ehcp-team-manager@example.org"  # the "EHCP Team Manager" owner's address
WS3 = "ws3-ehcp-timeliness@example.org"


def kpi(name: str, unit: str, direction: str, standard: float | None) -> EventCount:
    return EventCount(
        name=name,
        ref="TEST",
        kind="event_count",  # alerts never reads the measure kind
        events=[{"type": "test.event"}],  # type: ignore[list-item]
        unit="percent" if unit == "percent" else "count",
        direction=direction,  # type: ignore[arg-type]
        workstream="WS3 EHCP Quality and Timeliness",
        owner="EHCP Team Manager",
        baseline=None,
        standard=standard,
        trajectory={},
        cycles=["month"],
        escalation_policy="ws3-governance",
    )


EXTRA = {
    "complaints": kpi("Complaints received in the month", "count", "lower", 10.0),
    "mean_days": kpi("Mean days to issue a final plan", "count", "lower", 140.0),
    "tribunal_rate": kpi("Tribunal appeals per 100 plans", "count", "lower", 0.6),
    "confidence": kpi("Setting confidence score", "count", "higher", 4.0),
    "survey": kpi("Parent carer satisfaction", "percent", "higher", None),
    "share": kpi("Share of plans within 20 weeks", "percent", "higher", 90.0),
}
GENERIC = KpiDictionary.model_validate(
    {
        **DICTIONARY.model_dump(),
        "kpis": {
            **DICTIONARY.model_dump()["kpis"],
            **{k: v.model_dump() for k, v in EXTRA.items()},
        },
    }
)
WATCHING = EscalationConfig.model_validate(
    {
        **CONFIG.model_dump(mode="json"),
        "watch": [{"kpi": k, "cycle_kinds": ["month"], "breakdowns": ["all"]} for k in EXTRA],
    }
)

CASES = yaml.safe_load(
    """
- name: a cap of 10 complaints a month is met at 10 and missed at 11
  kpi: complaints
  steps:
    - {at: 2026-06-11, cycle: 2026-05, value: 10}
    - {at: 2026-07-11, cycle: 2026-06, value: 11}
  exp_alerts:
    - {rule: R10, status: open, cycle: 2026-06}
  exp_mail: [[ehcp-team-manager@example.org, 0, alert, R10]]
  exp_text: ["June 2026: 11. Standard at most 10", "(11 against at most 10)"]

- name: a cap missed twice escalates, and a month under the cap resolves it
  kpi: complaints
  steps:
    - {at: 2026-06-11, cycle: 2026-05, value: 12}
    - {at: 2026-07-11, cycle: 2026-06, value: 15}
    - {at: 2026-08-11, cycle: 2026-07, value: 9}
  exp_alerts:
    - {rule: R10, status: superseded}
    - {rule: R11, status: resolved}
  exp_mail:
    - [ehcp-team-manager@example.org, 0, alert, R10]
    - [ws3-ehcp-timeliness@example.org, 1, alert, R11]
    - [ws3-ehcp-timeliness@example.org, 0, resolved, R11]
  exp_text: ["June 2026: 15 against the standard of at most 10",
             "in July 2026 the measure was 9 against its standard of at most 10"]

- name: days, in the unit the value carries
  kpi: mean_days
  steps:
    - {at: 2026-06-11, cycle: 2026-05, value: 151.5, unit: days, direction: lower, goal: 140}
  exp_alerts:
    - {rule: R10, status: open}
  exp_text: ["151.5 days against at most 140 days"]

- name: a rate is judged in its own direction
  kpi: tribunal_rate
  steps:
    - {at: 2026-06-11, cycle: 2026-05, value: 0.7, unit: rate, direction: lower, goal: 0.6}
    - {at: 2026-07-11, cycle: 2026-06, value: 0.6, unit: rate, direction: lower, goal: 0.6}
  exp_alerts:
    - {rule: R10, status: resolved}
  exp_text: ["May 2026: 0.7. Standard at most 0.6",
             "in June 2026 the measure was 0.6 against its standard of at most 0.6"]

- name: a score below the interim goal it carries
  kpi: confidence
  steps:
    - {at: 2026-06-11, cycle: 2026-05, value: 3.2, unit: score, direction: higher, goal: 3.5}
  exp_alerts:
    - {rule: R10, status: open}
  exp_text: ["3.2 against 3.5", "Judged against the interim goal of 3.5."]

- name: before the first trajectory point the interpolated goal is the goal, not the standard
  kpi: share
  steps:
    - {at: 2026-06-11, cycle: 2026-05, value: 40.0, goal: 33.3, direction: higher}
    - {at: 2026-07-11, cycle: 2026-06, value: 45.0, goal: 37.5, direction: higher}
  exp_alerts: []
  exp_mail: []

- name: missing the interpolated goal twice escalates, and says which goal
  kpi: share
  steps:
    - {at: 2026-06-11, cycle: 2026-05, value: 30.0, goal: 33.3, direction: higher}
    - {at: 2026-07-11, cycle: 2026-06, value: 35.0, goal: 37.5, direction: higher}
  exp_alerts:
    - {rule: R10, status: superseded}
    - {rule: R11, status: open, level: 1}
  exp_text:
    - "May 2026: 30.0% against the interim goal of 33.3%;"
    - "June 2026: 35.0% against the interim goal of 37.5%"

- name: a value without a goal falls back to the trajectory target, else the standard
  kpi: share
  steps:
    - {at: 2026-06-11, cycle: 2026-05, value: 80.0}
    - {at: 2026-07-11, cycle: 2026-06, value: 80.0, target: 75.0}
  exp_alerts:
    - {rule: R10, status: resolved}

- name: a target to be established gives no verdict and no alert
  kpi: survey
  steps:
    - {at: 2026-06-11, cycle: 2026-05, value: 20.0}
    - {at: 2026-07-11, cycle: 2026-06, value: 10.0}
  exp_alerts: []
  exp_mail: []

- name: a producer that judges says when there is no goal, whatever the standard
  kpi: share
  steps:
    - {at: 2026-06-11, cycle: 2026-05, value: 20.0, direction: higher}
    - {at: 2026-07-11, cycle: 2026-06, value: 10.0, direction: higher}
  exp_alerts: []

- name: direction none is never judged
  kpi: share
  steps:
    - {at: 2026-06-11, cycle: 2026-05, value: 20.0, direction: none, goal: 90}
  exp_alerts: []

- name: the close date the value carries decides what is historical
  kpi: share
  steps:
    - {at: 2026-07-01, cycle: 2026-06, value: 20.0, closes_on: 2026-06-01}
  exp_alerts:
    - {rule: R10, historical: true}
  exp_mail: []

- name: without one, the close date is the cycle's end plus the dictionary's grace
  kpi: share
  steps:
    - {at: 2026-07-12, cycle: 2026-06, value: 20.0}
  exp_alerts:
    - {rule: R10, historical: false}
  exp_mail: [[ehcp-team-manager@example.org, 0, alert, R10]]
"""
)


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_generic_kpi_table(case: dict[str, Any]) -> None:
    check_case(Scenario(kpi=case["kpi"], config=WATCHING, dictionary=GENERIC), case)


def test_goals_and_their_names() -> None:
    assert judged_goal(target=65.0, standard=90.0) == (65.0, "trajectory target")
    assert judged_goal(target=None, standard=90.0) == (90.0, "standard")
    assert judged_goal(target=None, standard=None) == (None, "no goal")
    assert judged_goal(target=None, standard=90.0, carried=True, goal=90.0) == (
        90.0,
        "standard",
    )
    assert judged_goal(target=None, standard=90.0, carried=True, goal=41.2) == (
        41.2,
        "interim goal",
    )
    assert judged_goal(target=None, standard=90.0, carried=True) == (None, "no goal")
    assert judged_goal(target=None, standard=90.0, to_be_established=True) == (
        None,
        "target to be established",
    )


def test_a_dictionary_target_to_be_established_gives_no_goal() -> None:
    """The dictionary's version 2 lets a trajectory be ``to_be_established``."""
    k = EventCount.model_construct(
        **{**EXTRA["share"].model_dump(), "trajectory": "to_be_established"}
    )
    assert to_be_established(k) and not to_be_established(EXTRA["share"])
    h = Scenario(kpi="share", config=WATCHING, dictionary=GENERIC)
    v = h.value({"kpi": "share", "cycle": "2026-05", "value": 10.0})
    r = cycle_result(v, "month", k, GENERIC)
    assert r is not None and (r.goal, r.goal_label, r.verdict()) == (
        None,
        "target to be established",
        "no_data",
    )


def test_no_kpi_is_named_in_the_alerts_code() -> None:
    root = Path(__file__).resolve().parents[3] / "services" / "alerts"
    code = "\n".join(p.read_text() for p in root.rglob("*.py") if "migrations" not in p.parts)
    named = [k for k in DICTIONARY.kpis if re.search(rf"\b{re.escape(k)}\b", code)]
    assert named == []
