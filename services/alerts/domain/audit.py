"""The sentences of the audit trail (what happened to an alert, in order), kept apart
from the rules that decide so the rules read as rules.  Notification text is in
``messages.py``."""

from __future__ import annotations

from datetime import date, datetime

from contracts.escalation import Level, Policy, Recipient
from services.alerts.domain.model import Alert, CycleResult, Notice, RecoveryPlan, Silence
from services.alerts.domain.wording import an, fmt_goal, fmt_value

# --- raising and re-evaluating ---------------------------------------------------------


def opened(a: Alert) -> str:
    return f"Alert raised under rule {a.rule}: {a.title}."


def retriggered(a: Alert) -> str:
    return (
        f"Alert raised again under rule {a.rule} (episode {a.episode}; the escalation "
        f"starts again from the first level): {a.title}."
    )


def historical(horizon_days: int) -> str:
    return (
        f"Historical: the cycle closed more than {horizon_days} days before now, so nobody "
        "is notified."
    )


def against(r: CycleResult) -> str:
    """'45.0% against the standard of 90.0%'."""
    return (
        f"{fmt_value(r.value, r.unit)} against the {r.goal_label} of "
        f"{fmt_goal(r.goal, r.unit, r.direction)}"
    )


def met_goal(label: str, r: CycleResult) -> str:
    return f"{label} met the goal ({against(r)})"


def cycle_missed(label: str, r: CycleResult, restated: bool) -> str:
    what = (
        f"re-evaluated after a late event restated a closed cycle (revision {r.revision})"
        if restated
        else "closed"
    )
    return f"{label} {what}: {against(r)}; still missed."


LIVE = "A cycle within the horizon is also missed: the alert is live."


def superseded(esc: Alert) -> str:
    return (
        f"The follow-up cycle also missed the goal: escalated under rule {esc.rule} as "
        f"alert {esc.id}."
    )


def supersession(esc: Alert) -> str:
    return f"escalated under rule {esc.rule} as alert {esc.id}"


# --- the chain -------------------------------------------------------------------------


def first_level(policy: Policy, with_previous: list[int]) -> str:
    also = "".join(
        f" {policy.levels[n - 1].body} (level {n}) is notified at the same time."
        for n in with_previous
    )
    return f"Escalation level 1 of {len(policy.levels)}: {policy.levels[0].body}.{also}"


def level_after_delay(policy: Policy, level: int) -> str:
    prev, nxt = policy.levels[level - 2], policy.levels[level - 1]
    return (
        f"Escalation level {level} of {len(policy.levels)}: {nxt.body} (nobody acknowledged "
        f"within {prev.escalate_after_days:g} days of notifying {prev.body})."
    )


def level_still_missed(policy: Policy, level: int, by: str, on: date, labels: list[str]) -> str:
    return (
        f"Escalation level {level} of {len(policy.levels)}: {policy.levels[level - 1].body} "
        f"(acknowledged by {by} on {on.isoformat()}, but still missed in "
        f"{' and '.join(labels)}: the chain moves on)."
    )


def ack_expired(policy: Policy, level: int, by: str, on: date, days: float, last: bool) -> str:
    where = (
        f"it reopens at {policy.levels[level - 1].body}"
        if last
        else (f"escalation level {level} of {len(policy.levels)}: {policy.levels[level - 1].body}")
    )
    return (
        f"Acknowledged by {by} on {on.isoformat()}, but no recovery plan within {days:g} "
        f"days (the acknowledgement timeout): {where}."
    )


def watching(nxt: Level, after: int, noun: str) -> str:
    cycles = f"the next closed {noun}" if after == 1 else f"{after} more closed {noun}s"
    return f"If {cycles} also misses the goal, the alert goes on to {nxt.body}."


UNMUTED = "The silence has ended: notifications resume."


def no_recipients(a: Alert) -> str:
    return "Recorded only: no address is configured for " + (
        f"the owner {a.facts.get('owner')!r}." if a.kind == "deterioration" else "this level."
    )


def muted(r: Recipient, s: Silence) -> str:
    return (
        f"Notification to {r.address} muted by silence {s.id} until {s.until.isoformat()} "
        f"({s.reason})."
    )


def resolved_muted(r: Recipient, s: Silence) -> str:
    return f"Resolved notice to {r.address} muted by silence {s.id}."


def plan_due(a: Alert, level: Level, working_days: int, asked_on: date) -> str:
    assert a.plan_due is not None
    return (
        f"{an(a.plan_document)} {a.plan_document} is required from {level.body}, due by "
        f"{a.plan_due.isoformat()} ({working_days} working days from {asked_on.isoformat()}, "
        "bank holidays excluded)."
    )


def queued(r: Recipient, notice: Notice) -> str:
    what = "Resolved notice" if notice == "resolved" else "Notification"
    return f"{what} queued for {r.address} by {r.channel}."


def plan_overdue(a: Alert, child: Alert) -> str:
    assert a.plan_due is not None
    return (
        f"The {a.plan_document} due by {a.plan_due.isoformat()} has not been recorded: "
        f"overdue alert {child.id} raised (rule R1)."
    )


# --- resolution and people's actions ---------------------------------------------------


def resolved(reason: str) -> str:
    return f"Resolved: {reason}."


def pending_cancelled(body: str, due: datetime) -> str:
    return f"Pending escalation to {body} (due {due.isoformat()}) cancelled."


def plan_cancelled(a: Alert) -> str:
    return f"The {a.plan_document} is no longer required."


def parent_resolved(a: Alert) -> str:
    return f"the escalation alert {a.id} has resolved"


def acknowledged(actor: str, note: str | None) -> str:
    return f"Acknowledged by {actor}" + (f": {note}" if note else ".")


def chain_stops(body: str, due: datetime) -> str:
    return f"The escalation chain stops: {body} will not be notified (was due {due.isoformat()})."


def plan_recorded(a: Alert, plan: RecoveryPlan, late_days: int | None) -> str:
    late = f" ({late_days} days after it was due)" if late_days else ""
    return (
        f"{(a.plan_document or 'Recovery plan').capitalize()} recorded by "
        f"{plan.recorded_by}{late}: {plan.summary} ({len(plan.actions)} actions)."
    )


def plan_arrived(a: Alert, plan: RecoveryPlan) -> str:
    return f"the {a.plan_document or 'recovery plan'} was recorded by {plan.recorded_by}"


def silence_created(s: Silence) -> str:
    scope = " / ".join(x for x in (s.kpi, s.breakdown) if x)
    return f"Silence {s.id} on {scope} until {s.until.isoformat()} by {s.created_by}: {s.reason}"
