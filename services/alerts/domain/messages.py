"""Notification text in plain English for board members and officers: which measure,
which cycle and breakdown, the value against the standard and the trajectory target,
why it escalated (rule id and the cycles' values), who is accountable, what is due by
when, and the link to the alert.  Also which notifications go out together as one
digest, and its wording."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, TypeVar

from contracts.cycles import human_date, human_day
from contracts.escalation import Level
from services.alerts.domain import capacity_messages as capacity
from services.alerts.domain import persisting, recovery_actions
from services.alerts.domain.model import Alert, Notice, local_date
from services.alerts.domain.wording import (
    MILESTONES,
    RULES,
    an,
    breakdown_text,
    cycle_line,
    day_text,
    fmt_value,
    goal_text,
    who,
    wrap,
)


@dataclass(frozen=True)
class Rendered:
    subject: str
    body: str
    payload: dict[str, Any]


def _unit(alert: Alert) -> tuple[str, str]:
    return str(alert.facts.get("unit", "percent")), str(alert.facts.get("direction", "higher"))


def _level(alert: Alert, level: int) -> Level | None:
    if alert.policy is None or not 1 <= level <= len(alert.policy.levels):
        return None
    return alert.policy.levels[level - 1]


def render(alert: Alert, notice: Notice, level: int, now: datetime, base_url: str) -> Rendered:
    """Subject, plain-text body and webhook payload of one notification."""
    link = f"{base_url.rstrip('/')}/alerts/{alert.id}"
    if notice == "resolved":
        subject, body = _resolved(alert)
    elif alert.kind == "escalation":
        subject, body = _escalation(alert, level)
    elif alert.kind == "deterioration":
        subject, body = _deterioration(alert)
    elif alert.kind == "milestone" and alert.rule in capacity.RULES:
        subject, body = capacity.render(alert)  # placements and sufficiency
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
    body = wrap(body) + "\n" + wrap(footer) + "\n"
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
    unit, direction = _unit(alert)
    cycles = alert.facts.get("cycles", [])
    noun = alert.facts.get("cycle_noun", "cycle")
    lvl = _level(alert, level)
    assert alert.policy is not None and lvl is not None
    levels = alert.policy.levels
    n_levels = len(levels)
    values = "; ".join(
        f"{c['label']}: {fmt_value(c.get('value'), unit)} against the {c.get('goal_label')} "
        f"of {goal_text(c, unit, direction)}"
        for c in cycles[-2:]
    )
    with_previous = level > alert.level  # notified together with the current level
    on_miss: dict[str, Any] = alert.facts.get("escalated_on_miss") or {}
    still = not with_previous and on_miss.get("level") == level
    expired: dict[str, Any] = alert.facts.get("ack_expired") or {}
    timed_out = not with_previous and not still and expired.get("level") == level
    name = alert.facts.get("kpi_name", alert.kpi)
    subject = f"Escalation to {lvl.body}: {name} " + (
        "still missed after acknowledgement"
        if still
        else "no recovery plan after acknowledgement"
        if timed_out
        else f"missed two {noun}s running"
    )
    lines = [
        f"This is an escalation from sendwatch, the SEND partnership's performance "
        f"monitor, to {who(lvl)}.",
        "",
        "WHAT HAS HAPPENED",
        f"{_kpi(alert)}, for {breakdown_text(alert.breakdown)}, has missed its goal in "
        f"two consecutive {noun}s:",
        *(cycle_line(c, unit, direction) for c in cycles),
        "",
        "WHY IT HAS COME TO YOU",
        f"Rule {alert.rule} ({RULES.get(alert.rule, '')}): the goal was missed in two "
        f"consecutive closed {noun}s ({values}).",
        f"This is level {level} of {n_levels} of the {alert.policy.title}.",
    ]
    if with_previous:
        first = levels[alert.level - 1]
        lines.append(
            f"It comes to you at the same time as {first.body}: this route notifies "
            f"{lvl.body} as soon as the escalation starts, not only if nobody acknowledges."
        )
    elif still:
        lines.append(
            f"Acknowledged by {on_miss.get('acked_by')} on {day_text(on_miss.get('acked_on'))}, "
            f"still missed in {' and '.join(on_miss.get('cycles', []))}: escalated to "
            f"{lvl.body}."
        )
    elif timed_out:
        lines.append(
            f"Acknowledged by {expired.get('acked_by')} on "
            f"{day_text(expired.get('acked_on'))}, but no recovery plan was recorded within "
            f"{expired.get('days'):g} days of the acknowledgement: escalated to {lvl.body}."
        )
    elif level > 1:
        prev = levels[level - 2]
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
        asked = _level(alert, alert.plan_level or 0)
        lines.append(
            f"{an(alert.plan_document)} {alert.plan_document} is due"
            + (f" from {asked.body}" if asked else "")
            + f" by {human_day(alert.plan_due)}"
            + (" and has been recorded." if alert.plan_recorded_at else ".")
        )
    nxt = alert.next_escalation_at()
    if level == n_levels:
        lines.append("This is the last level of the escalation route.")
    elif not with_previous:
        if nxt is not None:
            lines.append(
                f"If nobody acknowledges this alert by {human_date(local_date(nxt))}, it "
                f"goes to {levels[level].body}."
            )
        after = lvl.escalate_if_still_missed_after
        if after is not None:
            more = (
                f"the next closed {noun} also misses"
                if after == 1
                else (f"{after} more closed {noun}s also miss")
            )
            lines.append(
                f"If it is acknowledged but {more} the goal, it goes on to "
                f"{levels[persisting.next_level(alert, level + 1) - 1].body}."
            )
    return subject, "\n".join(lines)


def _deterioration(alert: Alert) -> tuple[str, str]:
    unit, direction = _unit(alert)
    cycles = alert.facts.get("cycles", [])
    last = cycles[-1] if cycles else {}
    noun = alert.facts.get("cycle_noun", "cycle")
    subject = (
        f"Deterioration: {alert.facts.get('kpi_name', alert.kpi)} missed its goal in "
        f"{last.get('label', alert.cycle)} ({fmt_value(last.get('value'), unit)} against "
        f"{goal_text(last, unit, direction)})"
    )
    follow = human_date(alert.follow_up_due) if alert.follow_up_due else "the next cycle"
    lines = [
        f"To the named accountable owner, {alert.facts.get('owner', 'not named')}.",
        "",
        "WHAT HAS HAPPENED",
        f"{_kpi(alert)}, for {breakdown_text(alert.breakdown)}, missed its "
        f"{last.get('goal_label', 'goal')} in {last.get('label', alert.cycle)}:",
        cycle_line(last, unit, direction),
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
    to = f"To {who(lvl)}." if lvl else "For the record."
    if f.get("routed_to"):
        to = f"To {f['routed_to']}, for {f.get('workstream')}."
    slipped = f.get("milestone_kind") == "slipped"
    what = "slipped" if slipped else "early warning"
    subject = f"Milestone {what}: {name}, case {f.get('case')} (due {day_text(f.get('due'))})"
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
        f"{day_text(f.get('start'))}; the step was due by {day_text(f.get('due'))}; on "
        f"{day_text(f.get('on'))} it was day {f.get('day')}.",
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
    if "action_number" in f:  # a recovery plan action past its due date (R5)
        return recovery_actions.text(alert, who(lvl) if lvl else "the record")
    subject = (
        f"Overdue: {f.get('document', 'recovery plan')} for "
        f"{f.get('kpi_name', alert.kpi)} was due {day_text(f.get('plan_due'))}"
    )
    lines = [
        (f"To {who(lvl)}." if lvl else "For the record."),
        "",
        "WHAT HAS HAPPENED",
        f"{an(f.get('document'))} {f.get('document', 'recovery plan')} was required from "
        f"{f.get('asked_of', 'the accountable body')} on {day_text(f.get('asked_on'))}, "
        f"under escalation alert {f.get('parent_id')} ({f.get('parent_rule')}: "
        f"{f.get('parent_title', '')}). It was due by {day_text(f.get('plan_due'))} "
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
    unit, direction = _unit(alert)
    rec = alert.facts.get("recovered")
    if alert.kind == "overdue" and "action_number" in alert.facts:
        subject = f"Resolved: {alert.title}"
        why = alert.resolution or "the action has been done"
    elif alert.kind == "overdue":
        subject = f"Resolved: {alert.facts.get('document', 'recovery plan')} recorded"
        why = alert.resolution or "the plan has been recorded"
    elif rec:
        subject = (
            f"Resolved: {alert.facts.get('kpi_name', alert.kpi)} met its goal in {rec['label']}"
        )
        why = (
            f"in {rec['label']} the measure was {fmt_value(rec.get('value'), unit)} against "
            f"its {rec.get('goal_label')} of {goal_text(rec, unit, direction)}"
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


# --- digests -------------------------------------------------------------------------


class Addressed(Protocol):
    @property
    def channel(self) -> str: ...

    @property
    def recipient(self) -> str: ...


Q = TypeVar("Q", bound=Addressed)

DIGEST_RULES = frozenset({"MS1", "MS2"})  # case-level milestone notices


def split_digests(
    rows: Sequence[Q], rule_of: Callable[[Q], str | None]
) -> tuple[list[Q], list[list[Q]]]:
    """Case-level milestone emails due at the same time for the same recipient go out as
    one digest (a clock tick can slip dozens of cases at once); everything else, and a
    lone milestone email, goes out on its own."""
    groups: dict[str, list[Q]] = {}
    single: list[Q] = []
    for row in rows:
        if row.channel == "email" and rule_of(row) in DIGEST_RULES:
            groups.setdefault(row.recipient, []).append(row)
        else:
            single.append(row)
    digests = []
    for group in groups.values():
        if len(group) == 1:
            single.append(group[0])
        else:
            digests.append(group)
    return single, digests


def digest(notices: Sequence[tuple[str, str]]) -> Rendered:
    """One email listing several milestone notices, each (subject, body) in full."""
    lines = [
        f"{len(notices)} case milestones have passed their statutory deadline without being "
        "completed. Each is listed below in full.",
        "",
        *[f"- {subject.removeprefix('[sendwatch MS1] ')}" for subject, _ in notices],
        "",
    ]
    for _, body in notices:
        lines += ["-" * 72, body, ""]
    subject = f"[sendwatch MS1] {len(notices)} statutory milestones slipped"
    return Rendered(subject, "\n".join(lines), {})
