"""Recovery plan actions tracked to their due dates (Reform Plan R5: a joint recovery
plan with actions, timescales and named owners).

When a plan is recorded on an escalation, its actions are kept on the alert (numbered
from 1).  An action not marked done by the end of its due day raises an **action
overdue** alert (rule R5, kind ``overdue``) to the level the plan was asked of and,
unless the level says otherwise, the next one (the SRO and ICB Place leadership on the
health-dependency route); marking the action done resolves it.  When the escalation
resolves, its open action alerts resolve with it.  Each action alerts once per episode.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from services.alerts.domain.model import Alert, RecoveryPlan, start_of_day

if TYPE_CHECKING:
    from services.alerts.domain.escalation import Chain
    from services.alerts.domain.ledger import Ledger

ACTIONS = "recovery_actions"


class ActionNotFound(ValueError):
    pass


def fingerprint(parent_id: str, episode: int, n: int) -> str:
    return f"ACT|{parent_id}|{episode}|{n}"


def track(led: Ledger, a: Alert, plan: RecoveryPlan) -> None:
    """Keep the plan's actions on the escalation, to be followed to their due dates."""
    a.facts = {
        **a.facts,
        ACTIONS: [
            {
                "n": n,
                "action": x.action,
                "owner": x.owner,
                "due": x.due.isoformat(),
                "done_on": None,
                "done_by": None,
                "overdue_alert": None,
            }
            for n, x in enumerate(plan.actions, start=1)
        ],
    }
    led.touch(a)


def actions_of(a: Alert) -> list[dict[str, Any]]:
    found = a.facts.get(ACTIONS)
    return [dict(x) for x in found] if isinstance(found, list) else []


def _overdue_from(x: dict[str, Any]) -> datetime:
    return start_of_day(date.fromisoformat(str(x["due"])) + timedelta(days=1))


def next_due(a: Alert) -> datetime | None:
    """When the next action of an open escalation becomes overdue (None: none pending)."""
    if a.kind != "escalation" or not a.is_open or a.historical:
        return None
    times = [
        _overdue_from(x)
        for x in actions_of(a)
        if x.get("done_on") is None and x.get("overdue_alert") is None
    ]
    return min(times) if times else None


def check(chain: Chain, a: Alert) -> None:
    """Raise the alerts of actions now overdue; resolve those of a closed escalation."""
    led = chain.ledger
    actions = actions_of(a)
    if not actions or a.kind != "escalation":
        return
    if not a.is_open:
        for x in actions:
            child = led.get(str(x["overdue_alert"])) if x.get("overdue_alert") else None
            if child is not None and child.is_open:
                chain.resolve(child, "the escalation the action belongs to has resolved")
        return
    if a.historical:
        return
    changed = False
    for x in actions:
        if x.get("done_on") is not None or x.get("overdue_alert") is not None:
            continue
        if _overdue_from(x) > led.now:
            continue
        child = _raise(chain, a, x)
        x["overdue_alert"] = child.id
        changed = True
    if changed:
        a.facts = {**a.facts, ACTIONS: actions}
        led.touch(a)


def _raise(chain: Chain, parent: Alert, x: dict[str, Any]) -> Alert:
    led = chain.ledger
    fp = fingerprint(parent.id, parent.episode, int(x["n"]))
    level = parent.plan_level or 1
    child = led.raise_overdue(
        parent,
        fp,
        parent.rule,
        f"Recovery action {x['n']} overdue: {x['action']} ({x['owner']})",
        level,
        action=x["action"],
        action_number=x["n"],
        action_owner=x["owner"],
        action_due=x["due"],
    )
    led.log(
        parent,
        "action_overdue",
        f"Recovery action {x['n']} ({x['action']}, owner {x['owner']}) was due by "
        f"{x['due']} and is not done: overdue alert {child.id} raised.",
        detail={"action": x["n"], "overdue_alert": child.id},
    )
    chain.deliver(child)
    return child


def complete(chain: Chain, aid: str, n: int, actor: str) -> Alert:
    """Mark action ``n`` of an escalation done (an action-overdue alert: its own action);
    its overdue alert, if any, resolves."""
    led = chain.ledger
    a = led.get(aid)
    if a is not None and a.kind == "overdue" and a.parent_id and "action_number" in a.facts:
        n = int(a.facts["action_number"])
        a = led.get(a.parent_id)
    if a is None:
        raise ActionNotFound(aid)
    actions = actions_of(a)
    found = next((x for x in actions if x["n"] == n), None)
    if found is None:
        raise ActionNotFound(f"{aid} has no recovery action {n}")
    if found.get("done_on") is None:
        found["done_on"] = led.now.date().isoformat()
        found["done_by"] = actor[:200]
        a.facts = {**a.facts, ACTIONS: actions}
        led.touch(a)
        led.log(
            a,
            "action_done",
            f"Recovery action {n} ({found['action']}) marked done by {actor}.",
            actor=actor,
            detail={"action": n},
        )
        child = led.get(str(found["overdue_alert"])) if found.get("overdue_alert") else None
        if child is not None and child.is_open:
            chain.resolve(child, f"recovery action {n} was marked done by {actor}")
    return a


def text(alert: Alert, to: str) -> tuple[str, str]:
    """Subject and body of an action-overdue notification."""
    f = alert.facts
    subject = (
        f"Overdue: recovery action {f.get('action_number')} for {f.get('kpi_name', alert.kpi)}"
        f" was due {f.get('action_due')}"
    )
    lines = [
        f"To {to}.",
        "",
        "WHAT HAS HAPPENED",
        f"Action {f.get('action_number')} of the {f.get('document') or 'recovery plan'} under "
        f"escalation alert {f.get('parent_id')} ({f.get('parent_rule')}: "
        f"{f.get('parent_title', '')}) was due by {f.get('action_due')} and has not been "
        "marked done.",
        f"Action: {f.get('action')}",
        f"Named owner: {f.get('action_owner')}",
        "",
        "WHY YOU ARE RECEIVING THIS",
        "Rule R5: the joint recovery plan's actions are tracked to their due dates, and an "
        "overdue action alerts the SRO and ICB Place leadership.",
        "",
        "WHAT IS ASKED",
        "Complete the action, or agree a revised date and record it in the plan; mark the "
        f"action done on the alert page of {f.get('parent_id')}.",
    ]
    return subject, "\n".join(lines)
