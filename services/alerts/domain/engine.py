"""The alert rules and the escalation state machine, in event time.

One ``Engine`` is built per unit of work (a consumed batch, or an API action) with the
service's "now" (the latest event-time watermark seen), the configuration, the active
silences and a ``lookup`` for stored alerts.  Its inputs are closed KPI cycles,
milestone alerts, acknowledgements and recovery plans; ``advance`` re-evaluates pending
escalations and recovery-plan due dates.  Its outputs are the changed alerts, audit
entries and notifications, which the adapter writes in one transaction (the
notifications go to the transactional outbox).

Rules (each alert carries its rule id):

- R10: a closed cycle misses its goal (trajectory target, else standard) and the cycle
  before did not: deterioration alert to the named accountable owner, follow-up due at
  the end of the next cycle; never escalates.
- R11 / R5 (the KPI policy's ``rule``): two consecutive closed cycles miss: escalation
  alert, level 1 of the policy; each level that nobody acknowledges within its delay
  passes to the next.  The open R10 alert is superseded.
- Recovery: a closed cycle that meets its goal resolves the open R10 / R11 / R5 alert,
  cancels what was pending and sends a resolved notice to everyone notified.
- R1: a level with ``requires_recovery_plan`` sets a due date N working days later; if
  no plan is recorded by the end of that day, an overdue alert goes to that level (and
  the next).
- MS1 / MS2: milestone slipped / early warning from the statutory clocks: exception
  alert to level 1 of the KPI's policy (early warnings notify only if configured).

Escalation behaviour: acknowledging stops the chain; each level notifies at most once
per episode; a re-triggered alert starts a new episode at level 1; an open alert keeps
the policy (and version) it started with; silences mute notifications (and hold the
chain) until they end; alerts about cycles that closed before now - horizon are marked
historical and notify nobody.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from contracts import cycles
from contracts.escalation import EscalationConfig, Policy, Recipient
from contracts.kpi_dictionary import KpiDef, KpiDictionary
from services.alerts.domain.messages import an, fmt_value, render
from services.alerts.domain.model import (
    Alert,
    AlertKind,
    AuditEntry,
    CycleResult,
    MilestoneInput,
    Notice,
    Notification,
    RecoveryPlan,
    Sent,
    Silence,
    alert_id,
    local_date,
)
from services.alerts.domain.workdays import add_working_days


class AlertNotFound(LookupError):
    pass


class Conflict(ValueError):
    """The action does not apply to the alert in its current state."""


def series_fingerprint(family: str, kpi: str, cycle_kind: str, breakdown: str) -> str:
    return f"{family}|{kpi}|{cycle_kind}|{breakdown}"


def deterioration_id(kpi: str, cycle_kind: str, breakdown: str) -> str:
    return alert_id(series_fingerprint("R10", kpi, cycle_kind, breakdown))


def escalation_id(kpi: str, cycle_kind: str, breakdown: str) -> str:
    return alert_id(series_fingerprint("ESC", kpi, cycle_kind, breakdown))


def milestone_fingerprint(case: str, milestone: str, kind: str) -> str:
    return f"MS|{case}|{milestone}|{kind}"


def overdue_fingerprint(parent_id: str, episode: int) -> str:
    return f"R1|{parent_id}|{episode}"


@dataclass
class Engine:
    config: EscalationConfig
    dictionary: KpiDictionary
    now: datetime
    lookup: Callable[[str], Alert | None]
    silences: Sequence[Silence] = ()
    horizon_days: int = 14
    base_url: str = "http://127.0.0.1:8000"
    alerts: dict[str, Alert] = field(default_factory=dict)
    changed: set[str] = field(default_factory=set)
    audit: list[AuditEntry] = field(default_factory=list)
    outbox: list[Notification] = field(default_factory=list)
    fired: list[str] = field(default_factory=list)

    # --- access ----------------------------------------------------------------------

    def get(self, aid: str) -> Alert | None:
        if aid not in self.alerts:
            found = self.lookup(aid)
            if found is None:
                return None
            self.alerts[aid] = found
        return self.alerts[aid]

    def changed_alerts(self) -> list[Alert]:
        """The alerts to write, with their next check time brought up to date."""
        out = []
        for aid in sorted(self.changed):
            a = self.alerts[aid]
            a.next_check_at = self._next_check(a)
            out.append(a)
        return out

    def _touch(self, a: Alert) -> None:
        a.updated_at = self.now
        self.alerts[a.id] = a
        self.changed.add(a.id)

    def _log(self, a: Alert | None, kind: str, message: str, **kw: Any) -> None:
        self.audit.append(
            AuditEntry(
                alert_id=a.id if a else None,
                episode=a.episode if a else None,
                at=self.now,
                kind=kind,
                message=message,
                **kw,
            )
        )

    # --- inputs: closed cycles -------------------------------------------------------

    def closed_cycle(
        self, cur: CycleResult, prev: CycleResult | None, *, restated: bool = False
    ) -> None:
        """Apply the R10 / R11 / R5 / recovery rules to the latest closed cycle of a series
        (``prev`` is the cycle immediately before it, if it has a value)."""
        k = self.dictionary.kpis.get(cur.kpi)
        if k is None:
            return
        verdict = cur.verdict(k.direction, self.config.min_denominator)
        det = self.get(deterioration_id(cur.kpi, cur.cycle_kind, cur.breakdown))
        esc = self.get(escalation_id(cur.kpi, cur.cycle_kind, cur.breakdown))
        label = cycles.describe(cur.cycle, self.dictionary.plan_year_start_month)
        if verdict == "no_data":
            return
        if verdict == "met":
            for a in (esc, det):
                if a is not None and a.is_open:
                    a.facts = {**a.facts, "recovered": cur.fact(label)}
                    self._resolve(
                        a,
                        f"{label} met the goal ({fmt_value(cur.value, k.unit)} against the "
                        f"{cur.goal_label} of {fmt_value(cur.goal, k.unit)})",
                    )
            return
        hist = self._historical(cur)
        policy = self._policy(k)
        missed_before = (
            prev is not None and prev.verdict(k.direction, self.config.min_denominator) == "missed"
        )
        if missed_before and policy is not None and prev is not None:
            facts = self._series_facts(k, policy, [prev, cur])
            if esc is not None and esc.is_open:
                self._also_missed(esc, cur, facts, restated)
                if esc.historical and not hist:
                    self._go_live(esc)
            else:
                esc = self._raise(
                    series_fingerprint("ESC", cur.kpi, cur.cycle_kind, cur.breakdown),
                    lambda: self._new_series_alert(
                        "escalation", policy.rule, k, cur, facts, hist, policy
                    ),
                )
                if not hist:
                    self._start_chain(esc)
            if det is not None and det.is_open:
                self._supersede(det, esc)
            return
        facts = self._series_facts(k, policy, [cur])
        for a in (esc, det):
            if a is not None and a.is_open:
                kept = [c for c in a.facts.get("cycles", []) if c.get("cycle") != cur.cycle]
                if a.kind == "escalation":  # keep the two latest missed cycles
                    facts["cycles"] = (kept + facts["cycles"])[-2:]
                self._also_missed(a, cur, {**a.facts, "cycles": facts["cycles"]}, restated)
                if a.historical and not hist:
                    self._go_live(a)
                return
        det = self._raise(
            series_fingerprint("R10", cur.kpi, cur.cycle_kind, cur.breakdown),
            lambda: self._new_series_alert("deterioration", "R10", k, cur, facts, hist, None),
        )
        if not hist:
            self._deliver(det)

    def _policy(self, k: KpiDef) -> Policy | None:
        if k.escalation_policy is None:
            return None
        return self.config.policies.get(k.escalation_policy)

    def _historical(self, cur: CycleResult) -> bool:
        return cur.closed_on < local_date(self.now) - timedelta(days=self.horizon_days)

    def _series_facts(
        self, k: KpiDef, policy: Policy | None, results: list[CycleResult]
    ) -> dict[str, Any]:
        start = self.dictionary.plan_year_start_month
        return {
            "kpi_name": k.name,
            "kpi_ref": k.ref,
            "unit": k.unit,
            "owner": k.owner,
            "workstream": k.workstream,
            "cycle_noun": cycles.noun(results[-1].cycle_kind),
            "escalation_rule": policy.rule if policy else "R11",
            "cycles": [r.fact(cycles.describe(r.cycle, start)) for r in results],
        }

    def _new_series_alert(
        self,
        kind: AlertKind,
        rule: str,
        k: KpiDef,
        cur: CycleResult,
        facts: dict[str, Any],
        hist: bool,
        policy: Policy | None,
    ) -> Alert:
        family = "ESC" if kind == "escalation" else "R10"
        fp = series_fingerprint(family, cur.kpi, cur.cycle_kind, cur.breakdown)
        start = self.dictionary.plan_year_start_month
        noun = cycles.noun(cur.cycle_kind)
        if kind == "escalation":
            title = f"{k.name}: missed its goal in two consecutive {noun}s"
        else:
            title = (
                f"{k.name}: missed its goal in {cycles.describe(cur.cycle, start)} (deterioration)"
            )
        a = Alert(
            id=alert_id(fp),
            fingerprint=fp,
            rule=rule,
            kind=kind,
            kpi=cur.kpi,
            cycle_kind=cur.cycle_kind,
            breakdown=cur.breakdown,
            cycle=cur.cycle,
            title=title,
            opened_at=self.now,
            updated_at=self.now,
            historical=hist,
            policy_name=k.escalation_policy if policy is not None else None,
            policy=policy,
            facts=facts,
        )
        if kind == "deterioration":
            a.follow_up_due = cycles.bounds(cycles.following(cur.cycle, start), start)[1]
        return a

    def _raise(self, fingerprint: str, make: Callable[[], Alert]) -> Alert:
        """Open a new alert, or a new episode of a resolved one (a re-trigger)."""
        aid = alert_id(fingerprint)
        old = self.get(aid)
        a = make()
        if old is not None:
            a.episode = old.episode + 1
        self._touch(a)
        self.fired.append(a.rule)
        if old is None:
            self._log(a, "opened", f"Alert raised under rule {a.rule}: {a.title}.")
        else:
            self._log(
                a,
                "retriggered",
                f"Alert raised again under rule {a.rule} (episode {a.episode}; the "
                f"escalation starts again from the first level): {a.title}.",
            )
        if a.historical:
            self._log(
                a,
                "historical",
                f"Historical: the cycle closed more than {self.horizon_days} days before "
                "now, so nobody is notified.",
            )
        return a

    def _also_missed(
        self, a: Alert, cur: CycleResult, facts: dict[str, Any], restated: bool
    ) -> None:
        if a.cycle == cur.cycle and not restated:
            return
        k = self.dictionary.kpis[cur.kpi]
        start = self.dictionary.plan_year_start_month
        label = cycles.describe(cur.cycle, start)
        a.cycle = cur.cycle
        a.facts = {**a.facts, **facts}
        if a.kind == "deterioration":
            a.follow_up_due = cycles.bounds(cycles.following(cur.cycle, start), start)[1]
        self._touch(a)
        what = (
            f"re-evaluated after a late event restated a closed cycle (revision {cur.revision})"
            if restated
            else "closed"
        )
        self._log(
            a,
            "cycle_missed",
            f"{label} {what}: {fmt_value(cur.value, k.unit)} against the {cur.goal_label} "
            f"of {fmt_value(cur.goal, k.unit)}; still missed.",
            detail=cur.fact(label),
        )

    def _go_live(self, a: Alert) -> None:
        a.historical = False
        self._touch(a)
        self._log(a, "current", "A cycle within the horizon is also missed: the alert is live.")
        if a.kind == "escalation":
            self._start_chain(a)
        else:
            self._deliver(a)

    def _supersede(self, det: Alert, esc: Alert) -> None:
        det.status = "superseded"
        det.resolved_at = self.now
        det.resolution = f"escalated under rule {esc.rule} as alert {esc.id}"
        self._touch(det)
        self._log(
            det,
            "superseded",
            f"The follow-up cycle also missed the goal: escalated under rule {esc.rule} "
            f"as alert {esc.id}.",
            detail={"escalation_alert": esc.id},
        )

    # --- inputs: milestones ----------------------------------------------------------

    def milestone(self, m: MilestoneInput) -> None:
        if m.kind not in self.config.milestones.record:
            return
        fp = milestone_fingerprint(m.case, m.milestone, m.kind)
        if self.get(alert_id(fp)) is not None:
            return  # already recorded (a replay or a duplicate)
        k = self.dictionary.kpis.get(m.kpi)
        policy = self._policy(k) if k is not None else None
        hist = local_date(m.at) < local_date(self.now) - timedelta(days=self.horizon_days)
        rule = "MS1" if m.kind == "slipped" else "MS2"
        what = "slipped" if m.kind == "slipped" else "early warning"
        facts: dict[str, Any] = {
            "kpi_name": k.name if k else m.kpi,
            "kpi_ref": k.ref if k else None,
            "unit": k.unit if k else "percent",
            "owner": k.owner if k else None,
            "workstream": k.workstream if k else None,
            "milestone": m.milestone,
            "milestone_kind": m.kind,
            "case": m.case,
            "start": m.start.isoformat(),
            "due": m.due.isoformat(),
            "on": local_date(m.at).isoformat(),
            "day": m.day,
            "locality": m.locality,
            "age_band": m.age_band,
            "event_id": m.event_id,
        }
        if k is not None and k.workstream in self.config.milestones.workstream_owners:
            facts["routed_to"] = ", ".join(
                r.name or r.address for r in self.config.milestones.workstream_owners[k.workstream]
            )
        routed = k is not None and k.workstream in self.config.milestones.workstream_owners
        notify = (
            m.kind in self.config.milestones.notify and (policy is not None or routed) and not hist
        )
        a = self._raise(
            fp,
            lambda: Alert(
                id=alert_id(fp),
                fingerprint=fp,
                rule=rule,
                kind="milestone",
                kpi=m.kpi,
                cycle_kind="current",
                breakdown=f"locality={m.locality}",
                cycle=None,
                title=f"{m.milestone.replace('_', ' ')} {what} for case {m.case}",
                opened_at=self.now,
                updated_at=self.now,
                historical=hist,
                policy_name=k.escalation_policy if k and policy else None,
                policy=policy,
                level=1 if notify else 0,
                level_at=self.now if notify else None,
                facts=facts,
            ),
        )
        if notify:
            self._deliver(a)

    # --- escalation ------------------------------------------------------------------

    def _start_chain(self, a: Alert) -> None:
        a.level = 1
        a.level_at = self.now
        self._touch(a)
        assert a.policy is not None
        self._log(
            a,
            "level",
            f"Escalation level 1 of {len(a.policy.levels)}: {a.policy.levels[0].body}.",
            level=1,
        )
        self._deliver(a)

    def advance(self, alert_ids: Iterable[str] = ()) -> None:
        """Re-evaluate pending steps: escalations due, muted notifications whose silence
        has ended, recovery plans now overdue."""
        for aid in sorted(set(alert_ids) | {i for i, a in self.alerts.items() if a.is_open}):
            a = self.get(aid)
            if a is None or not a.is_open or a.historical:
                continue
            if a.level_muted and a.status == "open" and self._silence_for(a) is None:
                self._log(a, "unmuted", "The silence has ended: notifications resume.")
                a.level_at = self.now
                self._touch(a)
                self._deliver(a)
            while (due := a.next_escalation_at()) is not None and due <= self.now:
                assert a.policy is not None
                prev = a.policy.levels[a.level - 1]
                a.level += 1
                a.level_at = due
                self._touch(a)
                nxt = a.policy.levels[a.level - 1]
                self._log(
                    a,
                    "level",
                    f"Escalation level {a.level} of {len(a.policy.levels)}: {nxt.body} "
                    f"(nobody acknowledged within {prev.escalate_after_days:g} days of "
                    f"notifying {prev.body}).",
                    level=a.level,
                )
                self._deliver(a)
            overdue = a.plan_overdue_from()
            if overdue is not None and overdue <= self.now:
                self._raise_overdue(a)

    def _recipients(self, a: Alert) -> list[tuple[int, Recipient]]:
        if a.kind == "deterioration":
            return [(0, r) for r in self.config.owners.get(str(a.facts.get("owner")), [])]
        if a.kind == "milestone":
            owners = self.config.milestones.workstream_owners.get(str(a.facts.get("workstream")))
            if owners:
                return [(1, r) for r in owners]
        if a.policy is None or a.level < 1:
            return []
        levels = a.policy.levels
        out = [(a.level, r) for r in levels[a.level - 1].recipients]
        if a.kind == "overdue" and a.level < len(levels):
            rule = levels[a.level - 1].requires_recovery_plan
            if rule is None or rule.notify_next_level_when_overdue:
                out += [(a.level + 1, r) for r in levels[a.level].recipients]
        return out

    def _silence_for(self, a: Alert) -> Silence | None:
        for s in self.silences:
            if s.mutes(a.kpi, a.breakdown, self.now):
                return s
        return None

    def _deliver(self, a: Alert) -> None:
        """Notify the recipients of the alert's current level (once each per episode),
        unless a silence mutes them: then the level waits for the silence to end."""
        recipients = self._recipients(a)
        if not recipients:
            self._log(
                a,
                "no_recipients",
                "Recorded only: no address is configured for "
                + (
                    f"the owner {a.facts.get('owner')!r}."
                    if a.kind == "deterioration"
                    else "this level."
                ),
            )
            return
        silence = self._silence_for(a)
        if silence is not None:
            a.level_muted = True
            self._touch(a)
            for level, r in recipients:
                self._log(
                    a,
                    "notification_muted",
                    f"Notification to {r.address} muted by silence {silence.id} until "
                    f"{silence.until.isoformat()} ({silence.reason}).",
                    channel=r.channel,
                    recipient=r.address,
                    outcome="muted",
                    level=level,
                    detail={"silence": silence.id},
                )
            return
        a.level_muted = False
        if a.kind == "escalation":
            self._require_plan(a)
        self._send(a, recipients, "alert")

    def _require_plan(self, a: Alert) -> None:
        assert a.policy is not None
        rule = a.policy.levels[a.level - 1].requires_recovery_plan
        if rule is None or a.plan_due is not None or a.plan_recorded_at is not None:
            return
        asked_on = local_date(a.level_at or self.now)
        a.plan_due = add_working_days(asked_on, rule.working_days)
        a.plan_asked_on = asked_on
        a.plan_level = a.level
        a.plan_document = rule.document
        self._touch(a)
        self._log(
            a,
            "plan_due",
            f"{an(rule.document)} {rule.document} is required from "
            f"{a.policy.levels[a.level - 1].body}, due "
            f"by {a.plan_due.isoformat()} ({rule.working_days} working days from "
            f"{asked_on.isoformat()}, bank holidays excluded).",
            level=a.level,
            detail={"due": a.plan_due.isoformat(), "working_days": rule.working_days},
        )

    def _send(self, a: Alert, recipients: list[tuple[int, Recipient]], notice: Notice) -> None:
        for level, r in recipients:
            sent = Sent(level, r.channel, r.address, notice)
            if sent in a.notified:
                continue  # each level notifies a recipient at most once per episode
            text = render(a, notice, level, self.now, self.base_url)
            self.outbox.append(
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
                    decided_at=self.now,
                )
            )
            a.notified.append(sent)
            self._touch(a)
            self._log(
                a,
                "notification_queued",
                f"{'Resolved notice' if notice == 'resolved' else 'Notification'} queued "
                f"for {r.address} by {r.channel}.",
                channel=r.channel,
                recipient=r.address,
                outcome="queued",
                level=level,
            )

    def _raise_overdue(self, parent: Alert) -> None:
        assert parent.policy is not None and parent.plan_level is not None
        assert parent.plan_due is not None
        parent.plan_overdue_at = self.now
        self._touch(parent)
        level = parent.policy.levels[parent.plan_level - 1]
        rule = level.requires_recovery_plan
        fp = overdue_fingerprint(parent.id, parent.episode)
        facts = {
            "kpi_name": parent.facts.get("kpi_name"),
            "kpi_ref": parent.facts.get("kpi_ref"),
            "unit": parent.facts.get("unit"),
            "owner": parent.facts.get("owner"),
            "document": parent.plan_document,
            "plan_due": parent.plan_due.isoformat(),
            "working_days": rule.working_days if rule else None,
            "asked_of": level.body,
            "asked_on": parent.plan_asked_on.isoformat() if parent.plan_asked_on else None,
            "parent_id": parent.id,
            "parent_rule": parent.rule,
            "parent_title": parent.title,
            "parent_episode": parent.episode,
        }
        child = self._raise(
            fp,
            lambda: Alert(
                id=alert_id(fp),
                fingerprint=fp,
                rule="R1",
                kind="overdue",
                kpi=parent.kpi,
                cycle_kind=parent.cycle_kind,
                breakdown=parent.breakdown,
                cycle=parent.cycle,
                title=f"{parent.plan_document} overdue: {parent.facts.get('kpi_name')}",
                opened_at=self.now,
                updated_at=self.now,
                policy_name=parent.policy_name,
                policy=parent.policy,
                level=parent.plan_level or 1,
                level_at=self.now,
                parent_id=parent.id,
                facts=facts,
            ),
        )
        self._log(
            parent,
            "plan_overdue",
            f"The {parent.plan_document} due by {parent.plan_due.isoformat()} has not been "
            f"recorded: overdue alert {child.id} raised (rule R1).",
            detail={"overdue_alert": child.id},
        )
        self._deliver(child)

    # --- resolution ------------------------------------------------------------------

    def _resolve(self, a: Alert, reason: str) -> None:
        pending = a.next_escalation_at()
        a.status = "resolved"
        a.resolved_at = self.now
        a.resolution = reason
        self._touch(a)
        self._log(a, "resolved", f"Resolved: {reason}.")
        if pending is not None and a.policy is not None:
            self._log(
                a,
                "escalation_cancelled",
                f"Pending escalation to {a.policy.levels[a.level].body} (due "
                f"{pending.isoformat()}) cancelled.",
                level=a.level + 1,
            )
        if a.plan_due is not None and a.plan_recorded_at is None and a.plan_overdue_at is None:
            self._log(a, "plan_cancelled", f"The {a.plan_document} is no longer required.")
        child = self.get(alert_id(overdue_fingerprint(a.id, a.episode)))
        if child is not None and child.is_open:
            self._resolve(child, f"the escalation alert {a.id} has resolved")
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
        silence = self._silence_for(a)
        if silence is not None:
            for _, r in recipients:
                self._log(
                    a,
                    "notification_muted",
                    f"Resolved notice to {r.address} muted by silence {silence.id}.",
                    channel=r.channel,
                    recipient=r.address,
                    outcome="muted",
                    detail={"silence": silence.id},
                )
            return
        self._send(a, recipients, "resolved")

    # --- inputs: people --------------------------------------------------------------

    def acknowledge(self, aid: str, actor: str, note: str | None = None) -> Alert:
        a = self.get(aid)
        if a is None:
            raise AlertNotFound(aid)
        if a.status == "acknowledged":
            raise Conflict(f"already acknowledged by {a.acked_by} at {a.acked_at}")
        if not a.is_open:
            raise Conflict(f"the alert is {a.status}")
        pending = a.next_escalation_at()
        a.status = "acknowledged"
        a.acked_by = actor
        a.acked_at = self.now
        a.ack_note = note
        self._touch(a)
        self._log(
            a,
            "acknowledged",
            f"Acknowledged by {actor}" + (f": {note}" if note else "."),
            actor=actor,
            level=a.level,
        )
        if pending is not None and a.policy is not None:
            self._log(
                a,
                "escalation_cancelled",
                f"The escalation chain stops: {a.policy.levels[a.level].body} will not be "
                f"notified (was due {pending.isoformat()}).",
                actor=actor,
                level=a.level + 1,
            )
        return a

    def record_plan(self, aid: str, plan: RecoveryPlan) -> Alert:
        a = self.get(aid)
        if a is None:
            raise AlertNotFound(aid)
        if a.kind == "overdue" and a.parent_id:
            parent = self.get(a.parent_id)
            if parent is None:
                raise AlertNotFound(a.parent_id)
            a = parent
        if not a.is_open:
            raise Conflict(f"the alert is {a.status}")
        a.plan_recorded_at = self.now
        self._touch(a)
        late = ""
        if a.plan_due is not None and local_date(self.now) > a.plan_due:
            late = f" ({(local_date(self.now) - a.plan_due).days} days after it was due)"
        self._log(
            a,
            "plan_recorded",
            f"{(a.plan_document or 'Recovery plan').capitalize()} recorded by "
            f"{plan.recorded_by}{late}: {plan.summary} ({len(plan.actions)} actions).",
            actor=plan.recorded_by,
            detail={
                "summary": plan.summary,
                "actions": [
                    {"action": x.action, "owner": x.owner, "due": x.due.isoformat()}
                    for x in plan.actions
                ],
            },
        )
        child = self.get(alert_id(overdue_fingerprint(a.id, a.episode)))
        if child is not None and child.is_open:
            self._resolve(
                child,
                f"the {a.plan_document or 'recovery plan'} was recorded by {plan.recorded_by}",
            )
        return a

    def silence_created(self, s: Silence) -> None:
        scope = " / ".join(x for x in (s.kpi, s.breakdown) if x)
        self.audit.append(
            AuditEntry(
                alert_id=None,
                episode=None,
                at=self.now,
                kind="silence_created",
                message=f"Silence {s.id} on {scope} until {s.until.isoformat()} by "
                f"{s.created_by}: {s.reason}",
                actor=s.created_by,
                detail={"silence": s.id, "kpi": s.kpi, "breakdown": s.breakdown},
            )
        )

    # --- scheduling ------------------------------------------------------------------

    def _next_check(self, a: Alert) -> datetime | None:
        if not a.is_open or a.historical:
            return None
        times: list[datetime] = []
        if a.level_muted and a.status == "open":
            s = self._silence_for(a)
            times.append(s.until if s is not None else self.now)
        for t in (a.next_escalation_at(), a.plan_overdue_from()):
            if t is not None:
                times.append(t)
        return min(times) if times else None
