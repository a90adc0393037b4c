"""People's actions on alerts: acknowledging, recording a recovery plan, creating a
silence.  Each works through the decision's ``Ledger`` like the rules do."""

from __future__ import annotations

from contracts import cycles
from services.alerts.domain import audit, persisting, recovery_actions
from services.alerts.domain.escalation import Chain
from services.alerts.domain.ids import alert_id, overdue_fingerprint
from services.alerts.domain.ledger import Ledger
from services.alerts.domain.model import Alert, AuditEntry, RecoveryPlan, Silence, local_date


class AlertNotFound(LookupError):
    pass


class Conflict(ValueError):
    """The action does not apply to the alert in its current state."""


def acknowledge(led: Ledger, aid: str, actor: str, note: str | None = None) -> Alert:
    """Acknowledging stops the time-based chain.  Where the level says
    ``escalate_if_still_missed_after``, further missed cycles still move it on."""
    a = led.get(aid)
    if a is None:
        raise AlertNotFound(aid)
    if a.status == "acknowledged":
        raise Conflict(f"already acknowledged by {a.acked_by} at {a.acked_at}")
    if not a.is_open:
        raise Conflict(f"the alert is {a.status}")
    pending = a.next_escalation_at()
    a.status = "acknowledged"
    a.acked_by = actor
    a.acked_at = led.now
    a.ack_note = note
    if a.kind == "escalation":
        a.facts = {**a.facts, "acked_cycle": a.cycle, "missed_since_ack": []}
    led.touch(a)
    led.log(a, "acknowledged", audit.acknowledged(actor, note), actor=actor, level=a.level)
    if a.policy is None or not 1 <= a.level < len(a.policy.levels):
        return a
    nxt = a.policy.levels[a.level]
    if pending is not None:
        led.log(
            a,
            "escalation_cancelled",
            audit.chain_stops(nxt.body, pending),
            actor=actor,
            level=a.level + 1,
        )
    after = a.policy.levels[a.level - 1].escalate_if_still_missed_after
    if a.kind == "escalation" and after is not None:
        noun = cycles.noun(a.cycle_kind)
        onto = persisting.next_level(a, a.level + 1)  # the next level not yet told
        watched = a.policy.levels[onto - 1]
        led.log(a, "escalation_watch", audit.watching(watched, after, noun), level=onto)
    return a


def record_plan(led: Ledger, chain: Chain, aid: str, plan: RecoveryPlan) -> Alert:
    """Record the plan on the escalation (an overdue alert's plan goes to its parent);
    an open overdue alert resolves."""
    a = led.get(aid)
    if a is None:
        raise AlertNotFound(aid)
    if a.kind == "overdue" and a.parent_id:
        parent = led.get(a.parent_id)
        if parent is None:
            raise AlertNotFound(a.parent_id)
        a = parent
    if not a.is_open:
        raise Conflict(f"the alert is {a.status}")
    a.plan_recorded_at = led.now
    led.touch(a)
    today = local_date(led.now)
    late = (today - a.plan_due).days if a.plan_due is not None and today > a.plan_due else None
    led.log(
        a,
        "plan_recorded",
        audit.plan_recorded(a, plan, late),
        actor=plan.recorded_by,
        detail={
            "summary": plan.summary,
            "actions": [
                {"action": x.action, "owner": x.owner, "due": x.due.isoformat()}
                for x in plan.actions
            ],
        },
    )
    recovery_actions.track(led, a, plan)
    child = led.get(alert_id(overdue_fingerprint(a.id, a.episode)))
    if child is not None and child.is_open:
        chain.resolve(child, audit.plan_arrived(a, plan))
    return a


def silence_created(led: Ledger, s: Silence) -> None:
    led.audit.append(
        AuditEntry(
            alert_id=None,
            episode=None,
            at=led.now,
            kind="silence_created",
            message=audit.silence_created(s),
            actor=s.created_by,
            detail={"silence": s.id, "kpi": s.kpi, "breakdown": s.breakdown},
        )
    )
