"""The shipped escalation policies and API tokens, and the validation that keeps a
council's edited copies sound."""

from __future__ import annotations

import copy
from datetime import date
from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from contracts.escalation import EscalationConfig, horizon_days, load_escalation
from contracts.kpi_dictionary import load_kpis
from contracts.tokens import load_tokens
from sendwatch.config import Settings
from tests.unit.alerts.scenario import Scenario

RAW = yaml.safe_load(Path("contracts/escalation.yaml").read_text())


def test_shipped_policies_are_consistent_with_the_kpi_dictionary() -> None:
    config = load_escalation()
    assert config.problems(load_kpis()) == []
    assert config.horizon_days == 14
    assert config.watched("ehcp_20wk", "month", "all")
    assert config.watched("advice_6wk_health", "week", "all")
    assert not config.watched("ehcp_20wk", "quarter", "all")
    assert not config.watched("ehcp_20wk", "month", "locality=oswestry")


def test_the_shropshire_ladder() -> None:
    ws3 = load_escalation().policies["ws3-governance"]
    assert ws3.rule == "R11" and ws3.version >= 1
    assert [lvl.body for lvl in ws3.levels] == [
        "Workstream 3: EHCP Quality and Timeliness",
        "Quality Assurance Group (QAG)",
        "SEND and Inclusion Partnership Board",
        "Children's Ambition Board / Health and Wellbeing Board",
    ]
    assert "AD Children's Services and SRO" in ws3.levels[1].role
    assert ws3.levels[1].requires_recovery_plan is not None
    assert ws3.levels[1].requires_recovery_plan.working_days == 10
    assert [lvl.escalate_after_days for lvl in ws3.levels] == [7, 14, 28, None]
    # An acknowledged level moves on if the measure is still missed (R3, R11).
    assert [lvl.escalate_if_still_missed_after for lvl in ws3.levels] == [1, 2, 2, None]


def test_the_health_dependency_ladder() -> None:
    health = load_escalation().policies["health-dependency"]
    assert health.rule == "R5"
    assert [lvl.body for lvl in health.levels] == [
        "Senior Responsible Owner for SEND reform (SRO)",
        "ICB Place leadership",
        "ICB governance and the SEND and Inclusion Partnership Board",
    ]
    sro = health.levels[0]
    assert "ICB Place leadership" in sro.ask and "joint recovery plan" in sro.ask
    assert sro.requires_recovery_plan is not None
    assert sro.requires_recovery_plan.working_days == 10
    assert "named owners" in sro.requires_recovery_plan.document
    # ICB Place leadership hears with the SRO: the escalation R5 makes the SRO's action.
    assert [lvl.notify_with_previous for lvl in health.levels] == [False, True, False]
    # An acknowledgement does not silence a persisting miss: two further missed weeks
    # move it on (past ICB Place leadership, already told, to ICB governance).
    assert [lvl.escalate_if_still_missed_after for lvl in health.levels] == [2, 2, None]


def test_shipped_addresses_are_example_org() -> None:
    config = load_escalation()
    addresses = [
        r.address for p in config.policies.values() for lvl in p.levels for r in lvl.recipients
    ]
    addresses += [r.address for rs in config.owners.values() for r in rs]
    assert addresses and all(a.endswith("@example.org") for a in addresses)


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (
            ("policies", "ws3-governance", "levels", 0, "recipients", 0),
            {"email": "a@example.org", "webhook": "https://example.org/h"},
            "exactly one",
        ),
        (
            ("policies", "ws3-governance", "levels", 0, "recipients", 0),
            {"email": "not-an-address"},
            "not an email",
        ),
        (
            ("policies", "ws3-governance", "levels", 0, "recipients", 0),
            {"webhook": "ftp://example.org"},
            "http",
        ),
        (("policies", "ws3-governance", "levels", 3, "escalate_after_days"), 5, "last level"),
        (
            ("policies", "ws3-governance", "levels", 3, "escalate_if_still_missed_after"),
            1,
            "last level",
        ),
        (
            ("policies", "ws3-governance", "levels", 0, "escalate_if_still_missed_after"),
            0,
            "greater than or equal to 1",
        ),
        (
            ("policies", "health-dependency", "levels", 0, "notify_with_previous"),
            True,
            "no previous level",
        ),
        (("policies", "ws3-governance", "levels", 0, "escalate_after_days"), -1, "greater than 0"),
        (("policies", "ws3-governance", "rule"), "r11; drop table", "pattern"),
        (("policies", "ws3-governance", "levels"), [], "at least 1"),
        (("policies", "ws3-governance", "surprise"), 1, "Extra inputs"),
    ],
)
def test_invalid_policies_are_rejected(path: tuple, value: object, message: str) -> None:
    raw = copy.deepcopy(RAW)
    node = raw
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    with pytest.raises(ValidationError, match=message):
        EscalationConfig.model_validate(raw)


def test_watching_an_unknown_kpi_or_cycle_is_a_problem() -> None:
    raw = copy.deepcopy(RAW)
    raw["watch"] += [
        {"kpi": "nope", "cycle_kinds": ["month"]},
        {"kpi": "open_caseload", "cycle_kinds": ["current"]},
        {"kpi": "ehcp_20wk", "cycle_kinds": ["week"]},
    ]
    problems = EscalationConfig.model_validate(raw).problems(load_kpis())
    assert any("unknown kpi 'nope'" in p for p in problems)
    assert any("'open_caseload' has no escalation_policy" in p for p in problems)
    assert any("not computed for week" in p for p in problems)


def test_breakdown_patterns() -> None:
    raw = copy.deepcopy(RAW)
    raw["watch"] = [
        {"kpi": "ehcp_20wk", "cycle_kinds": ["month"], "breakdowns": ["all", "locality=*"]}
    ]
    config = EscalationConfig.model_validate(raw)
    assert config.watched("ehcp_20wk", "month", "locality=oswestry")
    assert not config.watched("ehcp_20wk", "month", "age_band=5-10")


def test_horizon_can_be_set_by_environment() -> None:
    config = load_escalation()
    assert horizon_days(config, Settings.from_env({}).alerts.horizon_days) == 14
    settings = Settings.from_env({"SENDWATCH_ALERTS_HORIZON_DAYS": "60"})
    assert horizon_days(config, settings.alerts.horizon_days) == 60


def test_plan_due_over_christmas_counts_working_days() -> None:
    """R5 reaches the SRO on Thursday 24 December 2026: the joint recovery plan is due
    ten working days later, on Tuesday 12 January 2027."""
    h = Scenario(kpi="advice_6wk_health")
    h.run(
        [
            {"at": "2026-12-17", "cycle": "2026-W50", "value": 50.0},
            {"at": "2026-12-24", "cycle": "2026-W51", "value": 50.0},
        ]
    )
    r5 = h.find("R5")
    assert r5.plan_due == date(2027, 1, 12)
    body = " ".join(next(n for n in h.sent if n.recipient == "sro-send@example.org").body.split())
    assert "due by Tuesday 12 January 2027 (10 working days" in body
    # Acknowledged, but no plan: the overdue alert fires on 13 January, not before.
    h.run([{"at": "2026-12-29", "ack": "R5"}, {"at": "2027-01-12", "tick": True}])
    assert [a.rule for a in h.alerts.values() if a.rule == "R1"] == []
    h.run([{"at": "2027-01-13", "tick": True}])
    assert h.find("R1").status == "open"


def test_plan_due_over_easter_2027() -> None:
    h = Scenario(kpi="advice_6wk_health")
    h.run(
        [
            {"at": "2027-03-18", "cycle": "2027-W10", "value": 50.0},
            {"at": "2027-03-25", "cycle": "2027-W11", "value": 50.0},
        ]
    )
    # Thursday 25 March + 10 working days, skipping Good Friday and Easter Monday
    assert h.find("R5").plan_due == date(2027, 4, 12)


def test_tokens_and_roles() -> None:
    tokens = load_tokens()
    read = tokens.authenticate("dev-alerts-read-token")
    ack = tokens.authenticate("dev-alerts-ack-token")
    admin = tokens.authenticate("dev-admin-token")
    board = tokens.authenticate("dev-board-token")
    ops = tokens.authenticate("dev-operational-token")
    assert read and read.allows("read") and not read.allows("ack")
    assert ack and ack.allows("ack") and ack.allows("read")
    assert admin and all(admin.allows(r) for r in ("read", "ack", "board", "operational"))
    assert board and board.allows("board") and not board.allows("ack")
    assert ops and ops.allows("operational") and ops.allows("ack")
    assert tokens.authenticate("dev-case-management-key") is None
    assert tokens.from_header("Bearer dev-admin-token") == admin
    assert tokens.from_header("Basic dev-admin-token") is None
    assert tokens.from_header(None) is None and tokens.from_header("Bearer ") is None
    text = Path("contracts/tokens.yaml").read_text()
    assert "dev-admin-token\n" not in text.replace("(dev-admin-token)", "")


def test_the_rules_use_the_given_horizon() -> None:
    """May 2026 closed on 11 June; on 1 July it is within a 30-day horizon but not a
    14-day one, so it notifies only with the longer horizon."""
    for horizon, historical in ((30, False), (14, True)):
        h = Scenario(horizon_days=horizon)
        h.run([{"at": "2026-07-01", "cycle": "2026-05", "value": 40.0, "denominator": 10}])
        assert h.find("R10").historical is historical
        assert bool(h.sent) is not historical
