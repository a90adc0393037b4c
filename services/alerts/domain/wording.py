"""Shared wording of the notifications and the audit trail: values in their unit, goals
with their direction, breakdowns, a closed cycle's line, and the rule and milestone
texts."""

from __future__ import annotations

import textwrap
from datetime import date as Date
from typing import Any

from contracts.cycles import human_date
from contracts.escalation import Level

RULES: dict[str, str] = {
    "R10": (
        "Reform Plan §12: where metrics indicate deterioration there is an immediate "
        "review, named accountability, and follow-up through the next reporting cycle"
    ),
    "R11": (
        "Reform Plan §12: where progress is not secured, escalation routes through "
        "governance are used (WS3, QAG, Partnership Board, Ambition Board / HWB)"
    ),
    "R5": (
        "Reform Plan R5: where NHS/ICB standards are missed for two consecutive cycles, "
        "the SRO escalates to ICB Place leadership and requires a joint recovery plan "
        "with actions, timescales and named owners"
    ),
    "R1": ("Reform Plan R1: an exception report and recovery plan is due within 10 working days"),
    "MS1": (
        "Reform Plan R12: the timeliness dashboard gives early warning of slippage so "
        "that it can be rectified immediately"
    ),
    "MS2": "Early warning: a statutory milestone is close to its deadline",
}

MILESTONES: dict[str, str] = {
    "decision_to_assess": "the decision whether to assess (6 weeks)",
    "advice_education": "education advice (6 weeks from the request)",
    "advice_ep": "educational psychology advice (6 weeks from the request)",
    "advice_health": "health advice (6 weeks from the request)",
    "advice_social_care": "social care advice (6 weeks from the request)",
    "not_issue_decision": "the decision not to issue a plan (16 weeks)",
    "draft_plan": "the draft EHC plan (week 18, leaving 15 days for comments)",
    "final_plan": "the final EHC plan (20 weeks)",
    # placements and sufficiency (R22)
    "high_cost_review": "the review or challenge of a new high-cost placement decision "
    "(10 working days)",
}


def _number(value: float) -> str:
    if float(value).is_integer():
        return f"{value:,.0f}"
    return f"{value:,.2f}".rstrip("0").rstrip(".")


def fmt_value(value: float | None, unit: str) -> str:
    """A KPI value in its unit: '40.0%', '11', '12.5 days', '0.7'."""
    if value is None:
        return "no value"
    if unit == "percent":
        return f"{value:.1f}%"
    if unit == "days":
        return f"{_number(value)} day" + ("" if value == 1 else "s")
    return _number(value)


def fmt_goal(goal: float | None, unit: str, direction: str = "higher") -> str:
    """A goal with its direction: '90.0%', or 'at most 10' for a cap."""
    text = fmt_value(goal, unit)
    return f"at most {text}" if direction == "lower" and goal is not None else text


def breakdown_text(breakdown: str) -> str:
    if breakdown == "all":
        return "the whole of Shropshire (all children and young people)"
    dim, _, val = breakdown.partition("=")
    return f"{dim.replace('_', ' ')} {val}" if val else breakdown


def an(noun: object) -> str:
    return "An" if str(noun or "r")[:1].lower() in "aeiou" else "A"


def day_text(iso: str | None) -> str:
    return human_date(Date.fromisoformat(iso)) if iso else "not set"


def cycle_line(c: dict[str, Any], unit: str, direction: str = "higher") -> str:
    count = ""
    if c.get("denominator"):
        count = f" ({c.get('numerator')} of {c.get('denominator')})"
    target = c.get("target")
    target_text = (
        f"trajectory target {fmt_goal(target, unit, direction)}"
        if target is not None
        else "no trajectory target set for this cycle"
    )
    revised = f" [restated, revision {c['revision']}]" if c.get("revision", 1) > 1 else ""
    judged = ""
    if c.get("goal") is not None and c.get("goal_label") not in ("trajectory target", "standard"):
        judged = f" Judged against the {c.get('goal_label')} of {goal_text(c, unit, direction)}."
    return (
        f"  - {c['label']}: {fmt_value(c.get('value'), unit)}{count}{revised}. "
        f"Standard {fmt_goal(c.get('standard'), unit, direction)}; {target_text}.{judged}"
    )


def goal_text(c: dict[str, Any], unit: str, direction: str) -> str:
    return fmt_goal(c.get("goal"), unit, direction)


def wrap(text: str) -> str:
    return "\n".join(
        textwrap.fill(p, width=78) if not p.startswith("  ") else p for p in text.split("\n")
    )


def who(level: Level) -> str:
    """A level's body and role, e.g. 'Quality Assurance Group (QAG) (Chair: ...)'."""
    return f"{level.body} ({level.role})" if level.role else level.body
