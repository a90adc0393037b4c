"""The escalation chain of an alert, as an object the rules call.

A policy is an ordered list of levels.  ``start`` notifies level 1 (and any later level
marked ``notify_with_previous``, in the same step); ``advance`` moves an unacknowledged
alert on when its level's delay has passed, resumes notifications when a silence ends
and raises the overdue alert (R1) when a recovery plan is late; ``still_missed`` moves
an acknowledged alert on when its series keeps missing (the level's
``escalate_if_still_missed_after``); ``resolve`` cancels what is pending and tells
everyone notified.  Each level notifies a recipient at most once per episode.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from contracts.escalation import Recipient
from services.alerts.domain import audit, delivery, persisting, recovery_actions
from services.alerts.domain.ids import alert_id, overdue_fingerprint
from services.alerts.domain.ledger import Ledger
from services.alerts.domain.messages import render
from services.alerts.domain.model import Alert, Notice, Notification, Sent, local_date
from services.alerts.domain.workdays import add_working_days


@dataclass
class Chain:
    ledger: Ledger

    def start(self, a: Alert) -> None:
        assert a.policy is not None
        a.level = 1
        a.level_at = self.ledger.now
        self.ledger.touch(a)
        self.ledger.log(a, "level", audit.first_level(a.policy, self._with(a)), level=1)
        self.deliver(a)

    def advance(self, alert_ids: Iterable[str] = ()) -> None:
        """Re-evaluate pending steps: escalations due, muted notifications whose silence
        has ended, recovery plans now overdue."""
        led = self.ledger
        for aid in sorted(set(alert_ids) | led.open_ids()):
            a = led.get(aid)
            if a is None or not a.is_open or a.historical:
                continue
            if a.level_muted and a.status == "open" and led.silence_for(a) is None:
                led.log(a, "unmuted", audit.UNMUTED)
                a.level_at = led.now
                led.touch(a)
                self.deliver(a)
            while (due := a.next_escalation_at()) is not None and due <= led.now:
                assert a.policy is not None
                a.level += 1
                a.level_at = due
                led.touch(a)
                led.log(a, "level", audit.level_after_delay(a.policy, a.level), level=a.level)
                self.deliver(a)
            expires = a.ack_expires_at()
            if expires is not None and expires <= led.now:
                self.ack_expired(a, expires)
            overdue = a.plan_overdue_from()
            if overdue is not None and overdue <= led.now:
                self.raise_overdue(a)
            recovery_actions.check(self, a)  # R5: the plan's actions to their due dates

    def still_missed(self, a: Alert, cycle: str, label: str) -> None:
        """An acknowledged escalation whose series misses again: after the level's
        ``escalate_if_still_missed_after`` further closed cycles, the chain moves on to
        the next level (an acknowledgement does not silence a problem that persists)."""
        if a.kind != "escalation" or a.status != "acknowledged" or a.historical:
            return
        if a.policy is None or not 1 <= a.level < len(a.policy.levels):
            return
        after = a.policy.levels[a.level - 1].escalate_if_still_missed_after
        if after is None or cycle == a.facts.get("acked_cycle"):
            return
        seen: list[dict[str, Any]] = list(a.facts.get("missed_since_ack", []))
        missed = [c for c in seen if c.get("cycle") != cycle] + [{"cycle": cycle, "label": label}]
        a.facts = {**a.facts, "missed_since_ack": missed}
        self.ledger.touch(a)
        if len(missed) < after:
            return
        by, at = a.acked_by or "someone", a.acked_at or self.ledger.now
        labels = [str(c["label"]) for c in missed]
        a.status, a.acked_by, a.acked_at, a.ack_note = "open", None, None, None
        a.level = persisting.next_level(a, a.level + 1)  # past levels already told
        a.level_at = self.ledger.now
        a.facts = {
            **a.facts,
            "missed_since_ack": [],
            "escalated_on_miss": {
                "level": a.level,
                "acked_by": by,
                "acked_on": local_date(at).isoformat(),
                "cycles": labels,
            },
        }
        msg = audit.level_still_missed(a.policy, a.level, by, local_date(at), labels)
        self.ledger.log(a, "level", msg, level=a.level)
        self.deliver(a)

    def ack_expired(self, a: Alert, expired: datetime) -> None:
        """The acknowledgement timeout: acknowledged, but no recovery plan by the time
        the level allows; the alert reopens and moves on to the next level not yet told
        (at the last level it reopens there)."""
        assert a.policy is not None and a.acked_at is not None
        by, at = a.acked_by or "someone", a.acked_at
        days = a.policy.levels[a.level - 1].ack_timeout_days
        a.status, a.acked_by, a.acked_at, a.ack_note = "open", None, None, None
        last = a.level >= len(a.policy.levels)
        if not last:
            a.level = persisting.next_level(a, a.level + 1)
        a.level_at = expired
        a.facts = {
            **a.facts,
            "missed_since_ack": [],
            "ack_expired": {
                "level": a.level,
                "acked_by": by,
                "acked_on": local_date(at).isoformat(),
                "days": days,
                "expired_on": local_date(expired).isoformat(),
            },
        }
        self.ledger.touch(a)
        msg = audit.ack_expired(a.policy, a.level, by, local_date(at), days or 0, last)
        self.ledger.log(a, "ack_expired", msg, level=a.level)
        if not last:
            self.deliver(a)

    def _with(self, a: Alert) -> list[int]:
        """The later levels notified together with the alert's current level."""
        if a.kind != "escalation" or a.policy is None:
            return []
        levels, out, n = a.policy.levels, [], a.level
        while n < len(levels) and levels[n].notify_with_previous:
            n += 1
            out.append(n)
        return out

    def recipients(self, a: Alert) -> list[tuple[int, Recipient]]:
        config = self.ledger.config
        if a.kind == "deterioration":
            return [(0, r) for r in config.owners.get(str(a.facts.get("owner")), [])]
        if a.kind == "milestone":
            owners = config.milestones.workstream_owners.get(str(a.facts.get("workstream")))
            if owners:
                return [(1, r) for r in owners]
        if a.policy is None or a.level < 1:
            return []
        levels = a.policy.levels
        out = [(a.level, r) for r in levels[a.level - 1].recipients]
        for n in self._with(a):
            out += [(n, r) for r in levels[n - 1].recipients]
        if a.kind == "overdue" and a.level < len(levels):
            rule = levels[a.level - 1].requires_recovery_plan
            if rule is None or rule.notify_next_level_when_overdue:
                out += [(a.level + 1, r) for r in levels[a.level].recipients]
        return out

    def deliver(self, a: Alert) -> None:
        """Notify the recipients of the alert's current level (once each per episode),
        unless a silence mutes them: then the level waits for the silence to end."""
        led = self.ledger
        recipients = self.recipients(a)
        if not recipients:
            led.log(a, "no_recipients", audit.no_recipients(a))
            return
        silence = led.silence_for(a)
        if silence is not None:
            a.level_muted = True
            led.touch(a)
            for level, r in recipients:
                led.log(
                    a,
                    "notification_muted",
                    audit.muted(r, silence),
                    channel=r.channel,
                    recipient=r.address,
                    outcome="muted",
                    level=level,
                    detail={"silence": silence.id},
                )
            return
        a.level_muted = False
        if a.kind == "escalation":
            self.require_plan(a)
        self.send(a, recipients, "alert")

    def require_plan(self, a: Alert) -> None:
        assert a.policy is not None
        level = a.policy.levels[a.level - 1]
        rule = level.requires_recovery_plan
        if rule is None or a.plan_due is not None or a.plan_recorded_at is not None:
            return
        asked_on = local_date(a.level_at or self.ledger.now)
        a.plan_due = add_working_days(asked_on, rule.working_days)
        a.plan_asked_on = asked_on
        a.plan_level = a.level
        a.plan_document = rule.document
        self.ledger.touch(a)
        self.ledger.log(
            a,
            "plan_due",
            audit.plan_due(a, level, rule.working_days, asked_on),
            level=a.level,
            detail={"due": a.plan_due.isoformat(), "working_days": rule.working_days},
        )

    def send(self, a: Alert, recipients: list[tuple[int, Recipient]], notice: Notice) -> None:
        led = self.ledger
        for level, r in recipients:
            sent = Sent(level, r.channel, r.address, notice)
            if sent in a.notified:
                continue  # each level notifies a recipient at most once per episode
            text = render(a, notice, level, led.now, led.base_url)
            levels = a.policy.levels if a.policy is not None else []
            until, why = delivery.hold(
                led.config.delivery,
                address=r.address,
                rule=a.rule,
                kpi=a.kpi,
                body=levels[level - 1].body if 1 <= level <= len(levels) else None,
                at=led.now,
            )
            led.outbox.append(
                Notification(
                    alert_id=a.id,
                    episode=a.episode,
                    level=level,
                    notice=notice,
                    channel=r.channel,
                    recipient=r.address,
                    subject=text.subject,
                    body=text.body,
                    payload=text.payload,
                    decided_at=led.now,
                    hold_until=until,
                    hold_reason=why,
                )
            )
            a.notified.append(sent)
            led.touch(a)
            led.log(
                a,
                "notification_queued",
                audit.queued(r, notice),
                channel=r.channel,
                recipient=r.address,
                outcome="queued",
                level=level,
            )

    def raise_overdue(self, parent: Alert) -> None:
        assert parent.policy is not None and parent.plan_level is not None
        assert parent.plan_due is not None
        led = self.ledger
        parent.plan_overdue_at = led.now
        led.touch(parent)
        level = parent.policy.levels[parent.plan_level - 1]
        rule = level.requires_recovery_plan
        fp = overdue_fingerprint(parent.id, parent.episode)
        child = led.raise_overdue(
            parent,
            fp,
            "R1",
            f"{parent.plan_document} overdue: {parent.facts.get('kpi_name')}",
            parent.plan_level or 1,
            plan_due=parent.plan_due.isoformat(),
            working_days=rule.working_days if rule else None,
            asked_of=level.body,
            asked_on=parent.plan_asked_on.isoformat() if parent.plan_asked_on else None,
        )
        led.log(
            parent,
            "plan_overdue",
            audit.plan_overdue(parent, child),
            detail={"overdue_alert": child.id},
        )
        self.deliver(child)

    def resolve(self, a: Alert, reason: str) -> None:
        led = self.ledger
        pending = a.next_escalation_at()
        a.status = "resolved"
        a.resolved_at = led.now
        a.resolution = reason
        led.touch(a)
        led.log(a, "resolved", audit.resolved(reason))
        if pending is not None and a.policy is not None:
            led.log(
                a,
                "escalation_cancelled",
                audit.pending_cancelled(a.policy.levels[a.level].body, pending),
                level=a.level + 1,
            )
        if a.plan_due is not None and a.plan_recorded_at is None and a.plan_overdue_at is None:
            led.log(a, "plan_cancelled", audit.plan_cancelled(a))
        child = led.get(alert_id(overdue_fingerprint(a.id, a.episode)))
        if child is not None and child.is_open:
            self.resolve(child, audit.parent_resolved(a))
        recovery_actions.check(self, a)  # its open action alerts resolve with it
        if a.historical:
            return
        seen: set[tuple[str, str]] = set()
        recipients: list[tuple[int, Recipient]] = []
        for s in a.notified:
            if s.notice == "alert" and (s.channel, s.address) not in seen:
                seen.add((s.channel, s.address))
                r = Recipient(email=s.address) if s.channel == "email" else None
                recipients.append((0, r or Recipient(webhook=s.address)))
        if not recipients:
            return
        silence = led.silence_for(a)
        if silence is not None:
            for _, r in recipients:
                led.log(
                    a,
                    "notification_muted",
                    audit.resolved_muted(r, silence),
                    channel=r.channel,
                    recipient=r.address,
                    outcome="muted",
                    detail={"silence": silence.id},
                )
            return
        self.send(a, recipients, "resolved")
