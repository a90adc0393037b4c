"""Notification text in plain English for board members and officers: which measure,
which cycle and breakdown, the value against the standard and the trajectory target,
why it escalated (rule id and the cycles' values), who is accountable, what is due by
when, and the link to the alert."""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from contracts.cycles import human_date, human_day
from contracts.escalation import Level
from services.alerts.domain.model import Alert, Notice, local_date

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
}


@dataclass(frozen=True)
class Rendered:
    subject: str
    body: str
    payload: dict[str, Any]


def fmt_value(value: float | None, unit: str) -> str:
    if value is None:
        return "no value"
    if unit == "percent":
        return f"{value:.1f}%"
    return f"{value:g}"


def breakdown_text(breakdown: str) -> str:
    if breakdown == "all":
        return "the whole of Shropshire (all children and young people)"
    dim, _, val = breakdown.partition("=")
    return f"{dim.replace('_', ' ')} {val}" if val else breakdown


def an(noun: object) -> str:
    return "An" if str(noun or "r")[:1].lower() in "aeiou" else "A"


def _date(iso: str | None) -> str:
    return human_date(date.fromisoformat(iso)) if iso else "not set"


def _cycle_line(c: dict[str, Any], unit: str) -> str:
    count = ""
    if c.get("denominator"):
        count = f" ({c.get('numerator')} of {c.get('denominator')})"
    target = c.get("target")
    target_text = (
        f"trajectory target {fmt_value(target, unit)}"
        if target is not None
        else "no trajectory target set for this cycle"
    )
    revised = f" [restated, revision {c['revision']}]" if c.get("revision", 1) > 1 else ""
    return (
        f"  - {c['label']}: {fmt_value(c.get('value'), unit)}{count}{revised}. "
        f"Standard {fmt_value(c.get('standard'), unit)}; {target_text}."
    )


def _wrap(text: str) -> str:
    return "\n".join(
        textwrap.fill(p, width=78) if not p.startswith("  ") else p for p in text.split("\n")
    )


def _level(alert: Alert, level: int) -> Level | None:
    if alert.policy is None or not 1 <= level <= len(alert.policy.levels):
        return None
    return alert.policy.levels[level - 1]


def _who(level: Level) -> str:
    """A level's body and role, e.g. 'Quality Assurance Group (QAG) (Chair: ...)'."""
    return f"{level.body} ({level.role})" if level.role else level.body


def render(alert: Alert, notice: Notice, level: int, now: datetime, base_url: str) -> Rendered:
    """Subject, plain-text body and webhook payload of one notification."""
    link = f"{base_url.rstrip('/')}/alerts/{alert.id}"
    if notice == "resolved":
        subject, body = _resolved(alert)
    elif alert.kind == "escalation":
        subject, body = _escalation(alert, level)
    elif alert.kind == "deterioration":
        subject, body = _deterioration(alert)
    elif alert.kind == "milestone":
        subject, body = _milestone(alert, level)
    else:
        subject, body = _overdue(alert, level)
    subject = f"[sendwatch {alert.rule}] {subject}"
    footer = (
        f"\nSee the alert and its full history, acknowledge it or record a recovery plan:\n"
        f"{link}\n\n"
        f"Alert {alert.id}, rule {alert.rule}, episode {alert.episode}, raised "
        f"{human_date(local_date(alert.opened_at))}."
    )
    if alert.policy is not None and alert.kind in ("escalation", "overdue", "milestone"):
        footer += (
            f" Policy {alert.policy_name} version {alert.policy.version} ({alert.policy.title})."
        )
    body = _wrap(body) + "\n" + _wrap(footer) + "\n"
    lvl = _level(alert, level)
    payload: dict[str, Any] = {
        "alert_id": alert.id,
        "notice": notice,
        "rule": alert.rule,
        "rule_text": RULES.get(alert.rule, ""),
        "kind": alert.kind,
        "status": alert.status,
        "episode": alert.episode,
        "level": level,
        "body_notified": lvl.body if lvl else None,
        "policy": alert.policy_name,
        "policy_version": alert.policy_version,
        "kpi": alert.kpi,
        "kpi_name": alert.facts.get("kpi_name"),
        "cycle": alert.cycle,
        "cycle_kind": alert.cycle_kind,
        "breakdown": alert.breakdown,
        "owner": alert.facts.get("owner"),
        "plan_due": alert.plan_due.isoformat() if alert.plan_due else None,
        "follow_up_due": alert.follow_up_due.isoformat() if alert.follow_up_due else None,
        "facts": alert.facts,
        "subject": subject,
        "text": body,
        "link": link,
        "decided_at": now.isoformat(),
    }
    return Rendered(subject, body, payload)


def _kpi(alert: Alert) -> str:
    name = alert.facts.get("kpi_name", alert.kpi)
    ref = alert.facts.get("kpi_ref")
    return f"{name} ({ref})" if ref else str(name)


def _escalation(alert: Alert, level: int) -> tuple[str, str]:
    unit = str(alert.facts.get("unit", "percent"))
    cycles = alert.facts.get("cycles", [])
    noun = alert.facts.get("cycle_noun", "cycle")
    lvl = _level(alert, level)
    assert alert.policy is not None and lvl is not None
    n_levels = len(alert.policy.levels)
    values = "; ".join(
        f"{c['label']}: {fmt_value(c.get('value'), unit)} against the {c.get('goal_label')} "
        f"of {fmt_value(c.get('goal'), unit)}"
        for c in cycles[-2:]
    )
    subject = (
        f"Escalation to {lvl.body}: {alert.facts.get('kpi_name', alert.kpi)} missed "
        f"two {noun}s running"
    )
    lines = [
        f"This is an escalation from sendwatch, the SEND partnership's performance "
        f"monitor, to {_who(lvl)}.",
        "",
        "WHAT HAS HAPPENED",
        f"{_kpi(alert)}, for {breakdown_text(alert.breakdown)}, has missed its goal in "
        f"two consecutive {noun}s:",
        *(_cycle_line(c, unit) for c in cycles),
        "",
        "WHY IT HAS COME TO YOU",
        f"Rule {alert.rule} ({RULES.get(alert.rule, '')}): the goal was missed in two "
        f"consecutive closed {noun}s ({values}).",
        f"This is level {level} of {n_levels} of the {alert.policy.title}.",
    ]
    if level > 1:
        prev = alert.policy.levels[level - 2]
        lines.append(
            f"It was sent to {prev.body} and nobody acknowledged it within "
            f"{prev.escalate_after_days:g} days, so it has come to you."
        )
    lines += [
        "",
        "WHO IS ACCOUNTABLE AND WHAT IS DUE",
        f"Named accountable owner: {alert.facts.get('owner', 'not named')}.",
    ]
    if lvl.ask:
        lines.append(f"What is asked of you: {lvl.ask}")
    if alert.plan_due is not None and alert.plan_level == level:
        lines.append(
            f"{an(alert.plan_document)} {alert.plan_document} is due by "
            f"{human_day(alert.plan_due)} "
            f"({lvl.requires_recovery_plan.working_days if lvl.requires_recovery_plan else ''}"
            " working days, not counting weekends and bank holidays). If none is recorded "
            "by then, an overdue alert is raised (rule R1)."
        )
    elif alert.plan_due is not None:
        lines.append(
            f"{an(alert.plan_document)} {alert.plan_document} is due by "
            f"{human_day(alert.plan_due)}"
            + (" and has been recorded." if alert.plan_recorded_at else ".")
        )
    nxt = alert.next_escalation_at()
    if nxt is not None and level < n_levels:
        lines.append(
            f"If nobody acknowledges this alert by {human_date(local_date(nxt))}, it goes "
            f"to {alert.policy.levels[level].body}."
        )
    elif level == n_levels:
        lines.append("This is the last level of the escalation route.")
    return subject, "\n".join(lines)


def _deterioration(alert: Alert) -> tuple[str, str]:
    unit = str(alert.facts.get("unit", "percent"))
    cycles = alert.facts.get("cycles", [])
    last = cycles[-1] if cycles else {}
    noun = alert.facts.get("cycle_noun", "cycle")
    subject = (
        f"Deterioration: {alert.facts.get('kpi_name', alert.kpi)} missed its goal in "
        f"{last.get('label', alert.cycle)} ({fmt_value(last.get('value'), unit)} against "
        f"{fmt_value(last.get('goal'), unit)})"
    )
    follow = human_date(alert.follow_up_due) if alert.follow_up_due else "the next cycle"
    lines = [
        f"To the named accountable owner, {alert.facts.get('owner', 'not named')}.",
        "",
        "WHAT HAS HAPPENED",
        f"{_kpi(alert)}, for {breakdown_text(alert.breakdown)}, missed its "
        f"{last.get('goal_label', 'goal')} in {last.get('label', alert.cycle)}:",
        _cycle_line(last, unit),
        "",
        "WHY YOU ARE RECEIVING THIS",
        f"Rule R10 ({RULES['R10']}).",
        "",
        "WHAT IS ASKED OF YOU AND WHEN",
        "Review the issue now, identify the contributory factors, and agree targeted "
        "support and improvement actions.",
        f"Follow-up is due at the end of the next {noun}, {follow}. If that {noun} also "
        f"misses the goal, the alert is escalated through governance under rule "
        f"{alert.facts.get('escalation_rule', 'R11')}.",
    ]
    return subject, "\n".join(lines)


def _milestone(alert: Alert, level: int) -> tuple[str, str]:
    f = alert.facts
    name = MILESTONES.get(str(f.get("milestone")), str(f.get("milestone")))
    lvl = _level(alert, level)
    to = f"To {_who(lvl)}." if lvl else "For the record."
    if f.get("routed_to"):
        to = f"To {f['routed_to']}, for {f.get('workstream')}."
    slipped = f.get("milestone_kind") == "slipped"
    what = "slipped" if slipped else "early warning"
    subject = f"Milestone {what}: {name}, case {f.get('case')} (due {_date(f.get('due'))})"
    state = (
        "has passed without the step being recorded"
        if slipped
        else "is close and the step has not been recorded yet"
    )
    lines = [
        to,
        "",
        "WHAT HAS HAPPENED",
        f"The statutory deadline for {name} for case {f.get('case')} (locality "
        f"{f.get('locality')}, age {f.get('age_band')}) {state}. The clock started on "
        f"{_date(f.get('start'))}; the step was due by {_date(f.get('due'))}; on "
        f"{_date(f.get('on'))} it was day {f.get('day')}.",
        f"Measure affected: {_kpi(alert)}. Accountable owner: {f.get('owner', 'not named')}.",
        "",
        "WHY YOU ARE RECEIVING THIS",
        f"Rule {alert.rule} ({RULES.get(alert.rule, '')}).",
        "",
        "WHAT IS ASKED",
        "Check the case today and rectify the delay; record the step in the case "
        "management system as soon as it is done. The case id is pseudonymous: look it "
        "up in the case management system.",
    ]
    return subject, "\n".join(lines)


def _overdue(alert: Alert, level: int) -> tuple[str, str]:
    f = alert.facts
    lvl = _level(alert, level)
    subject = (
        f"Overdue: {f.get('document', 'recovery plan')} for "
        f"{f.get('kpi_name', alert.kpi)} was due {_date(f.get('plan_due'))}"
    )
    lines = [
        (f"To {_who(lvl)}." if lvl else "For the record."),
        "",
        "WHAT HAS HAPPENED",
        f"{an(f.get('document'))} {f.get('document', 'recovery plan')} was required from "
        f"{f.get('asked_of', 'the accountable body')} on {_date(f.get('asked_on'))}, "
        f"under escalation alert {f.get('parent_id')} ({f.get('parent_rule')}: "
        f"{f.get('parent_title', '')}). It was due by {_date(f.get('plan_due'))} "
        f"({f.get('working_days')} working days, not counting weekends and bank holidays) "
        "and none has been recorded.",
        "",
        "WHY YOU ARE RECEIVING THIS",
        f"Rule R1 ({RULES['R1']}).",
        "",
        "WHAT IS ASKED",
        "Record the plan, with its actions, timescales and named owners, on the alert "
        f"page of {f.get('parent_id')}. Named accountable owner of the measure: "
        f"{f.get('owner', 'not named')}.",
    ]
    return subject, "\n".join(lines)


def _resolved(alert: Alert) -> tuple[str, str]:
    unit = str(alert.facts.get("unit", "percent"))
    rec = alert.facts.get("recovered")
    if alert.kind == "overdue":
        subject = f"Resolved: {alert.facts.get('document', 'recovery plan')} recorded"
        why = alert.resolution or "the plan has been recorded"
    elif rec:
        subject = (
            f"Resolved: {alert.facts.get('kpi_name', alert.kpi)} met its goal in {rec['label']}"
        )
        why = (
            f"in {rec['label']} the measure was {fmt_value(rec.get('value'), unit)} against "
            f"its {rec.get('goal_label')} of {fmt_value(rec.get('goal'), unit)}"
        )
    else:
        subject = f"Resolved: {alert.title}"
        why = alert.resolution or "the condition has cleared"
    lines = [
        f'The alert "{alert.title}" ({_kpi(alert)}, {breakdown_text(alert.breakdown)}) '
        f"has been resolved: {why}.",
        "",
        "Any escalation steps still pending have been cancelled. No further action is "
        "needed on this alert; if the measure misses its goal again, a new alert starts "
        "again from the first level.",
    ]
    return subject, "\n".join(lines)
