"""The alert rules, in event time (each alert carries its rule id).

- R10: a closed cycle misses its goal and the cycle before did not: deterioration alert
  to the named accountable owner, follow-up due at the end of the next cycle; never
  escalates.
- R11 / R5 (the KPI policy's ``rule``): two consecutive closed cycles miss: escalation
  alert, level 1 of the policy (see ``escalation.py``).  The open R10 alert is
  superseded.  An acknowledged escalation whose series keeps missing moves on.
- Recovery: a closed cycle that meets its goal resolves the open R10 / R11 / R5 alert,
  cancels what was pending and sends a resolved notice to everyone notified.
- MS1 / MS2: milestone slipped / early warning from the statutory clocks: exception
  alert to the workstream's owner, else level 1 of the KPI's policy (early warnings
  notify only if configured).

Every KPI is judged the same way, whatever its unit and direction, against the goal
its value carries (``CycleResult.verdict``); no rule names a KPI.  Alerts about cycles
that closed before now - horizon are historical and notify nobody.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from contracts import cycles
from contracts.escalation import Policy
from contracts.kpi_dictionary import KpiDef
from services.alerts.domain import audit
from services.alerts.domain.escalation import Chain
from services.alerts.domain.ids import (
    alert_id,
    deterioration_id,
    escalation_id,
    milestone_fingerprint,
    series_fingerprint,
)
from services.alerts.domain.ledger import Ledger
from services.alerts.domain.model import Alert, AlertKind, CycleResult, MilestoneInput, local_date


@dataclass
class Rules:
    ledger: Ledger
    chain: Chain

    # --- closed cycles ---------------------------------------------------------------

    def closed_cycle(
        self, cur: CycleResult, prev: CycleResult | None, *, restated: bool = False
    ) -> None:
        """Apply the R10 / R11 / R5 / recovery rules to the latest closed cycle of a series
        (``prev`` is the cycle immediately before it, if it has a value)."""
        led = self.ledger
        k = led.dictionary.kpis.get(cur.kpi)
        if k is None:
            return
        verdict = cur.verdict(led.config.min_denominator)
        det = led.get(deterioration_id(cur.kpi, cur.cycle_kind, cur.breakdown))
        esc = led.get(escalation_id(cur.kpi, cur.cycle_kind, cur.breakdown))
        label = cycles.describe(cur.cycle, led.start_month)
        if verdict == "no_data":
            return
        if verdict == "met":
            for a in (esc, det):
                if a is not None and a.is_open:
                    a.facts = {**a.facts, "recovered": cur.fact(label)}
                    self.chain.resolve(a, audit.met_goal(label, cur))
            return
        hist = led.is_historical(cur.closed_on)
        policy = led.policy(k)
        missed_before = prev is not None and prev.verdict(led.config.min_denominator) == "missed"
        if missed_before and policy is not None and prev is not None:
            facts = self._series_facts(k, policy, [prev, cur])
            if esc is not None and esc.is_open:
                self._also_missed(esc, cur, facts, restated, hist)
            else:
                esc = led.raise_alert(
                    series_fingerprint("ESC", cur.kpi, cur.cycle_kind, cur.breakdown),
                    lambda: self._new_series_alert("escalation", policy.rule, k, cur, facts, hist),
                )
                if not hist:
                    self.chain.start(esc)
            if det is not None and det.is_open:
                self._supersede(det, esc)
            return
        facts = self._series_facts(k, policy, [cur])
        for a in (esc, det):
            if a is not None and a.is_open:
                kept = [c for c in a.facts.get("cycles", []) if c.get("cycle") != cur.cycle]
                if a.kind == "escalation":  # keep the two latest missed cycles
                    facts["cycles"] = (kept + facts["cycles"])[-2:]
                self._also_missed(a, cur, {**a.facts, "cycles": facts["cycles"]}, restated, hist)
                return
        det = led.raise_alert(
            series_fingerprint("R10", cur.kpi, cur.cycle_kind, cur.breakdown),
            lambda: self._new_series_alert("deterioration", "R10", k, cur, facts, hist),
        )
        if not hist:
            self.chain.deliver(det)

    def _series_facts(
        self, k: KpiDef, policy: Policy | None, results: list[CycleResult]
    ) -> dict[str, Any]:
        cur = results[-1]
        return {
            "kpi_name": k.name,
            "kpi_ref": k.ref,
            "unit": cur.unit,
            "direction": cur.direction,
            "owner": k.owner,
            "workstream": k.workstream,
            "cycle_noun": cycles.noun(cur.cycle_kind),
            "escalation_rule": policy.rule if policy else "R11",
            "cycles": [r.fact(cycles.describe(r.cycle, self.ledger.start_month)) for r in results],
        }

    def _new_series_alert(
        self,
        kind: AlertKind,
        rule: str,
        k: KpiDef,
        cur: CycleResult,
        facts: dict[str, Any],
        hist: bool,
    ) -> Alert:
        led = self.ledger
        family = "ESC" if kind == "escalation" else "R10"
        fp = series_fingerprint(family, cur.kpi, cur.cycle_kind, cur.breakdown)
        start = led.start_month
        if kind == "escalation":
            title = f"{k.name}: missed its goal in two consecutive {cycles.noun(cur.cycle_kind)}s"
            policy = led.policy(k)
        else:
            title = f"{k.name}: missed its goal in {cycles.describe(cur.cycle, start)} " + (
                "(deterioration)"
            )
            policy = None
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
            opened_at=led.now,
            updated_at=led.now,
            historical=hist,
            policy_name=k.escalation_policy if policy is not None else None,
            policy=policy,
            facts=facts,
        )
        if kind == "deterioration":
            a.follow_up_due = cycles.bounds(cycles.following(cur.cycle, start), start)[1]
        return a

    def _also_missed(
        self, a: Alert, cur: CycleResult, facts: dict[str, Any], restated: bool, hist: bool
    ) -> None:
        """A further missed cycle for an open alert: record it, make a historical alert
        live if this cycle is recent, and let an acknowledged escalation move on."""
        if a.cycle == cur.cycle and not restated:
            return
        led = self.ledger
        label = cycles.describe(cur.cycle, led.start_month)
        a.cycle = cur.cycle
        a.facts = {**a.facts, **facts}
        if a.kind == "deterioration":
            start = led.start_month
            a.follow_up_due = cycles.bounds(cycles.following(cur.cycle, start), start)[1]
        led.touch(a)
        led.log(a, "cycle_missed", audit.cycle_missed(label, cur, restated), detail=cur.fact(label))
        if a.historical and not hist:
            a.historical = False
            led.touch(a)
            led.log(a, "current", audit.LIVE)
            if a.kind == "escalation":
                self.chain.start(a)
            else:
                self.chain.deliver(a)
        elif not hist:
            self.chain.still_missed(a, cur.cycle, label)

    def _supersede(self, det: Alert, esc: Alert) -> None:
        led = self.ledger
        det.status = "superseded"
        det.resolved_at = led.now
        det.resolution = audit.supersession(esc)
        led.touch(det)
        led.log(det, "superseded", audit.superseded(esc), detail={"escalation_alert": esc.id})

    # --- milestones ------------------------------------------------------------------

    def milestone(self, m: MilestoneInput) -> None:
        led = self.ledger
        settings = led.config.milestones
        if m.kind not in settings.record:
            return
        fp = milestone_fingerprint(m.case, m.milestone, m.kind)
        if led.get(alert_id(fp)) is not None:
            return  # already recorded (a replay or a duplicate)
        k = led.dictionary.kpis.get(m.kpi)
        policy = led.policy(k)
        hist = led.is_historical(local_date(m.at))
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
        routed = k is not None and k.workstream in settings.workstream_owners
        if k is not None and routed:
            facts["routed_to"] = ", ".join(
                r.name or r.address for r in settings.workstream_owners[k.workstream]
            )
        notify = m.kind in settings.notify and (policy is not None or routed) and not hist
        a = led.raise_alert(
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
                opened_at=led.now,
                updated_at=led.now,
                historical=hist,
                policy_name=k.escalation_policy if k and policy else None,
                policy=policy,
                level=1 if notify else 0,
                level_at=led.now if notify else None,
                facts=facts,
            ),
        )
        if notify:
            self.chain.deliver(a)
